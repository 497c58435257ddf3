"""Observe mode and spectators on the file API and the terminal, not only in the editor: the
agent refuses the write itself, whatever the browser does."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, unix_connect

from prequel.agent.collab.settings import STATE_DIR_ENV
from tests.agent.conftest import RunningAgent, StartAgent, fresh_uid, short_tempdir
from tests.agent.wsclient import connect, receive, send

STARTER = "rate_limiter.py"
INTERVIEWER = {"X-Prequel-Role": "interviewer", "X-Prequel-User-Id": "user-ida"}
SPECTATOR = {"X-Prequel-Role": "spectator", "X-Prequel-User-Id": "user-sam"}


@pytest.fixture
def agent(start_agent: StartAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunningAgent:
    state = tmp_path / "collab-state"
    state.mkdir(mode=0o700)
    monkeypatch.setenv(STATE_DIR_ENV, str(state))
    return start_agent()


@pytest.fixture
def sandboxed(start_agent: StartAgent, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningAgent]:
    """An agent dropped to a uid of its own, so its terminal runs in the sandbox; its state
    folder must then be that uid's."""
    uid = fresh_uid()
    state = short_tempdir("pqa-state-")
    os.chown(state, uid, uid)
    state.chmod(0o700)
    monkeypatch.setenv(STATE_DIR_ENV, str(state))
    try:
        yield start_agent(user=f"{uid}:{uid}")
    finally:
        shutil.rmtree(state, ignore_errors=True)


async def set_mode(agent: RunningAgent, mode: str) -> None:
    async with agent.portal_client() as portal:
        response = await portal.post("/collab/mode", json={"mode": mode})
    assert response.status_code == 200, response.text
    assert response.json() == {"mode": mode}


async def version_of(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(f"/files/{path}")
    assert response.status_code == 200, response.text
    version: str = response.json()["version"]
    return version


async def every_write(client: httpx.AsyncClient, headers: dict[str, str]) -> list[httpx.Response]:
    version = await version_of(client, STARTER)
    return [
        await client.put(
            f"/files/{STARTER}", json={"content": "x\n", "version": version}, headers=headers
        ),
        await client.post("/files/new.py", json={"type": "file"}, headers=headers),
        await client.post("/files/folder", json={"type": "dir"}, headers=headers),
        await client.delete(f"/files/{STARTER}", headers=headers),
        await client.post("/rename", json={"from": STARTER, "to": "moved.py"}, headers=headers),
        await client.post("/upload/up.bin", content=b"\x00\x01", headers=headers),
    ]


def assert_refused(responses: list[httpx.Response], code: str) -> None:
    for response in responses:
        assert response.status_code == 403, (response.request.url, response.text)
        error = response.json()["error"]
        assert error["code"] == code
        assert error["message"]


async def test_observe_mode_refuses_every_candidate_write_and_keeps_the_files(
    agent: RunningAgent,
) -> None:
    before = (agent.workspace / STARTER).read_bytes()
    await set_mode(agent, "observe")

    async with agent.client() as candidate:
        assert_refused(await every_write(candidate, {}), "observe_only")
        # The workspace token cannot claim to be someone else.
        assert_refused(await every_write(candidate, INTERVIEWER), "observe_only")
        # Reading still works.
        assert (await candidate.get(f"/files/{STARTER}")).status_code == 200
    async with agent.portal_client() as portal:
        # Through the portal, the candidate role (or no role) is refused as well.
        assert_refused(await every_write(portal, {"X-Prequel-Role": "candidate"}), "observe_only")
        assert_refused(await every_write(portal, {}), "observe_only")

    assert (agent.workspace / STARTER).read_bytes() == before
    assert sorted(p.name for p in agent.workspace.iterdir()) == [STARTER]


async def test_the_interviewer_writes_in_observe_mode_and_the_candidate_again_in_edit_mode(
    agent: RunningAgent,
) -> None:
    await set_mode(agent, "observe")
    async with agent.portal_client() as portal:
        version = await version_of(portal, STARTER)
        written = await portal.put(
            f"/files/{STARTER}",
            json={"content": "by ida\n", "version": version},
            headers=INTERVIEWER,
        )
        assert written.status_code == 200, written.text

    await set_mode(agent, "edit")
    async with agent.client() as candidate:
        version = await version_of(candidate, STARTER)
        written = await candidate.put(
            f"/files/{STARTER}", json={"content": "mine\n", "version": version}
        )
        assert written.status_code == 200, written.text
    assert (agent.workspace / STARTER).read_text() == "mine\n"


async def test_spectators_never_write(agent: RunningAgent) -> None:
    async with agent.portal_client() as portal:
        assert_refused(await every_write(portal, SPECTATOR), "read_only")


async def test_a_restarted_agent_keeps_refusing_before_collaboration_starts(
    agent: RunningAgent, start_agent: StartAgent
) -> None:
    await set_mode(agent, "observe")
    workspace = agent.workspace
    agent.stop()
    again = start_agent(workspace=workspace)
    async with again.client() as candidate:
        version = await version_of(candidate, STARTER)
        refused = await candidate.put(
            f"/files/{STARTER}", json={"content": "x", "version": version}
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "observe_only"


async def test_terminal_input_is_dropped_with_a_notice_in_observe_mode(
    sandboxed: RunningAgent,
) -> None:
    agent = sandboxed
    await set_mode(agent, "observe")
    async with connect(agent.socket_path, "/terminal", agent.token) as candidate:
        await send(candidate, {"type": "input", "data": "touch /tmp/never; echo typed-$((6*7))\r"})
        notice = await _first_not_output(candidate)
        assert notice["type"] == "error"
        assert notice["code"] == "observe_only"
        # Resizing is not writing.
        await send(candidate, {"type": "resize", "rows": 30, "cols": 100})

    async with _portal_terminal(agent, INTERVIEWER) as ida:
        await send(ida, {"type": "input", "data": "echo ida-$((6*7))\r"})
        screen = await _read_until(ida, "ida-42")
    assert "typed-42" not in screen

    async with _portal_terminal(agent, SPECTATOR) as sam:
        await send(sam, {"type": "input", "data": "echo sam\r"})
        notice = await _first_not_output(sam)
        assert notice["code"] == "read_only"

    await set_mode(agent, "edit")
    async with connect(agent.socket_path, "/terminal", agent.token) as candidate:
        await send(candidate, {"type": "input", "data": "echo back-$((6*7))\r"})
        await _read_until(candidate, "back-42")


def _portal_terminal(agent: RunningAgent, headers: dict[str, str]) -> Any:
    assert agent.portal_token is not None
    return unix_connect(
        str(agent.socket_path),
        "ws://agent/terminal",
        additional_headers={"Authorization": f"Bearer {agent.portal_token}", **headers},
    )


async def _first_not_output(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            message = await receive(ws)
            if message["type"] != "output":
                return message


async def _read_until(ws: ClientConnection, needle: str) -> str:
    seen = ""
    async with asyncio.timeout(20):
        while needle not in seen:
            message = await receive(ws)
            if message["type"] == "output":
                seen += message["data"]
    return seen
