"""A sliding-window log rate limiter. See README.md for the full statement."""

from __future__ import annotations

import time
from collections.abc import Callable


class SlidingWindowRateLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock

    def allow(self, key: str) -> bool:
        """Record and allow the request if `key` is under its limit; otherwise refuse it."""
        raise NotImplementedError("allow() is not implemented yet")

    def remaining(self, key: str) -> int:
        """How many more requests `key` may make right now."""
        raise NotImplementedError("remaining() is not implemented yet")

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may make a request (0.0 if it may now)."""
        raise NotImplementedError("retry_after() is not implemented yet")

    def __len__(self) -> int:
        """Number of keys with at least one allowed request in the current window."""
        raise NotImplementedError("__len__() is not implemented yet")
