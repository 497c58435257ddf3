"""What only the redis bus has to get right: one connection per process, recovery after that
connection is killed, and a clear error when Redis is unreachable. Real Redis, own channel."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from prequel.realtime.bus import Audience, BusEvent
from prequel.realtime.fanout import BusUnavailable
from prequel.realtime.redis import RedisBus, listener_name
from tests.support.live import free_port

REDIS_URL = os.environ.get("PREQUEL_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="PREQUEL_TEST_REDIS_URL is not set")


def event(seq: int) -> BusEvent:
    return BusEvent(seq, "interview_update", "org-1", None, Audience.STAFF, {"n": seq})


@pytest.fixture
def channel() -> str:
    return f"prequel:test:{uuid.uuid4().hex}"


@pytest.fixture
async def admin() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def listener_ids(admin: Redis, channel: str) -> list[str]:
    clients = await admin.client_list(_type="pubsub")
    return [str(c["id"]) for c in clients if c.get("name") == listener_name(channel)]


async def test_many_subscribers_share_one_pubsub_connection(admin: Redis, channel: str) -> None:
    bus = RedisBus(REDIS_URL, channel)
    try:
        subscriptions = [await bus.subscribe() for _ in range(25)]

        assert len(await listener_ids(admin, channel)) == 1
        await bus.publish([event(1)])
        for subscription in subscriptions:
            assert await anext(aiter(subscription)) == event(1)
    finally:
        await bus.close()
    assert await listener_ids(admin, channel) == []


async def test_the_listener_reconnects_after_its_connection_is_killed(
    admin: Redis, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = RedisBus(REDIS_URL, channel, reconnect_max_seconds=0.5)
    try:
        subscription = await bus.subscribe()
        [connection_id] = await listener_ids(admin, channel)

        with caplog.at_level(logging.WARNING, logger="prequel.realtime.redis"):
            await admin.client_kill_filter(_id=connection_id)
            # Publish until the new connection hears it; events sent while it was down are
            # lost to the bus (SSE heartbeats catch them up from the database).
            received = None
            async with asyncio.timeout(10):
                seq = 0
                while received is None:
                    seq += 1
                    await bus.publish([event(seq)])
                    try:
                        async with asyncio.timeout(0.2):
                            received = await anext(aiter(subscription))
                    except TimeoutError:
                        pass

        assert received.seq >= 1
        assert "pub/sub connection" in caplog.text
        assert len(await listener_ids(admin, channel)) == 1
        # And the subscription keeps working in order afterwards.
        await bus.publish([event(1000), event(1001)])
        seqs: list[int] = []
        async with asyncio.timeout(5):
            while len(seqs) < 2:
                got = await anext(aiter(subscription))
                if got.seq >= 1000:
                    seqs.append(got.seq)
        assert seqs == [1000, 1001]
    finally:
        await bus.close()


async def test_an_unreachable_redis_fails_open_with_advice(channel: str) -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0", channel)
    try:
        with pytest.raises(BusUnavailable, match="PREQUEL_EVENTS__REDIS_URL"):
            await bus.open()
    finally:
        await bus.close()


async def test_subscribe_gives_up_when_redis_is_unreachable(channel: str) -> None:
    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0", channel, subscribe_timeout=0.5)
    try:
        with pytest.raises(BusUnavailable, match="could not subscribe"):
            await bus.subscribe()
        assert bus.subscriber_count == 0
    finally:
        await bus.close()


async def test_a_malformed_message_is_skipped(
    admin: Redis, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    bus = RedisBus(REDIS_URL, channel)
    try:
        subscription = await bus.subscribe()
        with caplog.at_level(logging.WARNING, logger="prequel.realtime.redis"):
            await admin.publish(channel, b"not json")
            await admin.publish(channel, b'[{"no": "seq"}]')
            await bus.publish([event(7)])
            async with asyncio.timeout(5):
                assert await anext(aiter(subscription)) == event(7)
        assert caplog.text.count("malformed") == 2
    finally:
        await bus.close()
