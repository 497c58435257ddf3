import pytest
from rate_limiter import SlidingWindowRateLimiter


def test_request_expires_exactly_at_the_window_edge(clock):
    limiter = SlidingWindowRateLimiter(limit=1, window_seconds=10, clock=clock)
    assert limiter.allow("a")
    clock.advance(9.999)
    assert not limiter.allow("a")
    clock.now = 10.0
    assert limiter.allow("a")


def test_rejected_requests_do_not_count(clock):
    limiter = SlidingWindowRateLimiter(limit=2, window_seconds=10, clock=clock)
    assert limiter.allow("a")  # t=0
    assert limiter.allow("a")  # t=0
    for _ in range(5):
        clock.advance(1)
        assert not limiter.allow("a")  # t=1..5, all refused
    clock.now = 10.0
    assert limiter.allow("a")
    assert limiter.allow("a")
    assert not limiter.allow("a")


def test_remaining_does_not_record_and_recovers(clock):
    limiter = SlidingWindowRateLimiter(limit=2, window_seconds=5, clock=clock)
    for _ in range(10):
        assert limiter.remaining("a") == 2
    limiter.allow("a")
    limiter.allow("a")
    limiter.allow("a")
    assert limiter.remaining("a") == 0
    clock.advance(5)
    assert limiter.remaining("a") == 2


def test_retry_after(clock):
    limiter = SlidingWindowRateLimiter(limit=2, window_seconds=10, clock=clock)
    assert limiter.retry_after("a") == 0.0
    limiter.allow("a")  # t=0
    clock.advance(1)
    limiter.allow("a")  # t=1
    assert limiter.retry_after("a") == pytest.approx(9.0)
    clock.advance(1)
    assert limiter.retry_after("a") == pytest.approx(8.0)
    clock.now = 10.0
    assert limiter.retry_after("a") == 0.0
    assert limiter.allow("a")
    assert limiter.retry_after("a") == pytest.approx(1.0)  # waits for the request at t=1


def test_invalid_arguments():
    for limit, window in [(0, 10), (-1, 10), (1, 0), (1, -5)]:
        with pytest.raises(ValueError):
            SlidingWindowRateLimiter(limit=limit, window_seconds=window)


def test_expired_keys_are_forgotten(clock):
    limiter = SlidingWindowRateLimiter(limit=5, window_seconds=10, clock=clock)
    for key in ("a", "b", "c"):
        limiter.allow(key)
    assert len(limiter) == 3
    clock.advance(5)
    limiter.allow("d")
    assert len(limiter) == 4
    clock.advance(5)
    assert len(limiter) == 1  # a, b and c expired at t=10
    clock.advance(5)
    assert len(limiter) == 0


def test_fractional_times(clock):
    limiter = SlidingWindowRateLimiter(limit=3, window_seconds=0.5, clock=clock)
    assert limiter.allow("k")
    clock.advance(0.2)
    assert limiter.allow("k")
    clock.advance(0.2)
    assert limiter.allow("k")
    assert not limiter.allow("k")
    clock.advance(0.11)  # t=0.51: the first request has expired
    assert limiter.allow("k")


def test_many_requests(clock):
    limiter = SlidingWindowRateLimiter(limit=100, window_seconds=1000, clock=clock)
    allowed = 0
    for i in range(100_000):
        clock.now = float(i)  # one request per time unit
        allowed += limiter.allow("busy")
    assert allowed == 10_000  # 100 per window of 1000 units, over 100 windows
    assert limiter.remaining("busy") == 0
    assert len(limiter) == 1
