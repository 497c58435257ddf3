"""Candidate rate limits on each rate-limit storage: in memory and a real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from prequel.auth.candidate_throttle import CandidateThrottle
from prequel.auth.throttle import open_limits_storage
from prequel.domain.rules import START_ATTEMPTS_PER_IP_PER_HOUR
from prequel.settings import CandidateSettings

REDIS_URL = os.environ.get("PREQUEL_TEST_REDIS_URL", "")
STORAGES = ["memory://", *([REDIS_URL] if REDIS_URL else [])]


@pytest.fixture(params=STORAGES, ids=lambda url: url.split(":")[0])
async def throttle(request: pytest.FixtureRequest) -> AsyncIterator[CandidateThrottle]:
    # Redis outlives the test and the global counter has one key: a fresh storage URL per
    # test is not possible, so the global budget is large and per-IP keys are unique.
    limits = CandidateSettings(lookups_per_ip_per_minute=3, lookups_global_per_minute=10_000)
    limiter = CandidateThrottle(open_limits_storage(request.param), limits)
    yield limiter
    await limiter.close()


def unique_ip() -> str:
    return f"10.1.{uuid.uuid4().int % 250}.{uuid.uuid4().hex[:6]}"


async def test_three_starts_per_ip_per_hour(throttle: CandidateThrottle) -> None:
    ip = unique_ip()
    for _ in range(START_ATTEMPTS_PER_IP_PER_HOUR):
        assert await throttle.start_attempt(ip) is None
    blocked = await throttle.start_attempt(ip)
    assert blocked is not None and blocked.scope == "start-ip"
    assert 60 < blocked.retry_after_seconds <= 3601
    assert await throttle.start_attempt(unique_ip()) is None


async def test_lookups_per_ip_per_minute(throttle: CandidateThrottle) -> None:
    ip = unique_ip()
    for _ in range(3):
        assert await throttle.lookup(ip) is None
    blocked = await throttle.lookup(ip)
    assert blocked is not None and blocked.scope == "lookup-ip"
    assert 0 < blocked.retry_after_seconds <= 61
    # Lookups and starts have separate budgets.
    assert await throttle.start_attempt(ip) is None


async def test_the_global_lookup_budget_spans_addresses() -> None:
    limits = CandidateSettings(lookups_per_ip_per_minute=100, lookups_global_per_minute=4)
    throttle = CandidateThrottle(open_limits_storage("memory://"), limits)
    for _ in range(4):
        assert await throttle.lookup(unique_ip()) is None
    blocked = await throttle.lookup(unique_ip())
    assert blocked is not None and blocked.scope == "lookup-all"
    await throttle.close()
