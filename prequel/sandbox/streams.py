"""Output of a sandboxed run: what is kept for the Outcome, and live chunks for readers.

Chunks are bytes, never decoded here: invalid UTF-8 or one line of 100 MB cannot break the
stream. Runs with pipes keep at most `output_bytes` per stream, so the log of chunks is bounded
and every reader gets everything from the start. A terminal (PTY) lives for the interview: it
keeps only the last `output_bytes`, readers get chunks from when they start, and a reader that
falls far behind slows the terminal down (backpressure) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator


class StreamCapture:
    """The bytes of one stream kept for the Outcome."""

    def __init__(self, limit: int, *, keep_tail: bool = False) -> None:
        self.limit = limit
        self.keep_tail = keep_tail
        self.data = bytearray()
        self.total = 0
        self.truncated = False

    def add(self, chunk: bytes) -> bytes:
        """Record a chunk; return the part readers should see (empty past the limit)."""
        self.total += len(chunk)
        if self.keep_tail:
            self.data += chunk
            if len(self.data) > self.limit:
                del self.data[: len(self.data) - self.limit]
                self.truncated = True
            return chunk
        room = self.limit - len(self.data)
        kept = chunk[: max(room, 0)]
        self.data += kept
        if len(chunk) > room:
            self.truncated = True
        return kept


class OutputLog:
    """Chunks in arrival order, for any number of concurrent readers."""

    def __init__(self, *, replay: bool, max_lag: int = 64) -> None:
        self._replay = replay
        self._max_lag = max_lag
        self._chunks: list[tuple[str, bytes]] = []
        self._first = 0  # absolute index of _chunks[0] (a terminal drops what all have read)
        self._readers: dict[int, int] = {}  # reader id -> absolute index of its next chunk
        self._ids = itertools.count()
        self._grew = asyncio.Event()
        self._progress = asyncio.Event()
        self.closed = False

    @property
    def _end(self) -> int:
        return self._first + len(self._chunks)

    def append(self, stream: str, data: bytes) -> None:
        if not data or (not self._replay and not self._readers):
            return
        self._chunks.append((stream, data))
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        # A fresh event per generation: every waiter captured the old one and wakes up.
        grew, self._grew = self._grew, asyncio.Event()
        grew.set()

    async def wait_for_readers(self) -> None:
        """Backpressure: wait while some reader is more than max_lag chunks behind."""
        while self._readers and self._end - min(self._readers.values()) > self._max_lag:
            self._progress.clear()
            await self._progress.wait()

    async def read(self) -> AsyncIterator[tuple[str, bytes]]:
        reader = next(self._ids)
        self._readers[reader] = self._first if self._replay else self._end
        try:
            while True:
                position = self._readers[reader]
                if position < self._end:
                    self._readers[reader] = position + 1
                    item = self._chunks[position - self._first]
                    self._advanced()
                    yield item
                elif self.closed:
                    return
                else:
                    await self._grew.wait()
        finally:
            del self._readers[reader]
            self._advanced()

    def _advanced(self) -> None:
        self._progress.set()
        if not self._replay:
            lowest = min(self._readers.values(), default=self._end)
            if lowest > self._first:
                del self._chunks[: lowest - self._first]
                self._first = lowest
