"""The adapter between a Starlette WebSocket and pycrdt-websocket's `Channel` protocol
(`path`, `send`, `recv`, async iteration).

What the room sends goes through the client's `Outbox` (bounded, never raising, a no-op once
the socket is gone). What the client sends passes the room's inbound filter first, so roles
and the observe mode are enforced before pycrdt applies anything. Iteration ends when the
client leaves or when the room finished the connection (after refusing an edit).
"""

from __future__ import annotations

from typing import Protocol

from starlette.websockets import WebSocket

from prequel.agent.collab.identity import Identity
from prequel.agent.collab.outbox import Outbox

CLOSE_TOO_LARGE = 1009


class Filters(Protocol):
    """What a room decides about each message (see room.CollabRoom)."""

    def inbound(self, channel: SocketChannel, message: bytes) -> bytes | None: ...

    def outbound(self, channel: SocketChannel, message: bytes) -> bytes | None: ...


class SocketChannel:
    def __init__(
        self,
        websocket: WebSocket,
        path: str,
        identity: Identity,
        outbox: Outbox,
        *,
        max_message_bytes: int,
    ) -> None:
        self._websocket = websocket
        self._path = path
        self.identity = identity
        self.outbox = outbox
        self.max_message_bytes = max_message_bytes
        self.filters: Filters | None = None
        self.finished: tuple[int, str] | None = None
        self.received_messages = 0

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self) -> SocketChannel:
        return self

    async def __anext__(self) -> bytes:
        while self.finished is None and not self.outbox.dead:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                self.outbox.abandon()
                break
            data = message.get("bytes")
            if data is None:
                continue  # y-websocket speaks binary only; text frames are ignored
            if len(data) > self.max_message_bytes:
                self.finish(CLOSE_TOO_LARGE, "message too large")
                break
            self.received_messages += 1
            if self.filters is not None:
                data = self.filters.inbound(self, data)
            if data is not None and self.finished is None:
                return data
        raise StopAsyncIteration

    async def recv(self) -> bytes:
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise ConnectionError("the collaboration socket is closed") from None

    async def send(self, message: bytes) -> None:
        """Queue a message for this client; never blocks, never raises."""
        self.post(message)

    def post(self, message: bytes) -> bool:
        if self.filters is not None:
            filtered = self.filters.outbound(self, message)
            if filtered is None:
                return False
            message = filtered
        return self.outbox.put(message)

    def finish(self, code: int, reason: str) -> None:
        """End this connection: stop reading, send what is queued, then close with `code`."""
        if self.finished is None:
            self.finished = (code, reason)
            self.outbox.close(code, reason)
