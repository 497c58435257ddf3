"""GET /tests/last: the latest visible test run, kept in memory and in the state folder."""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from prequel.agent.collab.settings import STATE_DIR_ENV
from tests.agent.conftest import ROOT, RunningAgent, StartAgent, fresh_uid, short_tempdir
from tests.agent.wsclient import connect, receive_until, send

SAMPLE = ROOT / "challenges" / "rate-limiter"


async def get_last(agent: RunningAgent, *, portal: bool = False) -> dict[str, Any]:
    async with agent.portal_client() if portal else agent.client() as c:
        response = await c.get("/tests/last")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def post_tests(agent: RunningAgent, which: str) -> dict[str, Any]:
    async with agent.portal_client() if which == "hidden" else agent.client() as c:
        response = await c.post("/tests", json={"which": which}, timeout=120)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def private_state_dir(uid: int) -> Path:
    """A state folder the agent's uid owns alone, under a short folder removed by the test."""
    parent = short_tempdir("pqa-state-")
    os.chmod(parent, 0o755)  # noqa: S103
    state = parent / "state"
    state.mkdir(mode=0o700)
    os.chown(state, uid, uid)
    return state


@pytest.fixture
def uid() -> int:
    return fresh_uid()


@pytest.fixture
def state_dir(uid: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    state = private_state_dir(uid)
    monkeypatch.setenv(STATE_DIR_ENV, str(state))
    yield state
    shutil.rmtree(state.parent, ignore_errors=True)


async def test_the_latest_visible_run_is_served_and_survives_a_restart(
    start_agent: StartAgent, uid: int, state_dir: Path
) -> None:
    agent = start_agent(user=f"{uid}:{uid}")
    assert await get_last(agent) == {"summary": None}

    before = time.time()
    posted = await post_tests(agent, "visible")  # the starter files fail
    last = await get_last(agent)
    assert last["summary"]["status"] == posted["summary"]["status"] == "failed"
    assert last["summary"]["total"] == posted["summary"]["total"] > 0
    assert last["results"] == posted["results"]
    assert before <= last["finished_at"] <= time.time()

    # Hidden results are never kept: anyone may read /tests/last.
    await post_tests(agent, "hidden")
    assert await get_last(agent) == last

    # A streamed run replaces it, and every caller reads the same.
    shutil.copy(SAMPLE / "solution" / "rate_limiter.py", agent.workspace / "rate_limiter.py")
    async with connect(agent.socket_path, "/tests/stream", agent.token) as ws:
        await send(ws, {"type": "start", "which": "visible"})
        _, summary = await receive_until(ws, "summary", seconds=120)
    streamed = await get_last(agent, portal=True)
    assert streamed["summary"]["status"] == summary["status"] == "passed"
    assert streamed["results"] == summary["results"]
    assert "results" not in streamed["summary"]
    assert streamed["finished_at"] > last["finished_at"]

    stored = state_dir / "last-tests.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    agent.stop()
    restarted = start_agent(user=f"{uid}:{uid}", workspace=agent.workspace)
    assert await get_last(restarted) == streamed


async def test_a_damaged_or_unusable_state_folder_never_fails_the_tests(
    start_agent: StartAgent, uid: int, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = state_dir / "last-tests.json"
    stored.write_text('{"summary": ')
    os.chown(stored, uid, uid)
    agent = start_agent(user=f"{uid}:{uid}")
    assert await get_last(agent) == {"summary": None}
    agent.stop()

    # A state folder inside the workspace is refused: results then live in memory only.
    monkeypatch.setenv(STATE_DIR_ENV, str(agent.workspace / "state"))
    memory_only = start_agent(user=f"{uid}:{uid}", workspace=agent.workspace)
    posted = await post_tests(memory_only, "visible")
    last = await get_last(memory_only)
    assert last["results"] == posted["results"]
    assert not (agent.workspace / "state").exists()
