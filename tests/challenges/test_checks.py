"""run_challenge_tests: a copy of the workspace, the chosen tests, a minimal environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prequel.challenges.checks import TestCommandError, run_challenge_tests
from tests.challenges.builders import write_challenge


def test_solution_passes_and_starter_fails(tmp_path: Path) -> None:
    root = write_challenge(tmp_path / "c")
    solved = run_challenge_tests(root, "hidden", use_solution=True)
    assert solved.passed and solved.exit_code == 0
    assert [r.name for r in solved.results] == ["tests.test_reverse_hidden.test_reverse"]
    starter = run_challenge_tests(root, "visible", use_solution=False)
    assert not starter.passed and starter.exit_code == 1
    assert starter.results[0].outcome == "failed"
    assert "NotImplementedError" in (starter.results[0].message or "")
    assert not list(root.rglob("__pycache__"))  # the challenge folder itself is untouched


def test_the_environment_is_minimal_and_tests_live_outside_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREQUEL_SECRET_KEY", "must-not-leak")
    root = write_challenge(tmp_path / "c")
    (root / "tests" / "visible" / "test_env.py").write_text(
        "import os\nfrom pathlib import Path\n\n\n"
        "def test_env():\n"
        "    assert 'PREQUEL_SECRET_KEY' not in os.environ\n"
        "    assert os.environ['PYTHONDONTWRITEBYTECODE'] == '1'\n"
        "    assert Path(os.environ['HOME']).is_dir()\n"
        f"    assert os.environ['HOME'] != {str(Path.home())!r}\n"
        "    assert not Path(__file__).resolve().is_relative_to(Path.cwd().resolve())\n"
        "    assert (Path.cwd() / 'reverse.py').is_file()\n"
    )
    run = run_challenge_tests(root, "visible", use_solution=True)
    assert run.passed, run.stdout + run.stderr
    assert os.environ["PREQUEL_SECRET_KEY"] == "must-not-leak"


def test_tap_from_the_report_file_and_timeouts(tmp_path: Path) -> None:
    root = write_challenge(tmp_path / "c")
    manifest = root / "challenge.toml"
    script = (
        "import sys; print('ok 9 - printed, not reported');"
        "open(sys.argv[2], 'w').write('TAP version 13\\\\nok 1 - from the report\\\\n1..1\\\\n')"
    )
    text = manifest.read_text().replace(
        'command = "python -m pytest -q --junitxml={report} {tests}"',
        f'command = "python -c \\"{script}\\" {{tests}} {{report}}"',
    )
    manifest.write_text(text.replace('format = "junit"', 'format = "tap"'))
    run = run_challenge_tests(root, "visible", use_solution=False)
    assert [(r.name, r.outcome) for r in run.results] == [("from the report", "passed")]

    manifest.write_text(
        text.replace(script, "import time; time.sleep(30)").replace('"junit"', '"tap"')
    )
    slow = run_challenge_tests(root, "visible", use_solution=False, timeout_seconds=0.5)
    assert slow.timed_out and slow.exit_code is None and slow.results == []


def test_a_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    root = write_challenge(tmp_path / "c")
    manifest = root / "challenge.toml"
    manifest.write_text(manifest.read_text().replace("python -m pytest", "no-such-test-runner-xyz"))
    with pytest.raises(TestCommandError, match="no-such-test-runner-xyz"):
        run_challenge_tests(root, "visible", use_solution=False)
