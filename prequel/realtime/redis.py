"""The Redis event bus: events reach every `prequel serve` replica and `prequel worker`.

Each bus instance holds ONE pub/sub connection, whatever its number of subscribers, and fans
messages out locally (prequel.realtime.fanout), so a thousand SSE clients cost Redis one
connection per process. Publishing is best effort: the events are already committed to the
events table, and SSE streams pick up anything lost here at their next heartbeat.

subscribe() returns only once the subscription is in place: it sends a PING with a token on
the pub/sub connection and registers the subscriber when the listener reads the PONG. Redis
answers in order, so every message published before the PONG was sent is skipped and every
message published after subscribe() returned is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import uuid
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from prequel.realtime.bus import BusEvent
from prequel.realtime.fanout import (
    DEFAULT_MAX_PENDING,
    BusClosed,
    BusUnavailable,
    Fanout,
    FanoutSubscription,
)

log = logging.getLogger(__name__)

_BARRIER = "prequel-bus-subscribe:"
_ALIVE = "prequel-bus-alive"
# Errors that mean "the connection is gone": reconnect rather than give up.
_CONNECTION_ERRORS = (RedisError, OSError, TimeoutError)


def _safe_url(url: str) -> str:
    """The URL without its password, for log lines."""
    scheme, sep, rest = url.partition("://")
    return scheme + sep + rest.rpartition("@")[2] if sep else url


def listener_name(channel: str) -> str:
    """The Redis client name of the pub/sub connection listening on `channel`."""
    return "prequel-bus:" + "".join(c if c.isprintable() and c != " " else "_" for c in channel)


class RedisBus:
    name = "redis"

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        subscribe_timeout: float = 10.0,
        idle_ping_seconds: float = 5.0,
        reconnect_max_seconds: float = 10.0,
    ) -> None:
        self._url = url
        self._channel = channel
        self._fanout = Fanout(self.name, max_pending)
        self._subscribe_timeout = subscribe_timeout
        self._idle_ping_seconds = idle_ping_seconds
        self._reconnect_max_seconds = reconnect_max_seconds
        self._publisher: Redis | None = None
        self._listener_client: Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        # Set while the listener's SUBSCRIBE is confirmed; _pubsub is then its connection.
        self._ready = asyncio.Event()
        self._pubsub: PubSub | None = None
        # Subscriptions waiting for their PONG, by token.
        self._barriers: dict[str, tuple[FanoutSubscription, asyncio.Future[None]]] = {}
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._fanout)

    # Clients are built on first use, never at import or construction.

    def _publisher_client(self) -> Redis:
        if self._publisher is None:
            self._publisher = Redis.from_url(
                self._url,
                socket_connect_timeout=5,
                socket_timeout=5,
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
            )
        return self._publisher

    def _listener_redis(self) -> Redis:
        if self._listener_client is None:
            # No silent retries: the listener notices a lost connection and resubscribes.
            self._listener_client = Redis.from_url(
                self._url,
                socket_connect_timeout=5,
                socket_timeout=10,
                socket_keepalive=True,
                retry=Retry(NoBackoff(), 0),
                # Named, so `CLIENT LIST` shows which connection is the bus's.
                client_name=listener_name(self._channel),
            )
        return self._listener_client

    async def open(self) -> None:
        """Prove Redis answers, so a wrong URL stops the portal at startup."""
        try:
            await self._publisher_client().ping()
        except _CONNECTION_ERRORS as exc:
            raise BusUnavailable(
                f"the redis event bus cannot reach {_safe_url(self._url)}: {exc}; start Redis, "
                "fix PREQUEL_EVENTS__REDIS_URL, or set PREQUEL_EVENTS__BACKEND=memory for a "
                "single process"
            ) from exc

    # Publishing --------------------------------------------------------------------------

    async def publish(self, events: list[BusEvent]) -> None:
        if not events or self._closed:
            return
        message = json.dumps([event.to_dict() for event in events], separators=(",", ":"))
        try:
            await self._publisher_client().publish(self._channel, message)
        except _CONNECTION_ERRORS as exc:
            log.warning(
                "redis event bus: could not publish %d event(s) (seq %d..%d) to %s: %s; SSE "
                "clients will get them from the database at their next heartbeat",
                len(events),
                events[0].seq,
                events[-1].seq,
                _safe_url(self._url),
                exc,
            )

    # Subscribing -------------------------------------------------------------------------

    async def subscribe(self) -> FanoutSubscription:
        if self._closed:
            raise BusClosed("the redis event bus is closed")
        self._start_listener()
        subscription = self._fanout.create()
        token = uuid.uuid4().hex
        registered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._barriers[token] = (subscription, registered)
        done = False
        try:
            async with asyncio.timeout(self._subscribe_timeout):
                while not registered.done():
                    await self._ready.wait()
                    pubsub = self._pubsub
                    if pubsub is not None:
                        # On failure the listener notices, reconnects, and we ping again.
                        with contextlib.suppress(*_CONNECTION_ERRORS):
                            await pubsub.ping(_BARRIER + token)
                    # A PONG lost with its connection is never answered: ask again.
                    await asyncio.wait([registered], timeout=1.0)
                registered.result()
            done = True
            return subscription
        except TimeoutError:
            raise BusUnavailable(
                f"the redis event bus could not subscribe to {self._channel!r} on "
                f"{_safe_url(self._url)} within {self._subscribe_timeout:g} s"
            ) from None
        finally:
            self._barriers.pop(token, None)
            if not done:
                subscription.end()

    def _start_listener(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="redis event bus listener")

    async def _listen(self) -> None:
        delay = 0.1
        failures = 0
        while not self._closed:
            pubsub = self._listener_redis().pubsub()
            try:
                await pubsub.subscribe(self._channel)
                await self._confirm(pubsub)
                if failures:
                    log.info(
                        "redis event bus: listening on %r again after %d failed attempt(s)",
                        self._channel,
                        failures,
                    )
                failures, delay = 0, 0.1
                self._pubsub = pubsub
                self._ready.set()
                await self._pump(pubsub)
            except _CONNECTION_ERRORS as exc:
                failures += 1
                log.warning(
                    "redis event bus: pub/sub connection to %s lost (%s); reconnecting in "
                    "%.1f s; events published meanwhile reach SSE clients at their heartbeat",
                    _safe_url(self._url),
                    exc or type(exc).__name__,
                    delay,
                )
            except Exception:
                failures += 1
                log.exception("redis event bus: listener failed; restarting in %.1f s", delay)
            finally:
                self._ready.clear()
                self._pubsub = None
                await self._close_pubsub(pubsub)
            if self._closed:
                break
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311
            delay = min(delay * 2, self._reconnect_max_seconds)

    async def _confirm(self, pubsub: PubSub) -> None:
        """Wait for the server's answer to SUBSCRIBE, so nothing after it is missed."""
        async with asyncio.timeout(self._subscribe_timeout):
            while True:
                message = await pubsub.get_message(timeout=self._subscribe_timeout)
                if message is not None and message["type"] == "subscribe":
                    return

    async def _pump(self, pubsub: PubSub) -> None:
        """Read messages until the connection fails; PING when idle to detect a dead peer."""
        loop = asyncio.get_running_loop()
        ping_sent_at: float | None = None
        while True:
            message = await pubsub.get_message(timeout=self._idle_ping_seconds)
            if message is not None:
                ping_sent_at = None  # any traffic proves the connection alive
                self._handle(message)
                continue
            if ping_sent_at is None:
                await pubsub.ping(_ALIVE)
                ping_sent_at = loop.time()
            elif loop.time() - ping_sent_at > 2 * self._idle_ping_seconds:
                raise TimeoutError("no answer to PING on the pub/sub connection")

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        data = message["data"]
        if kind == "message":
            events = self._decode(data)
            if events:
                self._fanout.deliver(events)
        elif kind == "pong" and isinstance(data, bytes):
            text = data.decode(errors="replace")
            if text.startswith(_BARRIER):
                barrier = self._barriers.pop(text.removeprefix(_BARRIER), None)
                if barrier is not None:
                    subscription, registered = barrier
                    if not registered.done():
                        self._fanout.register(subscription)
                        registered.set_result(None)

    def _decode(self, data: Any) -> list[BusEvent]:
        try:
            items = json.loads(data)
            if isinstance(items, dict):
                items = [items]
            return [BusEvent.from_dict(item) for item in items]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning(
                "redis event bus: ignoring a malformed message on %r (%s): %.200r",
                self._channel,
                exc,
                data,
            )
            return []

    @staticmethod
    async def _close_pubsub(pubsub: PubSub) -> None:
        try:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
        except _CONNECTION_ERRORS as exc:
            log.debug("redis event bus: closing the pub/sub connection: %s", exc)

    # Shutdown ----------------------------------------------------------------------------

    async def close(self) -> None:
        self._closed = True
        for _subscription, registered in self._barriers.values():
            if not registered.done():
                registered.set_exception(BusClosed("the redis event bus closed"))
        self._barriers.clear()
        self._ready.set()  # wakes subscribe() calls still waiting for a connection
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._fanout.close_all()
        for client in (self._publisher, self._listener_client):
            if client is not None:
                await client.aclose()
        self._publisher = self._listener_client = None
