"""An interview's status timeline, read from the events table.

Every status change stages an `interview_update` event with the interview's staff view, in
the same transaction as the change, so the events table is the record of when each status
began. Updates that did not change the status (a new access URL, a warning sent) are folded
into the entry they belong to. Interviews whose events are gone (purged, or rows written
without the service) get a timeline made from the row's own timestamps instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Event, Interview
from prequel.realtime.bus import Audience

STAFF_AUDIENCES = (Audience.STAFF, Audience.ALL)


@dataclass(frozen=True)
class TimelineEntry:
    status: str
    end_reason: str | None
    at: datetime
    # The event it came from; None for entries made from the interview row.
    seq: int | None = None


def fold(updates: Iterable[tuple[int, datetime, dict[str, Any]]]) -> list[TimelineEntry]:
    """(seq, time, payload) of interview_update events in seq order -> one entry per change
    of status (or of end reason, which can be set while the status stays `destroying`)."""
    entries: list[TimelineEntry] = []
    for seq, at, payload in updates:
        status = payload.get("status")
        if not isinstance(status, str):
            continue
        reason = payload.get("end_reason")
        reason = reason if isinstance(reason, str) else None
        if entries and entries[-1].status == status and entries[-1].end_reason == reason:
            continue
        entries.append(TimelineEntry(status, reason, at, seq))
    return entries


def from_row(interview: Interview) -> list[TimelineEntry]:
    """What the row itself says, for interviews without events."""
    first = "invited" if interview.kind == "take_home" else "scheduled"
    entries = [TimelineEntry(first, None, interview.created_at)]
    if interview.activated_at is not None:
        entries.append(TimelineEntry("activated", None, interview.activated_at))
    if interview.started_at is not None:
        entries.append(TimelineEntry("active", None, interview.started_at))
    if interview.status == "destroyed" and interview.destroyed_at is not None:
        entries.append(TimelineEntry("destroyed", interview.end_reason, interview.destroyed_at))
    elif interview.status != entries[-1].status:
        entries.append(TimelineEntry(interview.status, interview.end_reason, interview.updated_at))
    return entries


async def interview_timeline(db: AsyncSession, interview: Interview) -> list[TimelineEntry]:
    rows = await db.execute(
        select(Event.seq, Event.created_at, Event.payload)
        .where(
            Event.interview_id == interview.id,
            Event.type == "interview_update",
            Event.audience.in_(STAFF_AUDIENCES),
        )
        .order_by(Event.seq)
    )
    entries = fold((seq, at, payload or {}) for seq, at, payload in rows)
    return entries or from_row(interview)


async def latest_seq(db: AsyncSession, org_id: str) -> int:
    """The newest event id of the organization's staff stream. A page rendered from the
    database opens its stream with ?last_event_id= this, so the changes made between the
    render and the connection are replayed instead of lost."""
    # ORDER BY ... LIMIT 1 walks ix_events_org_seq from the top; MAX() with the audience
    # filter would not.
    seq = await db.scalar(
        select(Event.seq)
        .where(Event.org_id == org_id, Event.audience.in_(STAFF_AUDIENCES))
        .order_by(Event.seq.desc())
        .limit(1)
    )
    return int(seq or 0)
