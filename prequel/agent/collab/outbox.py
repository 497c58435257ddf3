"""A client's outgoing messages: a bounded queue and the one task that writes it out.

Nothing that broadcasts ever waits for a client: `put` only queues, and never raises. A client
that reads too slowly lets its queue grow to the bound; then it is disconnected (it resyncs
when it reconnects) instead of making the agent hold ever more memory. A client whose socket
is gone is simply skipped: sending to it is a no-op, so one dropped client can never stop a
room or another client.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable

import anyio

log = logging.getLogger("prequel.agent.collab")

Message = bytes | str
Send = Callable[[Message], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]

# How long a closing notice may take to reach a client before the socket is given up on.
CLOSE_TIMEOUT = 2.0


class Outbox:
    def __init__(
        self,
        send: Send,
        close: Close,
        *,
        max_bytes: int,
        max_messages: int,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self._send = send
        self._close = close
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self.on_overflow = on_overflow
        self._queue: collections.deque[Message] = collections.deque()
        self._wakeup = anyio.Event()
        self.queued_bytes = 0
        self.peak_bytes = 0
        self.sent_messages = 0
        self.dead = False  # the socket failed or the client was too slow: nothing more is sent
        self.overflowed = False
        self._closing: tuple[int, str] | None = None
        self.done = anyio.Event()

    @property
    def queued_messages(self) -> int:
        return len(self._queue)

    def put(self, message: Message) -> bool:
        """Queue a message; False when it was dropped (the client is gone or too slow)."""
        if self.dead or self._closing is not None:
            return False
        size = len(message)
        if self.queued_bytes + size > self.max_bytes or len(self._queue) + 1 > self.max_messages:
            self.overflowed = self.dead = True
            self._queue.clear()
            self.queued_bytes = 0
            log.warning("a collaboration client reads too slowly; disconnecting it")
            if self.on_overflow is not None:
                self.on_overflow()
            self._wakeup.set()
            return False
        self._queue.append(message)
        self.queued_bytes += size
        self.peak_bytes = max(self.peak_bytes, self.queued_bytes)
        self._wakeup.set()
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send what is queued, then close the socket with `code`."""
        if self._closing is None:
            self._closing = (code, reason)
            self._wakeup.set()

    def abandon(self) -> None:
        """The client left: drop what is queued and stop."""
        self.dead = True
        self._queue.clear()
        self.queued_bytes = 0
        self._wakeup.set()

    async def run(self) -> None:
        """Write queued messages until closed, abandoned or the socket fails."""
        try:
            while not self.dead:
                if not self._queue:
                    if self._closing is not None:
                        with anyio.move_on_after(CLOSE_TIMEOUT):
                            await self._close(*self._closing)
                        return
                    self._wakeup = anyio.Event()
                    await self._wakeup.wait()
                    continue
                message = self._queue.popleft()
                self.queued_bytes -= len(message)
                await self._send(message)
                self.sent_messages += 1
        except Exception as exc:  # the socket is gone: stop quietly, others are unaffected
            log.debug("a collaboration socket failed while sending: %r", exc)
            self.dead = True
            self._queue.clear()
            self.queued_bytes = 0
        finally:
            self.done.set()
