"""Every sample challenge's visible and hidden tests through the agent, in the sandbox, with
results read only from structured reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.agent.conftest import ROOT, RunningAgent, StartAgent, fresh_uid
from tests.agent.wsclient import connect, receive, receive_until, send

SAMPLES = sorted(p for p in (ROOT / "challenges").iterdir() if (p / "challenge.toml").is_file())


def start(start_agent: StartAgent, sample: Path, *, solution: bool) -> RunningAgent:
    uid = fresh_uid()
    return start_agent(user=f"{uid}:{uid}", sample=sample, solution=solution)


async def run_tests(agent: RunningAgent, which: str) -> dict[str, Any]:
    client = agent.portal_client() if which == "hidden" else agent.client()
    async with client as c:
        response = await c.post("/tests", json={"which": which}, timeout=120)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
async def test_reference_solution_passes_everything(start_agent: StartAgent, sample: Path) -> None:
    agent = start(start_agent, sample, solution=True)
    for which in ("visible", "hidden"):
        body = await run_tests(agent, which)
        summary = body["summary"]
        assert summary["status"] == "passed", (
            which,
            summary["detail"],
            summary["stdout"],
            summary["stderr"],
        )
        assert summary["total"] == summary["passed"] > 0
        assert len(body["results"]) == summary["total"]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
async def test_starter_files_fail_the_hidden_tests(start_agent: StartAgent, sample: Path) -> None:
    agent = start(start_agent, sample, solution=False)
    summary = (await run_tests(agent, "hidden"))["summary"]
    assert summary["status"] in ("failed", "error"), summary
    assert summary["passed"] < summary["total"] or summary["status"] == "error"


async def test_hidden_tests_need_the_portal_token(agent: RunningAgent) -> None:
    async with agent.client() as c:
        response = await c.post("/tests", json={"which": "hidden"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "portal_only"


async def test_hidden_tests_leave_nothing_in_the_workspace(start_agent: StartAgent) -> None:
    sample = ROOT / "challenges" / "rate-limiter"
    agent = start(start_agent, sample, solution=True)
    before = sorted(p.name for p in agent.workspace.rglob("*"))
    await run_tests(agent, "hidden")
    after = sorted(p.name for p in agent.workspace.rglob("*"))
    assert after == before
    hidden_names = {p.name for p in (sample / "tests" / "hidden").iterdir()}
    assert not hidden_names & set(after)


async def test_results_stream_one_by_one_then_a_summary(start_agent: StartAgent) -> None:
    agent = start(start_agent, ROOT / "challenges" / "rate-limiter", solution=True)
    async with connect(agent.socket_path, "/tests/stream", agent.token) as ws:
        await send(ws, {"type": "start", "which": "visible"})
        assert (await receive(ws))["type"] == "started"
        before, summary = await receive_until(ws, "summary", seconds=120)
    results = [m for m in before if m["type"] == "result"]
    assert len(results) == summary["total"] > 1
    assert all(r["outcome"] == "passed" and r["name"] for r in results)
    assert summary["status"] == "passed"


FAKE_PASS = """
import os, sys
print("PASS")
print("ok 1 - everything")
print("<testcase name='x'/>")
sys.stdout.flush()
os._exit(0)  # leave before pytest can write its report
"""


async def test_printing_pass_and_exiting_early_does_not_pass(start_agent: StartAgent) -> None:
    agent = start(start_agent, ROOT / "challenges" / "rate-limiter", solution=False)
    (agent.workspace / "rate_limiter.py").write_text(FAKE_PASS)
    body = await run_tests(agent, "visible")
    summary = body["summary"]
    assert summary["status"] == "error", summary
    assert summary["passed"] == 0
    assert "report" in summary["detail"]


async def test_a_tampering_print_inside_a_passing_run_changes_nothing(
    start_agent: StartAgent,
) -> None:
    sample = ROOT / "challenges" / "rate-limiter"
    agent = start(start_agent, sample, solution=True)
    solution = (agent.workspace / "rate_limiter.py").read_text()
    (agent.workspace / "rate_limiter.py").write_text(
        solution + '\nprint("not ok 1 - fake\\nPASS\\nFAILED")\n'
    )
    summary = (await run_tests(agent, "visible"))["summary"]
    assert summary["status"] == "passed", summary


async def test_no_challenge_means_no_tests(start_agent: StartAgent) -> None:
    agent = start_agent(challenge=False)
    async with agent.client() as c:
        response = await c.post("/tests", json={"which": "visible"})
    assert response.status_code == 409
    assert "no challenge" in response.json()["error"]["message"]
