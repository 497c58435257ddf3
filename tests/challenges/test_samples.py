"""Every shipped challenge is valid, its reference solution passes all of its tests, and its
starter files fail at least one hidden test. Each test run happens once per challenge."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path
from typing import Literal

import pytest

from prequel.challenges.checks import TestRun, run_challenge_tests
from prequel.challenges.manifest import load_challenge_dir
from tests.challenges.builders import SAMPLES_DIR

SAMPLES = sorted(path for path in SAMPLES_DIR.iterdir() if (path / "challenge.toml").is_file())


def describe(run: TestRun) -> str:
    lines = [f"{r.outcome}: {r.name}: {r.message or ''}" for r in run.results]
    return "\n".join([*lines, "stdout:", run.stdout[-3000:], "stderr:", run.stderr[-3000:]])


def test_the_samples_cover_python_javascript_and_sql() -> None:
    languages = {load_challenge_dir(path).manifest.language for path in SAMPLES}
    assert {"python", "javascript", "sql"} <= languages


@pytest.fixture(params=SAMPLES, ids=[path.name for path in SAMPLES])
def sample(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    command = load_challenge_dir(path).manifest.tests.command
    program = shlex.split(command)[0]
    if program != "python" and shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    return path


def test_loads_without_problems(sample: Path) -> None:
    challenge = load_challenge_dir(sample)
    assert challenge.manifest.slug == sample.name
    assert challenge.statement.strip()
    assert not set(challenge.public_files) & {*challenge.hidden_tests, *challenge.solution_files}


@pytest.mark.parametrize(("which", "least", "most"), [("visible", 3, 6), ("hidden", 4, 10)])
def test_reference_solution_passes_every_test(
    sample: Path, which: Literal["visible", "hidden"], least: int, most: int
) -> None:
    run = run_challenge_tests(sample, which, use_solution=True)
    assert not run.timed_out
    assert least <= len(run.results) <= most, describe(run)
    assert all(r.outcome == "passed" for r in run.results), describe(run)
    assert run.exit_code == 0, describe(run)


def test_starter_files_run_but_fail_a_hidden_test(sample: Path) -> None:
    run = run_challenge_tests(sample, "hidden", use_solution=False)
    assert not run.timed_out
    assert run.results, describe(run)  # the tests ran and reported, they did not crash
    assert any(r.outcome == "failed" for r in run.results), describe(run)
