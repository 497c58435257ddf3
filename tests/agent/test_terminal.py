"""The shared terminal: a shell on a PTY in the sandbox, several viewers, scrollback replay."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import ClientConnection

from tests.agent.conftest import RunningAgent, StartAgent, fresh_uid
from tests.agent.wsclient import connect, receive, send


@pytest.fixture
def sandboxed(start_agent: StartAgent) -> RunningAgent:
    uid = fresh_uid()
    return start_agent(user=f"{uid}:{uid}")


async def read_until(ws: ClientConnection, needle: str, seconds: float = 20) -> str:
    seen = ""
    async with asyncio.timeout(seconds):
        while needle not in seen:
            message = await receive(ws, seconds)
            assert message["type"] == "output", message
            seen += message["data"]
    return seen


async def test_shell_runs_in_the_sandbox(sandboxed: RunningAgent) -> None:
    async with connect(sandboxed.socket_path, "/terminal", sandboxed.token) as ws:
        await send(
            ws, {"type": "input", "data": "echo id=$(id -u) host=$(hostname) sum=$((6*7))\r"}
        )
        screen = await read_until(ws, "sum=42")
    assert "host=sandbox" in screen
    assert "id=0" not in screen
    await asyncio.sleep(0)


async def test_viewers_share_the_screen_and_reconnects_get_scrollback(
    sandboxed: RunningAgent,
) -> None:
    async with connect(sandboxed.socket_path, "/terminal", sandboxed.token) as first:
        await send(first, {"type": "input", "data": "echo marker-$((40+2))\r"})
        await read_until(first, "marker-42")
        async with connect(sandboxed.socket_path, "/terminal", sandboxed.token) as second:
            # The second viewer first receives what the terminal showed before it came.
            await read_until(second, "marker-42")
            await send(second, {"type": "input", "data": "echo from-second-$((1+1))\r"})
            await read_until(first, "from-second-2")
            await read_until(second, "from-second-2")
    # Everyone left; the shell lives on and a newcomer sees the recent screen.
    async with connect(sandboxed.socket_path, "/terminal", sandboxed.token) as again:
        await read_until(again, "from-second-2")
        await send(again, {"type": "input", "data": "echo still-$((3*3))\r"})
        await read_until(again, "still-9")


async def test_resize(sandboxed: RunningAgent) -> None:
    async with connect(sandboxed.socket_path, "/terminal", sandboxed.token) as ws:
        await send(ws, {"type": "resize", "rows": 33, "cols": 101})
        await send(ws, {"type": "input", "data": "stty size\r"})
        await read_until(ws, "33 101")


async def test_exit_then_type_starts_a_new_shell(sandboxed: RunningAgent) -> None:
    async with connect(sandboxed.socket_path, "/terminal", sandboxed.token) as ws:
        await send(ws, {"type": "input", "data": "exit\r"})
        await read_until(ws, "[shell ended")
        await send(ws, {"type": "input", "data": "echo back-$((2+3))\r"})
        await read_until(ws, "back-5")


async def test_bad_messages_get_an_error_not_a_disconnect(sandboxed: RunningAgent) -> None:
    async with connect(sandboxed.socket_path, "/terminal", sandboxed.token) as ws:
        await ws.send("not json")
        while True:
            message = await receive(ws)
            if message["type"] == "error":
                break
        await send(ws, {"type": "input", "data": "echo alive-$((1+0))\r"})
        await read_until(ws, "alive-1")
