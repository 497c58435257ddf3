"""Grading on end (issue 7), through a real portal and real agents: the candidate submits
early, the hidden tests run against the final files before the workspace is removed, and
only staff ever see what they are called."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import GradingRun, Organization, TestResult
from prequel.interviews.grading import grade_final_work, parse_report
from prequel.jobs.context import WorkerContext
from prequel.settings import load_settings
from prequel.state import AppState
from prequel.workspaces.base import Handle, Provisioner
from prequel.workspaces.local import LocalProvisioner
from tests.jobs.test_take_home_flow import handle_of, wait_status
from tests.support.candidates import candidate_client
from tests.support.factories import make_challenge, make_interview
from tests.support.portal_process import PortalProcess, agent_processes, running_portal
from tests.support.sse_reader import SseReader

CHALLENGE = Path(__file__).resolve().parents[2] / "challenges" / "rate-limiter"
SOLUTION = (CHALLENGE / "solution" / "rate_limiter.py").read_text()
HIDDEN_NAMES = re.findall(
    r"^def (test_\w+)", (CHALLENGE / "tests/hidden/test_hidden_rate_limiter.py").read_text(), re.M
)
VISIBLE_COUNT = len(
    re.findall(
        r"^def test_",
        (CHALLENGE / "tests/visible/test_visible_rate_limiter.py").read_text(),
        re.M,
    )
)
VALIDATION = """        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be an integer of at least 1")
        if not window_seconds > 0:
            raise ValueError("window_seconds must be greater than 0")
"""
# Passes every visible test, but accepts a zero limit or window: one hidden test fails.
NO_VALIDATION = SOLUTION.replace(VALIDATION, "")
# Prints what a test runner would print for a full pass, and implements nothing.
FAKE_PASSES = """import sys

print("test_visible_rate_limiter.py::test_allows_requests_up_to_the_limit PASSED")
print("ok 1 - allows requests up to the limit")
print("PASS")
print("============================== 13 passed in 0.01s ==============================")
sys.stderr.write("PASSED\\n")


class SlidingWindowRateLimiter:
    def __init__(self, limit, window_seconds, clock=None):
        print("PASSED")

    def allow(self, key):
        print("PASSED")
        return None

    def remaining(self, key):
        return None

    def retry_after(self, key):
        return None

    def __len__(self):
        return -1 % 1
"""


@pytest.fixture
def portal() -> Iterator[PortalProcess]:
    # Interview minutes of 3 s: a 60-minute test leaves time to work, submit and grade.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="3") as process:
        yield process


def start_take_home(portal: PortalProcess, api: httpx.Client, candidate: httpx.Client) -> str:
    created = api.post(
        "/api/interviews",
        json={
            "kind": "take_home",
            "candidate_name": "Grace Hopper",
            "challenge": "rate-limiter",
            "valid_days": 3,
            "duration_minutes": 60,
        },
    )
    assert created.status_code == 201, created.text
    interview = created.json()
    # The candidate opens their link, then starts: their browser now holds the test.
    assert candidate.get(f"/take-home/{interview['passcode']}").status_code == 200
    started = candidate.post(
        f"/api/interviews/{interview['id']}/activate", json={"passcode": interview["passcode"]}
    )
    assert started.status_code == 200, started.text
    wait_status(api, interview["id"], "active", timeout=60)
    return str(interview["id"])


async def write_solution(portal: PortalProcess, interview_id: str, text: str) -> None:
    provisioner = LocalProvisioner(load_settings(data_dir=portal.data_dir, env="test"))
    async with provisioner.agent_client(handle_of(portal, interview_id)) as agent:
        starter = await agent.get("/files/rate_limiter.py")
        assert starter.status_code == 200, starter.text
        body = {"content": text, "version": starter.json()["version"]}
        response = await agent.put("/files/rate_limiter.py", json=body)
        assert response.status_code in (200, 201), response.text


def results_of(api: httpx.Client, interview_id: str) -> dict[str, Any]:
    response = api.get(f"/api/interviews/{interview_id}/test-results")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def outcomes(suite: dict[str, Any]) -> dict[str, str]:
    return {result["name"].rsplit(".", 1)[-1]: result["outcome"] for result in suite["results"]}


def assert_no_hidden_names(text: str) -> None:
    for name in HIDDEN_NAMES:
        assert name not in text, name
    assert "test_hidden" not in text


def test_submit_early_runs_the_hidden_tests_and_scores_a_hidden_failure(
    portal: PortalProcess,
) -> None:
    with portal.client() as api, candidate_client(portal.url) as candidate:
        interview_id = start_take_home(portal, api, candidate)
        passcode = api.get(f"/api/interviews/{interview_id}").json()["passcode"]
        stream = SseReader(f"{portal.url}/api/interviews/by-passcode/{passcode}/events")
        try:
            stream.wait_for(lambda e: e.type == "connection")
            asyncio.run(write_solution(portal, interview_id, NO_VALIDATION))
            # The take-home page and the IDE offer the candidate the button.
            assert "data-submit-url" in candidate.get(f"/take-home/{passcode}").text
            workspace = candidate.get(f"/w/{interview_id}/")
            assert workspace.status_code == 200
            assert f'"submitUrl": "/api/interviews/{interview_id}/submit"' in workspace.text

            submitted = candidate.post(f"/api/interviews/{interview_id}/submit")
            assert submitted.status_code == 200, submitted.text
            assert submitted.json()["end_reason"] == "submitted"
            stream.wait_for(lambda e: e.data.get("status") == "destroyed", timeout=180)
            events = json.dumps([event.data for event in stream.snapshot()])
        finally:
            stream.close()

        final = wait_status(api, interview_id, "destroyed")
        assert final["end_reason"] == "submitted"
        assert final["archive"]["size"] > 0

        graded = results_of(api, interview_id)
        assert graded["graded"] is True
        visible, hidden = graded["suites"]["visible"], graded["suites"]["hidden"]
        assert visible["status"] == "passed"
        assert visible["passed"] == visible["total"] == VISIBLE_COUNT
        assert hidden["status"] == "failed"
        assert hidden["total"] == len(HIDDEN_NAMES)
        assert (hidden["passed"], hidden["failed"]) == (len(HIDDEN_NAMES) - 1, 1)
        hidden_outcomes = outcomes(hidden)
        assert set(hidden_outcomes) == set(HIDDEN_NAMES)  # staff see the hidden names
        assert hidden_outcomes["test_invalid_arguments"] == "failed"
        failed = next(r for r in hidden["results"] if r["outcome"] == "failed")
        assert failed["message"]
        assert graded["score"] == {
            "passed": VISIBLE_COUNT + len(HIDDEN_NAMES) - 1,
            "total": VISIBLE_COUNT + len(HIDDEN_NAMES),
        }
        # The report scores the hidden failure: every visible test, all but one hidden.
        report = api.get(f"/api/interviews/{interview_id}/report").json()
        figures = {item["key"]: item for item in report["scores"]["figures"]}
        assert figures["visible_tests"]["value"] == 100.0
        hidden_rate = round((len(HIDDEN_NAMES) - 1) / len(HIDDEN_NAMES) * 100, 1)
        assert figures["hidden_tests"]["value"] == hidden_rate
        parts = {part["key"]: part for part in report["scores"]["overall"]["parts"]}
        assert parts["hidden_tests"]["value"] == hidden_rate and parts["hidden_tests"]["used"]
        assert report["scores"]["overall"]["score"] < 100
        # The saved files were analysed with ruff after the archive was stored.
        assert report["analysis"]["tool"] == "ruff" and report["analysis"]["status"] == "ok"
        assert figures["static_analysis"]["value"] == len(report["analysis"]["findings"])
        page = api.get(f"/interviews/{interview_id}/report")
        assert page.status_code == 200
        assert "test_invalid_arguments" in page.text  # staff see the hidden names
        # Grading ran before the work was archived, and is in the operation's log.
        operations = api.get(f"/api/interviews/{interview_id}/operations").json()["operations"]
        destroy = next(op for op in operations if op["type"] == "destroy")
        lines = [line["message"] for line in destroy["logs"]]
        grading = next(i for i, line in enumerate(lines) if line.startswith("hidden tests:"))
        saving = lines.index("saving the candidate's work")
        assert grading < saving, lines

        # The candidate never sees a hidden test's name: not on their stream, their page,
        # their API view or the workspace page; and the staff endpoint is closed to them.
        assert_no_hidden_names(events)
        page = candidate.get(f"/api/interviews/by-passcode/{passcode}")
        assert page.json()["state"] == "ended"
        assert page.json()["message"] == "You submitted your work. It has been saved."
        assert_no_hidden_names(page.text)
        assert_no_hidden_names(candidate.get(f"/take-home/{passcode}").text)
        assert_no_hidden_names(candidate.get(f"/w/{interview_id}/").text)
        refused = candidate.get(f"/api/interviews/{interview_id}/test-results")
        assert refused.status_code in (401, 403)
        assert_no_hidden_names(refused.text)
    assert agent_processes(portal.data_dir) == []


def test_printed_passes_score_nothing_on_an_interviewer_end(portal: PortalProcess) -> None:
    with portal.client() as api, candidate_client(portal.url) as candidate:
        interview_id = start_take_home(portal, api, candidate)
        asyncio.run(write_solution(portal, interview_id, FAKE_PASSES))
        ended = api.post(f"/api/interviews/{interview_id}/destroy")
        assert ended.status_code in (200, 202), ended.text
        final = wait_status(api, interview_id, "destroyed", timeout=180)
        assert final["end_reason"] == "revoked"
        assert final["archive"]["size"] > 0

        graded = results_of(api, interview_id)
        for suite in ("visible", "hidden"):
            run = graded["suites"][suite]
            assert run is not None, suite
            assert run["passed"] == 0, run
            assert run["status"] in ("failed", "error")
            assert all(result["outcome"] != "passed" for result in run["results"])
        assert graded["score"]["passed"] == 0
        report = api.get(f"/api/interviews/{interview_id}/report").json()
        figures = {item["key"]: item for item in report["scores"]["figures"]}
        assert figures["visible_tests"]["value"] == figures["hidden_tests"]["value"] == 0


def test_the_report_is_read_from_its_structure_only() -> None:
    run, rows = parse_report(
        "i1",
        "hidden",
        {
            "summary": {"status": "weird", "total": "5", "passed": True, "detail": "x" * 5000},
            "results": [
                {"name": "t.test_a", "outcome": "passed", "duration_seconds": 0.0125},
                {"name": "t.test_b", "outcome": "PASS", "message": "m" * 5000},
                {"outcome": "passed"},
                "ok 1",
            ],
        },
    )
    assert (run.status, run.total, run.passed) == ("error", 0, 0)
    assert run.detail is not None and len(run.detail) == 2000
    assert [(row.name, row.outcome, row.duration_ms) for row in rows] == [
        ("t.test_a", "passed", 12),
        ("t.test_b", "error", None),
    ]
    assert rows[1].message is not None and len(rows[1].message) == 2000


class ScriptedAgent:
    """A provisioner whose agent answers /tests from a script (the in-process tests below);
    every call is counted."""

    def __init__(self, answer: httpx.Response | Exception) -> None:
        self.answer = answer
        self.calls: list[str] = []

    def agent_client(self, handle: Handle, *, timeout: float = 30.0) -> httpx.AsyncClient:
        def reply(request: httpx.Request) -> httpx.Response:
            self.calls.append(json.loads(request.content)["which"])
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        return httpx.AsyncClient(transport=httpx.MockTransport(reply), base_url="http://agent")


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    async def __call__(self, message: str, level: str = "info") -> None:
        self.lines.append((message, level))


async def _graded(
    db: AsyncSession, app_state: AppState, org: Organization, agent: ScriptedAgent
) -> tuple[str, WorkerContext, Handle]:
    challenge = await make_challenge(db, org)
    interview = await make_interview(db, org, challenge, status="destroying", end_reason="time_up")
    await db.commit()
    ctx = WorkerContext(
        settings=app_state.settings,
        sessions=app_state.sessions,
        blobs=app_state.blobs,
        bus=None,
        provisioner=cast(Provisioner, agent),
        worker_id="test",
    )
    return interview.id, ctx, Handle(interview.id, "local", f"pq-{interview.id}")


async def test_a_retried_destroy_records_each_suite_once(
    db: AsyncSession, app_state: AppState, org: Organization
) -> None:
    report = {
        "summary": {"status": "passed", "total": 1, "passed": 1, "detail": "all 1 passed"},
        "results": [{"name": "t.test_one", "outcome": "passed", "duration_seconds": 0.1}],
    }
    agent = ScriptedAgent(httpx.Response(200, json=report))
    interview_id, ctx, handle = await _graded(db, app_state, org, agent)
    log = Lines()
    await grade_final_work(ctx, interview_id, handle, log)
    await grade_final_work(ctx, interview_id, handle, log)  # the destroy job retried
    assert agent.calls == ["visible", "hidden"]
    runs = await db.scalar(
        select(func.count()).select_from(GradingRun).where(GradingRun.interview_id == interview_id)
    )
    results = await db.scalar(
        select(func.count()).select_from(TestResult).where(TestResult.interview_id == interview_id)
    )
    assert (runs, results) == (2, 2)
    assert [line for line, _ in log.lines].count("hidden tests: 1 of 1 passed (all 1 passed)") == 1


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("no agent on this socket"),
        httpx.Response(500, text="boom"),
        httpx.Response(200, json={"not": "a report"}),
    ],
)
async def test_a_failed_run_is_a_warning_and_never_raises(
    db: AsyncSession,
    app_state: AppState,
    org: Organization,
    answer: httpx.Response | Exception,
) -> None:
    agent = ScriptedAgent(answer)
    interview_id, ctx, handle = await _graded(db, app_state, org, agent)
    log = Lines()
    await grade_final_work(ctx, interview_id, handle, log)
    warnings = [line for line, level in log.lines if level == "warning"]
    assert len(warnings) == 2, log.lines
    assert warnings[0].startswith("could not run the visible tests, so they are not graded")
    runs = await db.scalar(
        select(func.count()).select_from(GradingRun).where(GradingRun.interview_id == interview_id)
    )
    assert runs == 0
