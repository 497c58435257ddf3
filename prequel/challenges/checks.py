"""Run a challenge folder's own tests against its starter files or its reference solution.

This is for the people who write challenges and for Prequel's own test suite, which checks
that every shipped challenge's solution passes and its starter files do not. It runs the test
command as a plain subprocess on this machine, with the challenge author's trust. Candidate
code never runs through here: it runs only inside a workspace sandbox (a later issue).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prequel.challenges.manifest import (
    FILES_DIR,
    HIDDEN_TESTS_DIR,
    IGNORED_NAMES,
    IGNORED_SUFFIXES,
    SOLUTION_DIR,
    VISIBLE_TESTS_DIR,
    command_argv,
    load_challenge_dir,
)
from prequel.challenges.results import MAX_REPORT_CHARS, TestResult, parse_junit, parse_tap

MAX_OUTPUT_CHARS = 1024 * 1024
_IGNORE = shutil.ignore_patterns(*IGNORED_NAMES, *(f"*{suffix}" for suffix in IGNORED_SUFFIXES))


class TestCommandError(RuntimeError):
    """The test command could not be started at all."""

    __test__ = False  # not a pytest test class, whatever its name


@dataclass(frozen=True)
class TestRun:
    __test__ = False  # not a pytest test class, whatever its name

    results: list[TestResult]
    exit_code: int | None  # None when the run was killed at the timeout
    stdout: str
    stderr: str
    timed_out: bool = False
    duration_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """At least one result, and every result passed."""
        return bool(self.results) and all(r.outcome == "passed" for r in self.results)


def _decode(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + "\n… (truncated)"


def minimal_env(home: Path) -> dict[str, str]:
    """PATH, HOME, LANG and no bytecode files; nothing else leaks from the caller.

    PATH starts with the folder of the running interpreter, so "python" in a test command
    is the Python that runs Prequel (with pytest installed) rather than whatever else is on
    PATH. pytest plugins installed next to Prequel (hypothesis, playwright...) are not part
    of any challenge environment, so they are not auto-loaded; a challenge that needs a
    plugin names it in tests.command ("-p anyio")."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    return {
        "PATH": path,
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def _run(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[int | None, bytes, bytes, bool]:
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so a timeout kills every child
        )
    except FileNotFoundError as exc:
        raise TestCommandError(f"test command {argv[0]!r} was not found on PATH") from exc
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        return process.returncode, stdout, stderr, False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return None, stdout, stderr, True


def run_challenge_tests(
    challenge_dir: Path,
    which: Literal["visible", "hidden"],
    *,
    use_solution: bool,
    timeout_seconds: float = 120.0,
) -> TestRun:
    """Copy files/ (with solution/ laid over it when use_solution) to a temporary workspace,
    copy the chosen tests to a folder outside it, run tests.command there and parse the
    report (junit: the {report} file; tap: the {report} file if the command names one,
    else stdout)."""
    challenge = load_challenge_dir(challenge_dir)
    manifest = challenge.manifest
    tests_source = challenge.root / (VISIBLE_TESTS_DIR if which == "visible" else HIDDEN_TESTS_DIR)
    with tempfile.TemporaryDirectory(prefix="prequel-check-") as tmp:
        base = Path(tmp)
        workspace, tests_dir, home, report_dir = (
            base / name for name in ("workspace", "tests", "home", "report")
        )
        shutil.copytree(challenge.root / FILES_DIR, workspace, ignore=_IGNORE)
        if use_solution:
            shutil.copytree(
                challenge.root / SOLUTION_DIR, workspace, ignore=_IGNORE, dirs_exist_ok=True
            )
        shutil.copytree(tests_source, tests_dir, ignore=_IGNORE)
        home.mkdir()
        report_dir.mkdir()
        report = report_dir / ("report.xml" if manifest.tests.format == "junit" else "report.tap")
        argv = command_argv(manifest.tests.command, tests=str(tests_dir), report=str(report))
        started = time.monotonic()
        exit_code, stdout, stderr, timed_out = _run(
            argv, workspace, minimal_env(home), timeout_seconds
        )
        duration = time.monotonic() - started
        results: list[TestResult] = []
        if manifest.tests.format == "junit":
            if report.is_file():
                results = parse_junit(_read_report(report))
        elif "{report}" in manifest.tests.command:
            if report.is_file():
                results = parse_tap(_read_report(report))
        else:
            results = parse_tap(stdout.decode("utf-8", errors="replace"))
    return TestRun(
        results=results,
        exit_code=exit_code,
        stdout=_decode(stdout),
        stderr=_decode(stderr),
        timed_out=timed_out,
        duration_seconds=duration,
    )


def _read_report(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_REPORT_CHARS + 1)
    return data.decode("utf-8", errors="replace")
