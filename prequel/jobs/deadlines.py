"""Deadlines on a timer, not a poll: an in-memory heap wakes exactly at the next due time.

The heap is a cache of the database. The backup sweep rebuilds it (every 30 s by default),
the worker arms new entries as interviews change, and every action taken when a deadline
fires is a compare-and-set, so a stale or duplicated entry (two replicas) does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from prequel.db.types import utcnow

log = logging.getLogger("prequel.deadlines")


class DueKind(StrEnum):
    PROVISION = "provision"  # a scheduled live interview: provision five minutes early
    EXPIRE = "expire"  # an unstarted take-home invitation reached valid_until
    WARN_10 = "warn_10"  # ten minutes left
    WARN_5 = "warn_5"  # five minutes left
    DESTROY = "destroy"  # time is up


WARNINGS = {DueKind.WARN_10: 10, DueKind.WARN_5: 5}


@dataclass(frozen=True, order=True)
class Deadline:
    when: datetime
    kind: DueKind
    interview_id: str


@dataclass(frozen=True)
class Timing:
    """The columns deadlines are computed from (a row of interviews, or an event payload)."""

    interview_id: str
    status: str
    provision_at: datetime | None
    valid_until: datetime | None
    auto_destroy_at: datetime | None
    warned_minutes: int | None


def deadlines_for(timing: Timing, minute: timedelta) -> list[Deadline]:
    """What is due for one interview in its current status. `minute` is one interview
    minute (shortened only in tests)."""
    found: list[Deadline] = []
    if timing.status == "scheduled" and timing.provision_at is not None:
        found.append(Deadline(timing.provision_at, DueKind.PROVISION, timing.interview_id))
    if timing.status == "invited" and timing.valid_until is not None:
        found.append(Deadline(timing.valid_until, DueKind.EXPIRE, timing.interview_id))
    end = timing.auto_destroy_at
    if end is not None and timing.status in ("initializing", "configuring", "active", "error"):
        found.append(Deadline(end, DueKind.DESTROY, timing.interview_id))
        if timing.status == "active":
            for kind, minutes in WARNINGS.items():
                if timing.warned_minutes is None or timing.warned_minutes > minutes:
                    found.append(Deadline(end - minute * minutes, kind, timing.interview_id))
    return found


Fire = Callable[[list[Deadline]], Awaitable[None]]


class DeadlineTimer:
    """Sleeps until the earliest deadline, then hands every due one to `fire` in one batch."""

    def __init__(self, fire: Fire) -> None:
        self._fire = fire
        self._heap: list[Deadline] = []
        self._armed: set[Deadline] = set()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def arm(self, deadlines: Iterable[Deadline]) -> None:
        earliest = self._heap[0].when if self._heap else None
        for deadline in deadlines:
            if deadline in self._armed:
                continue
            self._armed.add(deadline)
            heapq.heappush(self._heap, deadline)
        if self._heap and (earliest is None or self._heap[0].when < earliest):
            self._changed.set()

    def replace(self, deadlines: Iterable[Deadline]) -> None:
        """The sweep's rebuild: the database's view replaces the cache."""
        self._armed = set(deadlines)
        self._heap = list(self._armed)
        heapq.heapify(self._heap)
        self._changed.set()

    def next_due(self) -> datetime | None:
        return self._heap[0].when if self._heap else None

    def _pop_due(self, now: datetime) -> list[Deadline]:
        due: list[Deadline] = []
        while self._heap and self._heap[0].when <= now:
            deadline = heapq.heappop(self._heap)
            self._armed.discard(deadline)
            due.append(deadline)
        return due

    async def run(self) -> None:
        while True:
            self._changed.clear()
            due = self._pop_due(utcnow())
            if due:
                try:
                    await self._fire(due)
                except Exception:
                    # The sweep re-arms whatever is still due; the timer itself keeps going.
                    log.exception("handling %d deadlines failed", len(due))
                continue
            wait = None
            if self._heap:
                wait = max(0.0, (self._heap[0].when - utcnow()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
