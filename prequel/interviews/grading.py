"""Grading on end: run the visible and hidden tests against the final files, store per test.

The destroy job calls `grade_final_work` before it archives the workspace (every end: the
deadline, the interviewer, the candidate's submission). Results come only from the agent's
structured report (`POST /tests`, docs/agent-protocol.md), never from what the code prints.
Grading is best effort: whatever goes wrong is one clear line in the operation log and the
destroy goes on, so the archive is never put at risk. Each suite is recorded once per
interview (a unique row in `grading_runs`), so a retried destroy does not record it twice.

Hidden test names are for staff: `staff_results` is served only by the staff API.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, GradingRun, Interview, TestResult
from prequel.domain.interviews import EndReason
from prequel.jobs.context import WorkerContext
from prequel.workspaces.base import Handle

Suite = Literal["visible", "hidden"]
SUITES: tuple[Suite, ...] = ("visible", "hidden")
OUTCOMES = frozenset({"passed", "failed", "error", "skipped"})
RUN_STATUSES = frozenset({"passed", "failed", "error"})
# The agent stops a run after 120 s of wall time unless the challenge says otherwise; the
# hidden suite also copies the workspace first. Past this, the portal stops waiting.
SUITE_TIMEOUT_SECONDS = 300.0
MESSAGE_LIMIT = 2000
NAME_LIMIT = 500

# (message, level) -> None: the destroy job's operation log.
Log = Callable[..., Awaitable[None]]


class BadReport(ValueError):
    """The agent answered, but not with a test report."""


def _text(value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(summary: dict[str, Any], key: str) -> int:
    value = summary.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_report(
    interview_id: str, suite: Suite, body: object
) -> tuple[GradingRun, list[TestResult]]:
    """The rows for one suite from the agent's `{"summary", "results"}` answer."""
    if not isinstance(body, dict):
        raise BadReport("the answer is not a JSON object")
    summary, results = body.get("summary"), body.get("results")
    if not isinstance(summary, dict) or not isinstance(results, list):
        raise BadReport("the answer has no summary and results")
    status = summary.get("status")
    duration = summary.get("duration_ms")
    run = GradingRun(
        interview_id=interview_id,
        suite=suite,
        status=status if status in RUN_STATUSES else "error",
        total=_count(summary, "total"),
        passed=_count(summary, "passed"),
        failed=_count(summary, "failed"),
        skipped=_count(summary, "skipped"),
        errors=_count(summary, "errors"),
        duration_ms=int(duration) if isinstance(duration, int | float) else None,
        detail=_text(summary.get("detail"), MESSAGE_LIMIT),
    )
    rows: list[TestResult] = []
    for result in results:
        if not isinstance(result, dict) or not isinstance(result.get("name"), str):
            continue
        outcome = result.get("outcome")
        seconds = result.get("duration_seconds")
        rows.append(
            TestResult(
                interview_id=interview_id,
                suite=suite,
                name=_text(result["name"], NAME_LIMIT) or "",
                outcome=outcome if outcome in OUTCOMES else "error",
                message=_text(result.get("message"), MESSAGE_LIMIT),
                duration_ms=round(seconds * 1000) if isinstance(seconds, int | float) else None,
            )
        )
    return run, rows


async def _run_suite(ctx: WorkerContext, handle: Handle, suite: Suite) -> object:
    async with ctx.provisioner.agent_client(handle, timeout=SUITE_TIMEOUT_SECONDS) as agent:
        response = await agent.post("/tests", json={"which": suite})
    if response.status_code != 200:
        raise BadReport(f"the agent answered {response.status_code}: {response.text[:200]}")
    return response.json()


async def _store(ctx: WorkerContext, run: GradingRun, rows: list[TestResult]) -> bool:
    """Record one suite; False when it was already recorded (a retried destroy)."""
    async with ctx.sessions() as db:
        db.add(run)
        db.add_all(rows)
        try:
            await db.commit()
        except IntegrityError:
            await db.rollback()
            return False
    return True


async def _graded_suites(db: AsyncSession, interview_id: str) -> set[str]:
    found = await db.scalars(
        select(GradingRun.suite).where(GradingRun.interview_id == interview_id)
    )
    return set(found)


async def grade_final_work(ctx: WorkerContext, interview_id: str, handle: Handle, log: Log) -> None:
    """Run and record each suite not recorded yet. Never raises (except cancellation)."""
    try:
        async with ctx.sessions() as db:
            interview = await db.get(Interview, interview_id)
            if interview is None or interview.end_reason == EndReason.FAILED.value:
                return
            challenge = await db.get(Challenge, interview.challenge_id)
            done = await _graded_suites(db, interview_id)
        if challenge is None or not challenge.test_command.strip():
            return
        pending = [suite for suite in SUITES if suite not in done]
        if pending:
            await log("running the tests against the final files")
        for suite in pending:
            try:
                body = await _run_suite(ctx, handle, suite)
                run, rows = parse_report(interview_id, suite, body)
            except Exception as exc:  # grading must never block the destroy
                await log(
                    f"could not run the {suite} tests, so they are not graded: "
                    f"{type(exc).__name__}: {exc}",
                    "warning",
                )
                continue
            if await _store(ctx, run, rows):
                await log(f"{suite} tests: {run.passed} of {run.total} passed ({run.detail})")
    except Exception as exc:
        await log(f"grading failed and was skipped: {type(exc).__name__}: {exc}", "warning")


def _run_view(run: GradingRun, rows: list[TestResult]) -> dict[str, Any]:
    return {
        "status": run.status,
        "total": run.total,
        "passed": run.passed,
        "failed": run.failed,
        "skipped": run.skipped,
        "errors": run.errors,
        "duration_ms": run.duration_ms,
        "detail": run.detail,
        "ran_at": run.created_at.isoformat() if run.created_at else None,
        "results": [
            {
                "name": row.name,
                "outcome": row.outcome,
                "message": row.message,
                "duration_ms": row.duration_ms,
            }
            for row in rows
        ],
    }


async def staff_results(db: AsyncSession, interview: Interview) -> dict[str, Any]:
    """For the interviewer only (hidden test names included): each suite's summary and
    results, and the score over both suites (tests passed of tests run)."""
    runs = {
        run.suite: run
        for run in await db.scalars(
            select(GradingRun).where(GradingRun.interview_id == interview.id)
        )
    }
    rows = list(
        await db.scalars(
            select(TestResult)
            .where(TestResult.interview_id == interview.id)
            .order_by(TestResult.id)
        )
    )
    suites: dict[str, Any] = {}
    for suite in SUITES:
        run = runs.get(suite)
        mine = [row for row in rows if row.suite == suite]
        suites[suite] = _run_view(run, mine) if run is not None else None
    return {
        "interview_id": interview.id,
        "graded": bool(runs),
        "score": {
            "passed": sum(run.passed for run in runs.values()),
            "total": sum(run.total for run in runs.values()),
        },
        "suites": suites,
    }
