"""Build the configured event bus and prove it usable before the portal starts serving."""

from __future__ import annotations

from prequel.realtime.bus import EventBus
from prequel.realtime.memory import InProcessBus
from prequel.settings import Settings


async def open_event_bus(settings: Settings) -> EventBus:
    """The backend named by settings.events.backend, ready for use; BusUnavailable if the
    redis bus cannot reach Redis."""
    events = settings.events
    if events.backend == "redis":
        # Imported here so that single-process installs never load redis-py.
        from prequel.realtime.redis import RedisBus

        bus = RedisBus(events.redis_url, events.channel)
        try:
            await bus.open()
        except BaseException:
            await bus.close()
            raise
        return bus
    return InProcessBus()
