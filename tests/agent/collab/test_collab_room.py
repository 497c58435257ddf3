"""In-process: a client whose socket died while the room still lists it.

First the failure, with an adapter that sends straight to the socket (like the adapters
pycrdt-websocket ships): the dead socket's error takes the other clients down with it. Then
the same scene through the agent's adapter, where sending to a dead socket is a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Awareness, Doc, Text, create_awareness_message, create_update_message
from pycrdt.websocket import WebsocketServer

from prequel.agent.collab.identity import CANDIDATE
from prequel.agent.collab.service import CollabService
from prequel.agent.collab.settings import STATE_DIR_ENV
from prequel.agent.files import Workspace


class NaiveChannel:
    """Sends straight to its socket, which raises once the peer is gone."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.dead = False

    @property
    def path(self) -> str:
        return "doc"

    def __aiter__(self) -> NaiveChannel:
        return self

    async def __anext__(self) -> bytes:
        message = await self.inbox.get()
        if message is None:
            raise StopAsyncIteration
        return message

    async def recv(self) -> bytes:
        return await self.__anext__()

    async def send(self, message: bytes) -> None:
        if self.dead:
            raise ConnectionResetError(f"{self.name}: the socket is closed")
        self.sent.append(message)


class FakeSocket:
    """The part of Starlette's WebSocket the agent's adapter uses."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.dead = False
        self.closed: int | None = None

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_bytes(self, data: bytes) -> None:
        if self.dead:
            raise ConnectionResetError("the socket is closed")
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = code

    def push(self, data: bytes) -> None:
        self.inbox.put_nowait({"type": "websocket.receive", "bytes": data})

    def leave(self) -> None:
        self.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})


def _edit_and_awareness() -> tuple[Doc[Any], Text, bytes]:
    doc: Doc[Any] = Doc()
    doc["t"] = text = Text("hello")
    awareness = Awareness(doc)
    awareness.set_local_state({"user": {"name": "alice"}})
    return doc, text, create_awareness_message(awareness.encode_awareness_update([doc.client_id]))


async def test_reproduction_a_naive_adapter_lets_one_dead_socket_cut_off_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL)
    server = WebsocketServer(auto_clean_rooms=False, exception_handler=lambda e, log: True)
    async with server:
        alice, bob, carol = NaiveChannel("alice"), NaiveChannel("bob"), NaiveChannel("carol")
        tasks = [asyncio.create_task(server.serve(c)) for c in (alice, bob, carol)]
        await asyncio.sleep(0.1)
        carol.dead = True  # her socket died; the room has not noticed yet
        doc, _text, presence = _edit_and_awareness()
        alice.inbox.put_nowait(presence)
        alice.inbox.put_nowait(create_update_message(doc.get_update()))
        await asyncio.sleep(0.2)
        room = server.rooms["doc"]
        received = len(bob.sent)
        # Bob, who did nothing wrong, is cut off: out of the room, never given alice's edit.
        assert bob not in room.clients
        assert received <= 1  # at most the sync step 1 sent when he joined
        for channel in (alice, bob, carol):
            channel.inbox.put_nowait(None)
        for task in tasks:
            task.cancel()


async def test_the_agents_adapter_keeps_the_others_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    monkeypatch.setenv(STATE_DIR_ENV, str(state))
    root = tmp_path / "workspace"
    root.mkdir()
    workspace = Workspace(root, max_file_bytes=1 << 20, max_upload_bytes=1 << 20)
    service = await CollabService.start(root, workspace)
    sockets = {name: FakeSocket() for name in ("alice", "bob", "carol")}
    tasks = [
        asyncio.create_task(service.serve(sock, "doc", CANDIDATE))  # type: ignore[arg-type]
        for sock in sockets.values()
    ]
    await asyncio.sleep(0.2)
    room = service.rooms["doc"]
    assert len(room.clients) == 3
    sockets["carol"].dead = True  # died; the room has not noticed yet
    before = len(sockets["bob"].sent)
    doc, text, presence = _edit_and_awareness()
    sockets["alice"].push(presence)
    sockets["alice"].push(create_update_message(doc.get_update()))
    await asyncio.sleep(0.2)
    assert len(room.clients) == 3  # carol too: sending to her was a no-op
    assert len(sockets["bob"].sent) >= before + 2  # alice's presence and her edit
    text.insert(5, " world")
    sockets["alice"].push(create_update_message(doc.get_update()))
    await asyncio.sleep(0.2)
    assert str(room.ydoc.get("t", type=Text)) == "hello world"
    for sock in sockets.values():
        sock.leave()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert not room.clients
    await service.close()
    workspace.close()
