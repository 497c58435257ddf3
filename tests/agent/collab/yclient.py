"""A Python y-websocket client for the agent's collaboration rooms, over its unix socket.

It speaks the same protocol as the browser's y-websocket provider (sync step 1/2, updates,
awareness), with pycrdt's own sync helpers, and records every frame it receives so tests can
assert on the bytes a connection saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pycrdt import (
    Awareness,
    Doc,
    Map,
    Text,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    read_message,
)
from websockets.asyncio.client import ClientConnection, unix_connect
from websockets.exceptions import ConnectionClosed

from prequel.agent.collab import protocol

PORTAL_ROLE = "X-Prequel-Role"


def staff_headers(role: str, user_id: str, name: str) -> dict[str, str]:
    return {
        PORTAL_ROLE: role,
        "X-Prequel-User-Id": user_id,
        "X-Prequel-User-Name": quote(name),
    }


class YClient:
    def __init__(self, ws: ClientConnection, doc: Doc[Any] | None = None) -> None:
        self.ws = ws
        self.doc: Doc[Any] = doc if doc is not None else Doc()
        self.files: Map[Any] = self.doc.get("files", type=Map)
        self.awareness = Awareness(self.doc)
        self.raw: list[bytes] = []
        self.notices: list[dict[str, Any]] = []
        self.awareness_ids: set[int] = set()
        self.synced = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._remote = False
        self._outgoing: asyncio.Queue[bytes] = asyncio.Queue()
        self._subscription = self.doc.observe(self._local_update)
        self._tasks: list[asyncio.Task[None]] = []

    # plumbing -------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.get_running_loop().create_task(self._read()),
            asyncio.get_running_loop().create_task(self._write()),
        ]
        self._outgoing.put_nowait(create_sync_message(self.doc))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.doc.unobserve(self._subscription)

    def _local_update(self, event: TransactionEvent) -> None:
        if not self._remote:
            self._outgoing.put_nowait(create_update_message(event.update))

    async def _write(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.ws.send(await self._outgoing.get())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                assert isinstance(frame, bytes), frame
                self.raw.append(frame)
                self._handle(frame)
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    def _handle(self, frame: bytes) -> None:
        kind = frame[0]
        if kind == YMessageType.SYNC:
            self._remote = True
            try:
                reply = handle_sync_message(frame[1:], self.doc)
            finally:
                self._remote = False
            if reply is not None:
                self._outgoing.put_nowait(reply)
            if frame[1] == YSyncMessageType.SYNC_STEP2:
                self.synced.set()
        elif kind == YMessageType.AWARENESS:
            for entry in protocol.parse_awareness(frame):
                self.awareness_ids.add(entry.client_id)
            self.awareness.apply_awareness_update(read_message(frame[1:]), "remote")
        elif kind == protocol.MESSAGE_PREQUEL:
            self.notices.append(protocol.parse_prequel(frame))

    # helpers for tests ------------------------------------------------------------------------

    def text(self, path: str) -> str | None:
        value = self.files.get(path)
        return str(value) if isinstance(value, Text) else None

    def ytext(self, path: str) -> Text:
        value = self.files.get(path)
        assert isinstance(value, Text), f"{path} is not in the document"
        return value

    def insert(self, path: str, index: int, content: str) -> None:
        """Insert at a character index (pycrdt counts UTF-8 bytes)."""
        ytext = self.ytext(path)
        ytext.insert(len(str(ytext)[:index].encode()), content)

    def set_awareness(self, state: dict[str, Any]) -> None:
        self.awareness.set_local_state(state)
        update = self.awareness.encode_awareness_update([self.doc.client_id])
        self._outgoing.put_nowait(create_awareness_message(update))

    def notice(self, kind: str) -> dict[str, Any] | None:
        return next((n for n in self.notices if n.get("type") == kind), None)

    async def send_raw(self, frame: bytes) -> None:
        await self.ws.send(frame)


async def wait_for(predicate: Callable[[], object], seconds: float = 10, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def raw_connect(
    socket_path: Path,
    path: str,
    token: str,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> AsyncIterator[ClientConnection]:
    async with unix_connect(
        str(socket_path),
        f"ws://agent{path}",
        additional_headers={"Authorization": f"Bearer {token}", **(headers or {})},
        max_size=64 * 1024 * 1024,
        **options,
    ) as ws:
        yield ws


@asynccontextmanager
async def yconnect(
    socket_path: Path,
    token: str,
    *,
    path: str = "/collab/doc",
    headers: Mapping[str, str] | None = None,
    doc: Doc[Any] | None = None,
    wait_synced: bool = True,
) -> AsyncIterator[YClient]:
    async with raw_connect(socket_path, path, token, headers) as ws:
        client = YClient(ws, doc)
        client.start()
        try:
            if wait_synced:
                async with asyncio.timeout(10):
                    await asyncio.wait(
                        [
                            asyncio.ensure_future(client.synced.wait()),
                            asyncio.ensure_future(client.closed.wait()),
                        ],
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                if not client.synced.is_set():
                    raise AssertionError(
                        f"closed before syncing: {client.close_code} {ws.close_reason}"
                    )
            yield client
        finally:
            await client.stop()


async def chat_receive(ws: ClientConnection, seconds: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        message = json.loads(await ws.recv())
    assert isinstance(message, dict)
    return message
