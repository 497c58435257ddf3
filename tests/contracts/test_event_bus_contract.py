"""The EventBus contract: every backend (memory, redis) must pass every test here, unchanged.

The redis backend runs against the real Redis at PREQUEL_TEST_REDIS_URL, each test on its own
channel so that parallel runs cannot hear each other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from prequel.realtime.bus import Audience, BusEvent, EventBus, Subscription
from prequel.realtime.factory import open_event_bus
from prequel.realtime.fanout import DEFAULT_MAX_PENDING, BusClosed
from prequel.realtime.memory import InProcessBus
from prequel.realtime.redis import RedisBus
from prequel.settings import load_settings

REDIS_URL = os.environ.get("PREQUEL_TEST_REDIS_URL", "")
BACKENDS = ["memory", *(["redis"] if REDIS_URL else [])]

OpenBus = Callable[..., Awaitable[EventBus]]


def event(
    seq: int,
    *,
    type: str = "interview_update",
    org_id: str | None = "org-1",
    interview_id: str | None = None,
    audience: str = Audience.STAFF,
    payload: dict[str, object] | None = None,
) -> BusEvent:
    return BusEvent(
        seq=seq,
        type=type,
        org_id=org_id,
        interview_id=interview_id,
        audience=audience,
        payload={"n": seq} if payload is None else payload,
    )


async def take(subscription: Subscription, count: int, within: float = 5) -> list[BusEvent]:
    received: list[BusEvent] = []
    iterator = aiter(subscription)
    async with asyncio.timeout(within):
        while len(received) < count:
            received.append(await anext(iterator))
    return received


async def drain_until_end(subscription: Subscription, within: float = 5) -> list[BusEvent]:
    """Everything left before iteration ends; fails if it does not end in time."""
    async with asyncio.timeout(within):
        return [item async for item in subscription]


async def nothing_within(subscription: Subscription, seconds: float = 0.2) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await anext(aiter(subscription))
    except TimeoutError:
        return True
    return False


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def open_bus(backend: str) -> AsyncIterator[OpenBus]:
    """Opens buses of the backend under test; every bus of one test shares one channel, as
    the processes of one deployment do."""
    channel = f"prequel:test:{uuid.uuid4().hex}"
    opened: list[EventBus] = []

    async def make(max_pending: int = DEFAULT_MAX_PENDING) -> EventBus:
        bus: EventBus
        if backend == "redis":
            redis_bus = RedisBus(REDIS_URL, channel, max_pending=max_pending)
            await redis_bus.open()
            bus = redis_bus
        else:
            bus = InProcessBus(max_pending=max_pending)
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        await bus.close()


@pytest.fixture
async def bus(open_bus: OpenBus) -> EventBus:
    return await open_bus()


async def test_factory_opens_the_configured_backend(backend: str) -> None:
    events = {"backend": backend, "channel": f"prequel:test:{uuid.uuid4().hex}"}
    if backend == "redis":
        events["redis_url"] = REDIS_URL
    bus = await open_event_bus(load_settings(events=events))
    try:
        assert bus.name == backend
        subscription = await bus.subscribe()
        await bus.publish([event(1)])
        assert await take(subscription, 1) == [event(1)]
    finally:
        await bus.close()


async def test_a_subscriber_receives_what_is_published_after_subscribe(bus: EventBus) -> None:
    subscription = await bus.subscribe()

    await bus.publish([event(1)])

    assert await take(subscription, 1) == [event(1)]


async def test_events_keep_every_field(bus: EventBus) -> None:
    subscription = await bus.subscribe()
    sent = [
        event(7, org_id=None, interview_id="iv-1", audience=Audience.CANDIDATE),
        event(8, audience=Audience.ALL, payload={"nested": {"list": [1, "two", None]}, "é": "✓"}),
        event(9, type="scheduler_event", payload={}),
    ]

    await bus.publish(sent)

    assert await take(subscription, 3) == sent


async def test_order_is_preserved_within_and_across_publishes(bus: EventBus) -> None:
    subscription = await bus.subscribe()

    await bus.publish([event(1), event(2), event(3)])
    for seq in range(4, 40):
        await bus.publish([event(seq)])

    assert [e.seq for e in await take(subscription, 39)] == list(range(1, 40))


async def test_every_subscriber_gets_everything(bus: EventBus) -> None:
    subscriptions = [await bus.subscribe() for _ in range(3)]

    for seq in range(1, 51):
        await bus.publish([event(seq)])

    for subscription in subscriptions:
        assert [e.seq for e in await take(subscription, 50)] == list(range(1, 51))


async def test_an_event_published_before_subscribe_is_not_delivered(bus: EventBus) -> None:
    early = await bus.subscribe()  # keeps the bus busy delivering while the next one joins
    await bus.publish([event(1)])

    late = await bus.subscribe()
    await bus.publish([event(2)])

    assert await take(late, 1) == [event(2)]
    assert await take(early, 2) == [event(1), event(2)]


async def test_publishing_nothing_delivers_nothing(bus: EventBus) -> None:
    subscription = await bus.subscribe()

    await bus.publish([])

    assert await nothing_within(subscription)


async def test_close_ends_iteration_and_stops_delivery(bus: EventBus) -> None:
    closing = await bus.subscribe()
    staying = await bus.subscribe()
    waiting = asyncio.create_task(drain_until_end(closing))
    await asyncio.sleep(0.05)  # the reader is now blocked waiting for an event

    await closing.close()
    await closing.close()  # closing twice is harmless
    await bus.publish([event(1)])

    assert await waiting == []
    assert await drain_until_end(closing) == []
    assert await take(staying, 1) == [event(1)]


async def test_a_subscriber_that_falls_behind_is_dropped_without_blocking_publish(
    open_bus: OpenBus, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await open_bus(max_pending=5)
    slow = await bus.subscribe()  # never reads
    fast = await bus.subscribe()
    received: list[BusEvent] = []
    caught_up = asyncio.Event()

    async def read_fast() -> None:
        async for item in fast:
            received.append(item)
            caught_up.set()
            if len(received) == 20:
                return

    reader = asyncio.create_task(read_fast())
    publishing = 0.0
    with caplog.at_level(logging.WARNING, logger="prequel.realtime.fanout"):
        async with asyncio.timeout(10):
            for seq in range(1, 21):
                started = time.monotonic()
                await bus.publish([event(seq)])
                publishing = max(publishing, time.monotonic() - started)
                await caught_up.wait()  # the fast reader keeps up
                caught_up.clear()
            await reader
        left = await drain_until_end(slow)

    assert publishing < 1
    assert [e.seq for e in received] == list(range(1, 21))
    assert len(left) < 20  # it ended early instead of holding everything
    assert "fell 5 events behind" in caplog.text


async def test_closing_the_bus_ends_every_subscription(bus: EventBus) -> None:
    subscriptions = [await bus.subscribe() for _ in range(3)]
    readers = [asyncio.create_task(drain_until_end(s)) for s in subscriptions]
    await asyncio.sleep(0.05)

    await bus.close()

    assert [await reader for reader in readers] == [[], [], []]
    with pytest.raises(BusClosed):
        await bus.subscribe()
    await bus.publish([event(1)])  # publishing after close is ignored, not an error
    await bus.close()  # and so is closing twice


async def test_two_bus_instances_see_each_others_events(backend: str, open_bus: OpenBus) -> None:
    if backend == "memory":
        pytest.skip("the memory bus serves one process by design")
    portal, worker = await open_bus(), await open_bus()
    on_portal = await portal.subscribe()
    on_worker = await worker.subscribe()

    await worker.publish([event(1)])
    await portal.publish([event(2)])

    assert await take(on_portal, 2) == [event(1), event(2)]
    assert await take(on_worker, 2) == [event(1), event(2)]
