"""A sliding-window log rate limiter (reference solution)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class SlidingWindowRateLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be an integer of at least 1")
        if not window_seconds > 0:
            raise ValueError("window_seconds must be greater than 0")
        self.limit = limit
        self.window_seconds = float(window_seconds)
        self.clock = clock
        self._log: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        """The key's allowed requests still inside the window; forgets the key when empty."""
        log = self._log.get(key)
        if log is None:
            return None
        horizon = now - self.window_seconds
        while log and log[0] <= horizon:
            log.popleft()
        if not log:
            del self._log[key]
            return None
        return log

    def allow(self, key: str) -> bool:
        now = self.clock()
        log = self._recent(key, now)
        if log is None:
            self._log[key] = deque([now])
            return True
        if len(log) >= self.limit:
            return False
        log.append(now)
        return True

    def remaining(self, key: str) -> int:
        log = self._recent(key, self.clock())
        return self.limit - (len(log) if log else 0)

    def retry_after(self, key: str) -> float:
        now = self.clock()
        log = self._recent(key, now)
        if log is None or len(log) < self.limit:
            return 0.0
        return log[0] + self.window_seconds - now

    def __len__(self) -> int:
        now = self.clock()
        for key in list(self._log):
            self._recent(key, now)
        return len(self._log)
