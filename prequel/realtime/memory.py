"""The in-process event bus: the default for one `prequel serve` with its embedded worker.

Publishing hands the events straight to every subscription's queue in this process; other
processes never hear of them (use the redis bus for several replicas or separate workers).
"""

from __future__ import annotations

from prequel.realtime.bus import BusEvent
from prequel.realtime.fanout import DEFAULT_MAX_PENDING, BusClosed, Fanout, FanoutSubscription


class InProcessBus:
    name = "memory"

    def __init__(self, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        self._fanout = Fanout(self.name, max_pending)
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._fanout)

    async def publish(self, events: list[BusEvent]) -> None:
        if not self._closed:
            self._fanout.deliver(events)

    async def subscribe(self) -> FanoutSubscription:
        if self._closed:
            raise BusClosed("the memory event bus is closed")
        return self._fanout.subscribe()

    async def close(self) -> None:
        self._closed = True
        self._fanout.close_all()
