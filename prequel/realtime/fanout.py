"""Local fan-out shared by every bus backend: one bounded queue per subscription.

A publisher never waits for a subscriber. One that falls too far behind (its queue is full)
is dropped: its iteration ends, and an SSE client reconnects and replays what it missed from
the events table with Last-Event-ID. That keeps one stuck browser from slowing everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence

from prequel.realtime.bus import BusEvent

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000


class BusClosed(RuntimeError):
    """subscribe() on a bus whose close() already ran."""


class BusUnavailable(RuntimeError):
    """The bus cannot reach its broker; the message says what to check."""


class FanoutSubscription:
    """Events delivered after registration, in delivery order, until closed or dropped.

    A deque and one waiter future rather than an asyncio.Queue, and wake() instead of a
    timeout around every wait: with a thousand SSE streams, each event costs a thousand
    wake-ups, and this is the part of that cost that is ours.
    """

    def __init__(self, fanout: Fanout, max_pending: int) -> None:
        self._fanout = fanout
        self._max_pending = max_pending
        self._items: deque[BusEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._woken = False
        self._closed = False
        self.dropped = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> FanoutSubscription:
        return self

    async def __anext__(self) -> BusEvent:
        while True:
            event = await self.next()
            if event is not None:
                return event

    async def next(self) -> BusEvent | None:
        """The next event, or None once after wake(); StopAsyncIteration when closed."""
        while True:
            if self._items:
                return self._items.popleft()
            if self._closed:
                raise StopAsyncIteration
            if self._woken:
                self._woken = False
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    def wake(self) -> None:
        """Make the pending (or the next) next() return None: how a timer interrupts a wait."""
        self._woken = True
        self._notify()

    def offer(self, events: Sequence[BusEvent]) -> bool:
        """Queue events without waiting; False when that would pass max_pending (the caller
        then drops this subscription)."""
        if self._closed:
            return True
        if len(self._items) + len(events) > self._max_pending:
            return False
        self._items.extend(events)
        self._notify()
        return True

    def _notify(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def end(self) -> None:
        """Stop at once: whatever is still queued is discarded and the reader wakes up."""
        if self._closed:
            return
        self._closed = True
        self._fanout.discard(self)
        self._items.clear()
        self._notify()

    async def close(self) -> None:
        self.end()


class Fanout:
    """The set of open subscriptions of one bus instance in this process."""

    def __init__(self, bus_name: str, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._bus_name = bus_name
        self._max_pending = max_pending
        self._subscriptions: set[FanoutSubscription] = set()

    def __len__(self) -> int:
        return len(self._subscriptions)

    def create(self) -> FanoutSubscription:
        """A subscription that receives nothing until register() is called."""
        return FanoutSubscription(self, self._max_pending)

    def register(self, subscription: FanoutSubscription) -> None:
        if not subscription.closed:
            self._subscriptions.add(subscription)

    def subscribe(self) -> FanoutSubscription:
        subscription = self.create()
        self.register(subscription)
        return subscription

    def discard(self, subscription: FanoutSubscription) -> None:
        self._subscriptions.discard(subscription)

    def deliver(self, events: list[BusEvent]) -> None:
        if not events:
            return
        # end() removes from the set, so walk a copy.
        for subscription in list(self._subscriptions):
            if not subscription.offer(events):
                log.warning(
                    "%s event bus: a subscriber fell %d events behind and was dropped; "
                    "its SSE client will reconnect and replay from the database",
                    self._bus_name,
                    self._max_pending,
                )
                subscription.dropped = True
                subscription.end()

    def close_all(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.end()
