"""Failed-login throttling on each rate-limit storage: in memory and a real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from prequel.auth.throttle import LoginThrottle, open_limits_storage
from prequel.settings import AuthSettings

REDIS_URL = os.environ.get("PREQUEL_TEST_REDIS_URL", "")
STORAGES = ["memory://", *([REDIS_URL] if REDIS_URL else [])]


@pytest.fixture(params=STORAGES, ids=lambda url: url.split(":")[0])
async def throttle(request: pytest.FixtureRequest) -> AsyncIterator[LoginThrottle]:
    auth = AuthSettings(login_attempts_per_account=3, login_attempts_per_ip=5)
    limiter = LoginThrottle(open_limits_storage(request.param), auth)
    yield limiter
    await limiter.close()


def unique(name: str) -> str:
    # Redis outlives the test; unique keys keep runs independent.
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_account_is_throttled_after_its_limit(throttle: LoginThrottle) -> None:
    email, ip = unique("ann@example.com"), unique("10.0.0.1")
    for _ in range(3):
        assert await throttle.check(email, ip) is None
        await throttle.record_failure(email, ip)
    blocked = await throttle.check(email, ip)
    assert blocked is not None
    assert blocked.scope == "account"
    assert 0 < blocked.retry_after_seconds <= 15 * 60 + 1
    # Another account from another address is unaffected.
    assert await throttle.check(unique("bob@example.com"), unique("10.0.0.2")) is None


async def test_ip_is_throttled_across_accounts(throttle: LoginThrottle) -> None:
    ip = unique("10.0.0.3")
    for i in range(5):
        await throttle.record_failure(unique(f"user{i}@example.com"), ip)
    blocked = await throttle.check(unique("fresh@example.com"), ip)
    assert blocked is not None
    assert blocked.scope == "ip"


async def test_success_clears_the_account_counter(throttle: LoginThrottle) -> None:
    email, ip = unique("cat@example.com"), unique("10.0.0.4")
    for _ in range(2):
        await throttle.record_failure(email, ip)
    await throttle.record_success(email)
    for _ in range(2):
        await throttle.record_failure(email, ip)
    assert await throttle.check(email, ip) is None


def test_unknown_storage_scheme_is_refused() -> None:
    with pytest.raises(Exception, match="nosuch"):
        open_limits_storage("nosuch://x")
