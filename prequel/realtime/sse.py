"""Server-Sent Events streams with no gaps: bus first, then the database, then the bus.

One stream, in this order:
1. subscribe to the bus, so nothing published from now on can be missed;
2. send `connection` (no id);
3. with Last-Event-ID, replay the matching events table rows after it (the newest
   REPLAY_LIMIT at most, after a `replay_truncated` event when there were more);
4. relay live events that match the scope;
5. every heartbeat interval, send `heartbeat` (no id) and catch up from the table: rows whose
   publish was lost (a crash between commit and publish, a Redis hiccup, a worker without a
   shared bus) arrive at most one interval late.

Sequence numbers are drawn at insert and transactions commit out of order, so a seq below
the highest one sent can still be new. The stream therefore remembers which seqs it sent
(not just the highest) and never sends one twice, and its catch-up window trails the
highest seq seen by one heartbeat interval.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from prequel.db.models import Event
from prequel.db.types import utcnow
from prequel.realtime.bus import Audience, BusEvent, EventBus, Subscription
from prequel.realtime.fanout import FanoutSubscription

log = logging.getLogger(__name__)

MEDIA_TYPE = "text/event-stream"
CONNECTION = "connection"
HEARTBEAT = "heartbeat"
REPLAY_TRUNCATED = "replay_truncated"
REPLAY_LIMIT = 1000
CATCH_UP_PAGE = 500
CATCH_UP_MAX_PAGES = 4
POLL_SECONDS = 0.1
# How long an EventSource waits before reconnecting after the stream ends.
RETRY_MS = 3000
_MAX_EVENT_ID = 2**63 - 1
_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
EVENTS = Event.__table__


def format_sse(
    event: str, data: dict[str, Any], id: int | None = None, *, retry_ms: int | None = None
) -> bytes:
    """One SSE message: `event:`, optional `id:` and one `data:` line of compact JSON."""
    if "\n" in event or "\r" in event:
        raise ValueError(f"an SSE event name cannot contain a line break: {event!r}")
    lines = [f"event: {event}\n"]
    if id is not None:
        lines.append(f"id: {id}\n")
    if retry_ms is not None:
        lines.append(f"retry: {retry_ms}\n")
    # json.dumps escapes line breaks inside strings, so the data stays on one line.
    lines.append(f"data: {json.dumps(data, separators=(',', ':'), default=str)}\n\n")
    return "".join(lines).encode()


class _EncodedEvents:
    """Every stream of this process gets the same BusEvent object from the bus: encode it
    once, not once per client (a thousand json.dumps per event was a third of the cost)."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._items: dict[int, tuple[BusEvent, bytes]] = {}

    def get(self, event: BusEvent) -> bytes:
        hit = self._items.get(event.seq)
        if hit is not None and hit[0] is event:
            return hit[1]
        data = format_sse(event.type, event.payload, event.seq)
        if len(self._items) >= self._size:
            self._items.pop(next(iter(self._items)))
        self._items[event.seq] = (event, data)
        return data


_encoded = _EncodedEvents()

# Catch-up queries of one database at once, whatever the number of streams: a thousand
# streams' queries must not take the pool away from the requests that write the events.
CATCH_UP_CONCURRENCY = 1
_slots: weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _catch_up_slots(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Semaphore:
    slots = _slots.get(sessions)
    if slots is None:
        slots = _slots[sessions] = asyncio.Semaphore(CATCH_UP_CONCURRENCY)
    return slots


@dataclass(frozen=True)
class StreamScope:
    """What one stream may see: an organization's staff events, or one interview's
    candidate events. Events for "all" reach both."""

    org_id: str | None
    interview_id: str | None
    audience: str

    def __post_init__(self) -> None:
        if self.audience == Audience.STAFF and not self.org_id:
            raise ValueError("a staff stream needs an org_id")
        if self.audience == Audience.CANDIDATE and not self.interview_id:
            raise ValueError("a candidate stream needs an interview_id")
        if self.audience not in (Audience.STAFF, Audience.CANDIDATE):
            raise ValueError(
                f"a stream's audience is 'staff' or 'candidate', not {self.audience!r}"
            )

    @classmethod
    def staff(cls, org_id: str) -> StreamScope:
        return cls(org_id=org_id, interview_id=None, audience=Audience.STAFF)

    @classmethod
    def candidate(cls, interview_id: str) -> StreamScope:
        return cls(org_id=None, interview_id=interview_id, audience=Audience.CANDIDATE)

    def matches(self, event: BusEvent) -> bool:
        if self.audience == Audience.STAFF:
            return self.org_id is not None and event.for_staff_of(self.org_id)
        return self.interview_id is not None and event.for_candidate_of(self.interview_id)

    def where(self) -> ColumnElement[bool]:
        """The same rule as matches(), for querying the events table (plain Core columns,
        so that streams skip the ORM's per-row overhead)."""
        if self.audience == Audience.STAFF:
            return and_(
                EVENTS.c.org_id == self.org_id,
                EVENTS.c.audience.in_((Audience.STAFF, Audience.ALL)),
            )
        return and_(
            EVENTS.c.interview_id == self.interview_id,
            EVENTS.c.audience.in_((Audience.CANDIDATE, Audience.ALL)),
        )

    def describe(self) -> dict[str, Any]:
        if self.audience == Audience.STAFF:
            return {"audience": self.audience, "org_id": self.org_id}
        return {"audience": self.audience, "interview_id": self.interview_id}


def last_event_id(request: Request) -> int | None:
    """The Last-Event-ID header (sent by EventSource on reconnect), else the last_event_id
    query parameter (EventSource cannot set headers on its first connect). Anything but a
    non-negative integer is ignored."""
    for raw in (request.headers.get("last-event-id"), request.query_params.get("last_event_id")):
        value = (raw or "").strip()
        if value.isascii() and value.isdigit() and int(value) <= _MAX_EVENT_ID:
            return int(value)
    return None


class EventStreamResponse(StreamingResponse):
    """A StreamingResponse that always closes its event generator, so the bus subscription
    ends even when the client's disconnect cancels the stream mid-send."""

    media_type = MEDIA_TYPE

    def __init__(self, events: AsyncIterator[bytes]) -> None:
        super().__init__(events, media_type=MEDIA_TYPE, headers=_HEADERS)
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True):
                    await aclose()


def sse_response(
    request: Request,
    scope: StreamScope,
    last_event_id: int | None,
    *,
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    heartbeat_seconds: float,
    on_connect: dict[str, Any] | None = None,
) -> StreamingResponse:
    """The streaming response for one client; extra `on_connect` fields go into the
    `connection` event."""
    stream = _Stream(request, scope, last_event_id, sessions, bus, heartbeat_seconds)
    return EventStreamResponse(stream.run(on_connect or {}))


class _Sent:
    """The seqs a stream has sent, and the floor its catch-up queries start above."""

    def __init__(self, floor: int) -> None:
        self.floor = floor
        self.mark = floor  # the highest seq seen so far
        self._previous_mark = floor
        self._seqs: set[int] = set()

    def is_new(self, seq: int) -> bool:
        return seq not in self._seqs

    def add(self, seq: int) -> None:
        self._seqs.add(seq)
        self.mark = max(self.mark, seq)

    def advance(self, seen_up_to: int | None) -> None:
        """After a catch-up: move the floor to the mark of the previous catch-up (not past
        rows the catch-up did not reach) and forget seqs below it."""
        floor = self._previous_mark
        if seen_up_to is not None:
            floor = min(floor, seen_up_to)
        self.floor = max(self.floor, floor)
        self._previous_mark = self.mark
        self._seqs = {seq for seq in self._seqs if seq > self.floor}


class _Inbox:
    """The next bus event, or None when the heartbeat is due. Fan-out subscriptions are
    woken by one timer per heartbeat; any other Subscription gets a timeout per wait."""

    def __init__(self, subscription: Subscription) -> None:
        self._fanout = subscription if isinstance(subscription, FanoutSubscription) else None
        self._live = aiter(subscription)
        self._timer: asyncio.TimerHandle | None = None

    def wake_at(self, when: float) -> None:
        if self._fanout is not None:
            self.cancel()
            self._timer = asyncio.get_running_loop().call_at(when, self._fanout.wake)

    def wake(self, _done: object = None) -> None:
        """Interrupt the wait now (fan-out subscriptions only; others poll, see next())."""
        if self._fanout is not None:
            self._fanout.wake()

    async def next(self, deadline: float) -> BusEvent | None:
        """Raises StopAsyncIteration when the subscription ends. A deadline of 0 means
        "something else is pending": other subscriptions then wait at most POLL_SECONDS."""
        if self._fanout is not None:
            return await self._fanout.next()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline or loop.time() + POLL_SECONDS):
                return await anext(self._live)
        except TimeoutError:
            return None

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


@dataclass(frozen=True)
class _Missed:
    seqs: list[int]
    rows: Sequence[Any]
    complete: bool


class _Stream:
    def __init__(
        self,
        request: Request,
        scope: StreamScope,
        after: int | None,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        heartbeat_seconds: float,
    ) -> None:
        self.request = request
        self.scope = scope
        self.after = after
        self.sessions = sessions
        self.bus = bus
        self.heartbeat_seconds = heartbeat_seconds

    async def run(self, on_connect: dict[str, Any]) -> AsyncIterator[bytes]:
        try:
            subscription = await self.bus.subscribe()
        except Exception as exc:
            log.warning("SSE: cannot subscribe to the %s event bus: %s", self.bus.name, exc)
            # The client's EventSource reconnects after `retry` and replays what it missed.
            yield f"retry: {RETRY_MS}\n\n".encode()
            return
        inbox = _Inbox(subscription)
        catching_up: asyncio.Task[_Missed | None] | None = None
        try:
            yield format_sse(
                CONNECTION,
                {
                    "server_time": utcnow().isoformat(),
                    "scope": self.scope.describe(),
                    "last_event_id": self.after,
                    "heartbeat_seconds": self.heartbeat_seconds,
                    **on_connect,
                },
                retry_ms=RETRY_MS,
            )
            sent, backlog = await self._start()
            if backlog:
                yield backlog
            loop = asyncio.get_running_loop()
            # The first beat comes a little early, at random, so that clients that connected
            # together (after a restart) do not all catch up at the same moment ever after.
            next_beat = loop.time() + self.heartbeat_seconds * random.uniform(0.5, 1.0)  # noqa: S311
            inbox.wake_at(next_beat)
            while True:
                try:
                    event = await inbox.next(next_beat if catching_up is None else 0.0)
                except StopAsyncIteration:
                    # Closed or dropped by the bus: end, and let the client reconnect.
                    log.info("SSE: the event bus ended a %s stream", self.scope.audience)
                    return
                if catching_up is not None and catching_up.done():
                    missed = self._send_missed(sent, catching_up.result())
                    catching_up = None
                    if missed:
                        yield missed
                if loop.time() >= next_beat:
                    # Starlette already ends the stream when the server reports a disconnect;
                    # this is the backstop. It costs ~0.1 ms (an anyio cancel scope), far too
                    # much after every message when a thousand clients share one event.
                    if await self.request.is_disconnected():
                        return
                    yield format_sse(HEARTBEAT, {"server_time": utcnow().isoformat()})
                    if catching_up is None:
                        # In the background: live events keep flowing while it queries.
                        catching_up = asyncio.create_task(self._find_missed(sent))
                        catching_up.add_done_callback(inbox.wake)
                    next_beat = loop.time() + self.heartbeat_seconds
                    inbox.wake_at(next_beat)
                if event is not None and self.scope.matches(event) and sent.is_new(event.seq):
                    sent.add(event.seq)
                    yield _encoded.get(event)
        finally:
            inbox.cancel()
            with anyio.CancelScope(shield=True):
                if catching_up is not None:
                    catching_up.cancel()
                    await asyncio.gather(catching_up, return_exceptions=True)
                await subscription.close()

    async def _start(self) -> tuple[_Sent, bytes]:
        """Replay after Last-Event-ID; without one, start at the newest seq."""
        async with self.sessions() as db:
            if self.after is None:
                newest = (await db.execute(select(func.max(EVENTS.c.seq)))).scalar()
                return _Sent(int(newest or 0)), b""
            rows = (
                await db.execute(
                    select(EVENTS.c.seq, EVENTS.c.type, EVENTS.c.payload)
                    .where(self.scope.where(), EVENTS.c.seq > self.after)
                    .order_by(EVENTS.c.seq.desc())
                    .limit(REPLAY_LIMIT + 1)
                )
            ).all()
        chunks: list[bytes] = []
        floor = self.after
        if len(rows) > REPLAY_LIMIT:
            rows = rows[:REPLAY_LIMIT]
            floor = rows[-1].seq - 1
            chunks.append(
                format_sse(
                    REPLAY_TRUNCATED,
                    {"last_event_id": self.after, "first_replayed": rows[-1].seq},
                )
            )
        sent = _Sent(floor)
        for row in reversed(rows):
            sent.add(row.seq)
            chunks.append(format_sse(row.type, row.payload, row.seq))
        # The first catch-up looks at the replayed rows once more (in case one committed
        # late); after it, the floor moves past them.
        sent.advance(None)
        return sent, b"".join(chunks)

    async def _find_missed(self, sent: _Sent) -> _Missed | None:
        """Matching rows above the floor that this stream has not sent: their seqs first,
        then payloads only for the unsent ones (usually none). None if the database failed:
        the live feed goes on, and the next heartbeat tries again."""
        seqs: list[int] = []
        complete = False
        try:
            async with _catch_up_slots(self.sessions), self.sessions() as db:
                above = sent.floor
                for _page in range(CATCH_UP_MAX_PAGES):
                    page = (
                        await db.execute(
                            select(EVENTS.c.seq)
                            .where(self.scope.where(), EVENTS.c.seq > above)
                            .order_by(EVENTS.c.seq)
                            .limit(CATCH_UP_PAGE)
                        )
                    ).scalars()
                    found = [int(seq) for seq in page]
                    seqs += found
                    if len(found) < CATCH_UP_PAGE:
                        complete = True
                        break
                    above = found[-1]
                unsent = [seq for seq in seqs if sent.is_new(seq)]
                rows: Sequence[Any] = []
                if unsent:
                    rows = (
                        await db.execute(
                            select(EVENTS.c.seq, EVENTS.c.type, EVENTS.c.payload)
                            .where(EVENTS.c.seq.in_(unsent))
                            .order_by(EVENTS.c.seq)
                        )
                    ).all()
        except Exception as exc:
            log.warning("SSE: heartbeat catch-up failed, will retry: %s", exc)
            return None
        return _Missed(seqs, rows, complete)

    @staticmethod
    def _send_missed(sent: _Sent, missed: _Missed | None) -> bytes:
        """What a finished catch-up found, minus what the live feed sent meanwhile."""
        if missed is None:
            return b""
        for seq in missed.seqs:
            sent.mark = max(sent.mark, seq)
        chunks: list[bytes] = []
        for row in missed.rows:
            if sent.is_new(row.seq):
                sent.add(row.seq)
                chunks.append(format_sse(row.type, row.payload, row.seq))
        if chunks:
            log.info(
                "SSE: heartbeat catch-up sent %d event(s) the bus did not deliver", len(chunks)
            )
        sent.advance(None if missed.complete or not missed.seqs else missed.seqs[-1])
        return b"".join(chunks)
