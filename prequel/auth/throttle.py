"""Failed-login throttling per account and per client IP, in memory or in Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from prequel.settings import AuthSettings


@dataclass(frozen=True)
class Throttled:
    retry_after_seconds: int
    scope: str  # "account" or "ip"


def open_limits_storage(url: str) -> Storage:
    """'memory://' or 'redis://host:port/db' from settings, as an async limits storage."""
    scheme_url = url if url.startswith("async+") else f"async+{url}"
    options: dict[str, str] = {}
    if scheme_url.startswith(("async+redis://", "async+rediss://")):
        options["implementation"] = "redispy"  # redis-py is already a dependency; coredis is not
    storage = storage_from_string(scheme_url, **options)
    if not isinstance(storage, Storage):
        raise ValueError(f"rate-limit storage {url!r} has no async implementation")
    return storage


class LoginThrottle:
    def __init__(self, storage: Storage, settings: AuthSettings) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_account = RateLimitItemPerSecond(
            settings.login_attempts_per_account, settings.login_window_seconds
        )
        self._per_ip = RateLimitItemPerSecond(
            settings.login_attempts_per_ip, settings.login_window_seconds
        )

    async def check(self, email: str, ip: str) -> Throttled | None:
        """Whether another attempt is allowed now; failures are counted by record_failure."""
        for scope, item, key in self._scopes(email, ip):
            if not await self._limiter.test(item, "login", scope, key):
                stats = await self._limiter.get_window_stats(item, "login", scope, key)
                wait = max(1, int(stats.reset_time - time.time()) + 1)
                return Throttled(retry_after_seconds=wait, scope=scope)
        return None

    async def record_failure(self, email: str, ip: str) -> None:
        for scope, item, key in self._scopes(email, ip):
            await self._limiter.hit(item, "login", scope, key)

    async def record_success(self, email: str) -> None:
        await self._limiter.clear(self._per_account, "login", "account", email)

    async def close(self) -> None:
        # limits has no public close(); its Redis bridge keeps the redis-py client in .storage.
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        aclose = getattr(client, "aclose", None)
        if aclose is not None:
            await aclose()

    def _scopes(self, email: str, ip: str) -> list[tuple[str, RateLimitItemPerSecond, str]]:
        return [("account", self._per_account, email), ("ip", self._per_ip, ip)]
