"""Rate limits on the public candidate routes, in the same storage as the login throttle.

Passcodes and workspace passwords are the only thing between the internet and a workspace,
so guessing them is slowed per client IP and, against guessing spread over many addresses,
for everyone together. Start attempts have their own, much smaller budget (seed 000: three
per IP per hour). Every attempt counts, successful or not: the limit is on trying. Wrong
workspace passwords have one more budget of their own, counted only when wrong, so a
candidate who mistypes a few times is slowed down long before a guesser gets anywhere.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from prequel.auth.throttle import Throttled
from prequel.domain.rules import START_ATTEMPTS_PER_IP_PER_HOUR
from prequel.settings import CandidateSettings

NAMESPACE = "candidate"
WRONG_PASSWORDS_PER_IP = 10
WRONG_PASSWORD_WINDOW_MINUTES = 15


class CandidateThrottle:
    def __init__(self, storage: Storage, settings: CandidateSettings) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._starts_per_ip = RateLimitItemPerHour(START_ATTEMPTS_PER_IP_PER_HOUR)
        self._lookups_per_ip = RateLimitItemPerMinute(settings.lookups_per_ip_per_minute)
        self._lookups_global = RateLimitItemPerMinute(settings.lookups_global_per_minute)
        self._wrong_passwords = RateLimitItemPerMinute(
            WRONG_PASSWORDS_PER_IP, WRONG_PASSWORD_WINDOW_MINUTES
        )

    async def start_attempt(self, ip: str) -> Throttled | None:
        """Count one Start from this IP; Throttled when it is over the hourly budget."""
        return await self._hit([("start-ip", self._starts_per_ip, ip)])

    async def lookup(self, ip: str) -> Throttled | None:
        """Count one passcode lookup or join attempt, per IP and for everyone."""
        return await self._hit(
            [
                ("lookup-ip", self._lookups_per_ip, ip),
                ("lookup-all", self._lookups_global, "*"),
            ]
        )

    async def password_attempt(self, ip: str) -> Throttled | None:
        """Throttled when this IP has used up its wrong-password budget; counts nothing
        (wrong_password does, once the password turned out wrong)."""
        item = self._wrong_passwords
        if await self._limiter.test(item, NAMESPACE, "password-ip", ip):
            return None
        return await self._throttled(item, "password-ip", ip)

    async def wrong_password(self, ip: str) -> None:
        await self._limiter.hit(self._wrong_passwords, NAMESPACE, "password-ip", ip)

    async def _throttled(self, item: RateLimitItem, scope: str, key: str) -> Throttled:
        stats = await self._limiter.get_window_stats(item, NAMESPACE, scope, key)
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        return Throttled(retry_after_seconds=wait, scope=scope)

    async def _hit(self, scopes: list[tuple[str, RateLimitItem, str]]) -> Throttled | None:
        for scope, item, key in scopes:
            if not await self._limiter.hit(item, NAMESPACE, scope, key):
                return await self._throttled(item, scope, key)
        return None

    async def close(self) -> None:
        # limits has no public close(); its Redis bridge keeps the redis-py client in .storage.
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        aclose = getattr(client, "aclose", None)
        if aclose is not None:
            await aclose()
