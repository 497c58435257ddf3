from rate_limiter import SlidingWindowRateLimiter


def test_allows_requests_up_to_the_limit(clock):
    limiter = SlidingWindowRateLimiter(limit=3, window_seconds=10, clock=clock)
    assert [limiter.allow("alice") for _ in range(3)] == [True, True, True]


def test_refuses_requests_over_the_limit(clock):
    limiter = SlidingWindowRateLimiter(limit=2, window_seconds=10, clock=clock)
    assert limiter.allow("alice")
    assert limiter.allow("alice")
    assert not limiter.allow("alice")
    assert not limiter.allow("alice")


def test_window_slides_forward(clock):
    limiter = SlidingWindowRateLimiter(limit=2, window_seconds=10, clock=clock)
    assert limiter.allow("alice")  # t=0
    clock.advance(1)
    assert limiter.allow("alice")  # t=1
    clock.advance(1)
    assert not limiter.allow("alice")  # t=2
    clock.advance(8.5)
    assert limiter.allow("alice")  # t=10.5: the request at 0 has expired
    assert not limiter.allow("alice")  # the one at 1 still counts


def test_keys_are_independent(clock):
    limiter = SlidingWindowRateLimiter(limit=1, window_seconds=60, clock=clock)
    assert limiter.allow("alice")
    assert not limiter.allow("alice")
    assert limiter.allow("bob")


def test_remaining_counts_down(clock):
    limiter = SlidingWindowRateLimiter(limit=3, window_seconds=10, clock=clock)
    assert limiter.remaining("alice") == 3
    limiter.allow("alice")
    assert limiter.remaining("alice") == 2
