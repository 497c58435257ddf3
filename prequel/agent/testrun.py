"""Run a challenge's visible or hidden tests in the sandbox and stream one result per test.

Results come only from structured reports written outside the candidate's workspace: a
JSON line per test from the prequel_stream pytest plugin while the run goes on, then the
JUnit XML (authoritative) at the end; or node's TAP report file, re-read as it grows. What
the code under test prints is kept as output, never read as a result.

Hidden tests run on a throwaway copy of the workspace, so nothing they contain can be left
behind where the candidate could read it, and they are mounted read-only for that run only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
import tomllib
from collections.abc import AsyncGenerator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from prequel.agent.errors import AgentError
from prequel.challenges.layout import (
    HIDDEN_TESTS_DIR,
    MANIFEST_NAME,
    TEST_FORMATS,
    VISIBLE_TESTS_DIR,
    command_argv,
)
from prequel.challenges.results import ReportError, TestResult, parse_junit, parse_tap
from prequel.sandbox.limits import Limits
from prequel.sandbox.outcome import Outcome, StopReason
from prequel.sandbox.ownership import chown_tree
from prequel.sandbox.runner import Sandbox

Which = Literal["visible", "hidden"]

PLUGIN_DIR = Path(__file__).resolve().parent / "sandbox_python"
MOUNT_TESTS = "/run/prequel/tests"
MOUNT_OUT = "/run/prequel/out"
MOUNT_PYTHON = "/run/prequel/python"
POLL_SECONDS = 0.05
MAX_REPORT_BYTES = 20 * 1024 * 1024
OUTPUT_EXCERPT_BYTES = 4000


class TestRunError(AgentError):
    """The tests cannot be run at all (no challenge, bad manifest): a 409 for the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(409, "cannot_test", message)


@dataclass
class StreamedResult:
    name: str
    outcome: str
    duration_seconds: float | None = None
    message: str | None = None
    output: str | None = None

    @classmethod
    def from_result(cls, result: TestResult) -> StreamedResult:
        return cls(result.name, result.outcome, result.duration_seconds, result.message)


@dataclass
class Summary:
    which: Which
    status: str  # "passed" (every test passed), "failed", or "error" (no trustworthy report)
    total: int
    passed: int
    failed: int
    skipped: int
    errors: int
    duration_ms: int
    reason: str
    exit_code: int | None
    detail: str
    stdout: str = ""
    stderr: str = ""
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TestCommand:
    __test__ = False  # not a pytest class

    command: str
    format: str


def load_test_command(challenge_dir: Path) -> TestCommand:
    """The [tests] table. The portal validated the whole challenge when it was imported;
    this reads only what running the tests needs (and no pydantic: see prequel.agent.app)."""
    path = challenge_dir / MANIFEST_NAME
    if not path.is_file():
        raise TestRunError("this workspace has no challenge, so there are no tests to run")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tests", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TestRunError(f"the challenge manifest cannot be read: {exc}") from exc
    command, test_format = table.get("command"), table.get("format")
    if not isinstance(command, str) or not command.strip() or test_format not in TEST_FORMATS:
        raise TestRunError("the challenge manifest has no valid [tests] command and format")
    return TestCommand(command, test_format)


def _read_capped(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_REPORT_BYTES).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


class _ResultTail:
    """New results from a report that grows while the tests run."""

    def __init__(self, path: Path, test_format: str) -> None:
        self.path = path
        self.format = test_format
        self.offset = 0
        self.seen: dict[str, StreamedResult] = {}

    def poll(self) -> list[StreamedResult]:
        if self.format == "junit":
            return self._poll_jsonl()
        return self._poll_tap()

    def _poll_jsonl(self) -> list[StreamedResult]:
        fresh: list[StreamedResult] = []
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read(MAX_REPORT_BYTES)
        except FileNotFoundError:
            return fresh
        complete, _, _partial = chunk.rpartition(b"\n")
        if not complete:
            return fresh
        self.offset += len(complete) + 1
        for line in complete.split(b"\n"):
            with contextlib.suppress(ValueError, TypeError, KeyError):
                record = json.loads(line)
                result = StreamedResult(
                    name=str(record["name"]),
                    outcome=str(record["outcome"]),
                    duration_seconds=record.get("duration_seconds"),
                    message=record.get("message"),
                    output=record.get("output"),
                )
                if result.outcome in ("passed", "failed", "skipped"):
                    fresh.extend(self._remember(result))
        return fresh

    def _poll_tap(self) -> list[StreamedResult]:
        try:
            results = parse_tap(_read_capped(self.path))
        except ReportError:
            return []
        # A still-open TAP stream ends in a plan mismatch "error"; only real points stream.
        finished = [r for r in results if r.outcome != "error"]
        return [s for r in finished for s in self._remember(StreamedResult.from_result(r))]

    def _remember(self, result: StreamedResult) -> list[StreamedResult]:
        if result.name in self.seen:
            return []
        self.seen[result.name] = result
        return [result]


def final_results(
    test_format: str, report: Path, tail: _ResultTail
) -> tuple[list[StreamedResult], str | None]:
    """The authoritative results, and a problem sentence when the report is missing or bad."""
    text = _read_capped(report)
    if not text.strip():
        return [], "the test runner ended without writing its report"
    try:
        parsed = parse_junit(text) if test_format == "junit" else parse_tap(text)
    except ReportError as exc:
        return [], str(exc)
    results = []
    for result in parsed:
        streamed = tail.seen.get(result.name)
        merged = StreamedResult.from_result(result)
        if streamed is not None:
            merged.output = streamed.output
        results.append(merged)
    return results, None


def summarize(
    which: Which,
    results: list[StreamedResult],
    problem: str | None,
    outcome: Outcome,
    started: float,
    *,
    include_output: bool,
) -> Summary:
    counts = {name: 0 for name in ("passed", "failed", "skipped", "error")}
    for result in results:
        counts[result.outcome if result.outcome in counts else "error"] += 1
    if problem is None and outcome.reason is not StopReason.EXIT:
        problem = outcome.detail or f"the run stopped: {outcome.reason.value}"
    if problem is not None or not results:
        status = "error"
        detail = problem or "no tests were found"
    elif counts["failed"] or counts["error"]:
        status, detail = "failed", f"{counts['failed'] + counts['error']} of {len(results)} failed"
    else:
        status, detail = "passed", f"all {counts['passed']} passed"
    return Summary(
        which=which,
        status=status,
        total=len(results),
        passed=counts["passed"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        errors=counts["error"],
        duration_ms=int((time.monotonic() - started) * 1000),
        reason=outcome.reason.value,
        exit_code=outcome.exit_code,
        detail=detail,
        stdout=outcome.stdout[-OUTPUT_EXCERPT_BYTES:].decode("utf-8", "replace")
        if include_output
        else "",
        stderr=outcome.stderr[-OUTPUT_EXCERPT_BYTES:].decode("utf-8", "replace")
        if include_output
        else "",
        results=[asdict(r) for r in results],
    )


async def run_tests(
    sandbox: Sandbox,
    workspace: Path,
    challenge_dir: Path,
    which: Which,
    limits: Limits,
) -> AsyncGenerator[dict[str, Any]]:
    """Events: {"type": "started"}, {"type": "result", ...} per test, {"type": "summary", ...}."""
    tests = load_test_command(challenge_dir)
    tests_dir = challenge_dir / (VISIBLE_TESTS_DIR if which == "visible" else HIDDEN_TESTS_DIR)
    if not tests_dir.is_dir():
        raise TestRunError(f"the challenge has no {which} tests")
    test_format = tests.format
    with tempfile.TemporaryDirectory(prefix="prequel-tests-") as tmp:
        scratch = Path(tmp)
        out_dir = scratch / "out"
        out_dir.mkdir()
        run_workspace = workspace
        if which == "hidden":
            run_workspace = scratch / "workspace"
            shutil.copytree(workspace, run_workspace, symlinks=True)
        if os.geteuid() == 0:
            # An agent started as root (tests, `prequel sandbox`) hands the scratch space to
            # the sandbox's uid; in production the agent already runs as that uid.
            chown_tree(scratch, sandbox.uid, sandbox.gid)
        report_name = "report.xml" if test_format == "junit" else "report.tap"
        argv = command_argv(tests.command, tests=MOUNT_TESTS, report=f"{MOUNT_OUT}/{report_name}")
        env: dict[str, str] = {}
        binds: list[tuple[Path, str]] = [(tests_dir, MOUNT_TESTS)]
        if test_format == "junit":
            env = {
                "PYTEST_ADDOPTS": "-p prequel_stream",
                "PYTHONPATH": MOUNT_PYTHON,
                "PREQUEL_STREAM_REPORT": f"{MOUNT_OUT}/stream.jsonl",
            }
            binds.append((PLUGIN_DIR, MOUNT_PYTHON))
        tail = _ResultTail(
            out_dir / ("stream.jsonl" if test_format == "junit" else report_name), test_format
        )
        started = time.monotonic()
        yield {"type": "started", "which": which, "command": argv}
        process = await sandbox.start(
            argv,
            limits,
            env=env,
            extra_ro_binds=binds,
            rw_binds=[(out_dir, MOUNT_OUT)],
            workspace=run_workspace,
        )
        waiter = asyncio.ensure_future(process.wait())
        try:
            while not waiter.done():
                await asyncio.wait({waiter}, timeout=POLL_SECONDS)
                for result in tail.poll():
                    yield {"type": "result", **asdict(result)}
        finally:
            if not waiter.done():
                await process.stop()
                await waiter
        outcome = waiter.result()
        for result in tail.poll():
            yield {"type": "result", **asdict(result)}
        results, problem = final_results(test_format, out_dir / report_name, tail)
        streamed = set(tail.seen)
        for result in results:
            if result.name not in streamed:
                yield {"type": "result", **asdict(result)}
        summary = summarize(
            which, results, problem, outcome, started, include_output=which == "visible"
        )
        yield {"type": "summary", **asdict(summary)}
