"""Events are written in the same transaction as the change they describe, then published on
the bus once that transaction commits: subscribers never hear of a change that rolled back.

    stage_event(db, "interview_update", org_id=..., interview_id=..., payload=...)
    await commit_and_publish(db, bus)

Staged events are inserted just before the commit, all in one multi-row INSERT … RETURNING:
the deadline timer can end a thousand interviews in one transaction, and one statement per
event would dominate that. A plain `db.commit()` still records them (SSE clients then get
them by replay or the heartbeat catch-up); only commit_and_publish also publishes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from prequel.db.models import Event
from prequel.db.types import utcnow
from prequel.realtime.bus import Audience, BusEvent, EventBus

_STAGED = "prequel_staged_events"
_WRITTEN = "prequel_written_events"
_RETURNED = (
    Event.seq,
    Event.type,
    Event.org_id,
    Event.interview_id,
    Event.audience,
    Event.payload,
)


def stage_event(
    db: AsyncSession,
    type: str,
    *,
    org_id: str | None,
    interview_id: str | None = None,
    audience: str = Audience.STAFF,
    payload: dict[str, Any] | None = None,
    author: str | None = None,
) -> None:
    db.info.setdefault(_STAGED, []).append(
        {
            "type": type,
            "org_id": org_id,
            "interview_id": interview_id,
            "audience": audience,
            "payload": payload or {},
            "author": author,
            "created_at": utcnow(),
        }
    )


def discard_staged(db: AsyncSession) -> None:
    """After a rollback: the staged events never happened."""
    db.info.pop(_STAGED, None)


@event.listens_for(Session, "before_commit")
def _write_staged(session: Session) -> None:
    staged: list[dict[str, Any]] = session.info.pop(_STAGED, [])
    if not staged:
        return
    # The rows the events refer to (an interview created in this transaction) go first.
    session.flush()
    rows = session.execute(insert(Event).returning(*_RETURNED), staged).all()
    written = [
        BusEvent(
            seq=row.seq,
            type=row.type,
            org_id=row.org_id,
            interview_id=row.interview_id,
            audience=row.audience,
            payload=row.payload,
        )
        for row in rows
    ]
    session.info.setdefault(_WRITTEN, []).extend(written)


@event.listens_for(Session, "after_rollback")
def _forget_staged(session: Session) -> None:
    session.info.pop(_STAGED, None)
    session.info.pop(_WRITTEN, None)


async def commit_and_publish(db: AsyncSession, bus: EventBus | None) -> list[BusEvent]:
    """Commit, then publish what was staged, in seq order, and return it. Without a bus (CLI
    tools), the events are only recorded."""
    db.info.pop(_WRITTEN, None)
    await db.commit()
    messages: list[BusEvent] = sorted(db.info.pop(_WRITTEN, []), key=lambda m: m.seq)
    if bus is not None and messages:
        await bus.publish(messages)
    return messages
