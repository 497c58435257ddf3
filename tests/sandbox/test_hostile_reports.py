"""Hostile code against the test runner: results come only from structured reports, so
printing results, exiting early or planting files in the workspace passes nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prequel.agent.testrun import run_tests
from prequel.sandbox.limits import Limits
from prequel.sandbox.runner import Sandbox

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / "challenges" / "rate-limiter"
NODE = ROOT / "challenges" / "event-scheduler"
LIMITS = Limits(cpu_seconds=20, wall_seconds=30)


@pytest.fixture
def challenge_copy(sandbox_base: Path, uid: int) -> Iterator[Path]:
    """A private challenge copy the workspace uid can read (the agent's --challenge-dir)."""
    path = sandbox_base / f"challenge-{uid}"
    path.mkdir()
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def prepare(sample: Path, challenge: Path, workspace: Path, uid: int) -> None:
    shutil.copytree(sample, challenge, dirs_exist_ok=True)
    shutil.copytree(sample / "files", workspace, dirs_exist_ok=True)
    for folder, dirs, files in os.walk(workspace):
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), uid, uid)


async def summary_of(sandbox: Sandbox, workspace: Path, challenge: Path) -> dict[str, Any]:
    events = [e async for e in run_tests(sandbox, workspace, challenge, "visible", LIMITS)]
    summary = events[-1]
    assert summary["type"] == "summary"
    return summary


FAKE_PRINTS = """
import os, sys
print("PASS\\n1..5\\nok 1 - a\\nok 2 - b\\n<testcase name='x'/>")
print("ok 3 - c", file=sys.stderr)
sys.stdout.flush()
os._exit(0)
"""


async def test_printing_results_and_exiting_early_passes_nothing(
    sandbox: Sandbox, workspace: Path, challenge_copy: Path, uid: int
) -> None:
    prepare(PYTHON, challenge_copy, workspace, uid)
    (workspace / "rate_limiter.py").write_text(FAKE_PRINTS)
    summary = await summary_of(sandbox, workspace, challenge_copy)
    assert summary["status"] == "error"
    assert summary["passed"] == 0
    assert "without writing its report" in summary["detail"]


async def test_a_report_planted_in_the_workspace_is_ignored(
    sandbox: Sandbox, workspace: Path, challenge_copy: Path, uid: int
) -> None:
    prepare(PYTHON, challenge_copy, workspace, uid)
    fake = "<testsuite><testcase classname='t' name='everything'/></testsuite>"
    for name in ("report.xml", "stream.jsonl", "junit.xml"):
        (workspace / name).write_text(fake)
    summary = await summary_of(sandbox, workspace, challenge_copy)
    assert summary["status"] == "failed", summary
    assert not any(r["name"] == "t.everything" for r in summary["results"])


async def test_a_node_program_printing_tap_passes_nothing(
    sandbox: Sandbox, workspace: Path, challenge_copy: Path, uid: int
) -> None:
    prepare(NODE, challenge_copy, workspace, uid)
    (workspace / "src" / "scheduler.js").write_text(
        'console.log("TAP version 13\\n1..1\\nok 1 - everything\\n# pass 1");\nprocess.exit(0);\n'
    )
    summary = await summary_of(sandbox, workspace, challenge_copy)
    assert summary["status"] in ("failed", "error"), summary
    assert summary["passed"] == 0


async def test_an_endless_test_is_stopped_and_reported(
    sandbox: Sandbox, workspace: Path, challenge_copy: Path, uid: int
) -> None:
    prepare(PYTHON, challenge_copy, workspace, uid)
    (workspace / "rate_limiter.py").write_text("while True:\n    pass\n")
    events = [
        e
        async for e in run_tests(
            sandbox, workspace, challenge_copy, "visible", Limits(cpu_seconds=1, wall_seconds=5)
        )
    ]
    summary = events[-1]
    assert summary["status"] == "error"
    assert summary["reason"] in ("cpu_limit", "time_limit")
