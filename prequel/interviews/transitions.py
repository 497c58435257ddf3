"""Status changes as compare-and-set writes, checked by the pure state machine.

`UPDATE interviews SET status = :target WHERE id = :id AND status IN (:sources)`: of two
replicas (or a worker and a restarted one) racing for the same change, exactly one sees a row
updated; the other gets None and does nothing. Each change stages `interview_update` events
for the staff stream and the candidate's stream (published by commit_and_publish).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewStatus
from prequel.domain.lifecycle import IllegalTransition, check_transition
from prequel.interviews.views import candidate_view, staff_view
from prequel.realtime.bus import Audience
from prequel.realtime.outbox import stage_event

S = InterviewStatus


def allowed_sources(
    target: InterviewStatus,
    end_reason: EndReason | None = None,
    expected: Iterable[InterviewStatus] | None = None,
) -> list[InterviewStatus]:
    """Every status the state machine lets move to target (with this end reason), narrowed
    to `expected` when given."""
    narrowed = set(expected) if expected is not None else set(InterviewStatus)
    sources: list[InterviewStatus] = []
    for status in InterviewStatus:
        if status not in narrowed:
            continue
        try:
            check_transition(status, target, end_reason)
        except IllegalTransition:
            continue
        sources.append(status)
    return sources


def _values(
    target: InterviewStatus, end_reason: EndReason | None, fields: dict[str, Any], now: datetime
) -> dict[str, Any]:
    values: dict[str, Any] = {"status": target.value, "updated_at": now, **fields}
    if end_reason is not None:
        values["end_reason"] = end_reason.value
    if target is S.DESTROYED:
        values.setdefault("destroyed_at", now)
        values.setdefault("completed_at", now)
    return values


def stage_interview_update(db: AsyncSession, interview: Interview, public_url: str) -> None:
    stage_event(
        db,
        "interview_update",
        org_id=interview.org_id,
        interview_id=interview.id,
        audience=Audience.STAFF,
        payload=staff_view(interview, public_url),
    )
    stage_event(
        db,
        "interview_update",
        org_id=interview.org_id,
        interview_id=interview.id,
        audience=Audience.CANDIDATE,
        payload=candidate_view(interview),
    )


async def transition(
    db: AsyncSession,
    interview_id: str,
    target: InterviewStatus,
    *,
    public_url: str,
    expected: Iterable[InterviewStatus] | None = None,
    end_reason: EndReason | None = None,
    fields: dict[str, Any] | None = None,
) -> Interview | None:
    """Move one interview to target if it is still in an allowed (and expected) status.
    Returns the refreshed row, or None when another actor moved it first. Nothing is
    committed here: the caller commits (and publishes) with the rest of its work."""
    sources = allowed_sources(target, end_reason, expected)
    if not sources:
        raise IllegalTransition(
            next(iter(expected)) if expected else target, target, "no status may lead here"
        )
    result = await db.execute(
        update(Interview)
        .where(Interview.id == interview_id, Interview.status.in_([s.value for s in sources]))
        .values(**_values(target, end_reason, fields or {}, utcnow()))
        .returning(Interview.id)
        .execution_options(synchronize_session=False)
    )
    if result.scalar_one_or_none() is None:
        return None
    interview = (
        await db.execute(
            select(Interview)
            .where(Interview.id == interview_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    stage_interview_update(db, interview, public_url)
    return interview


async def transition_many(
    db: AsyncSession,
    interview_ids: list[str],
    target: InterviewStatus,
    *,
    public_url: str,
    expected: Iterable[InterviewStatus] | None = None,
    end_reason: EndReason | None = None,
    fields: dict[str, Any] | None = None,
) -> list[Interview]:
    """The batch form for the deadline timer (thousands due in the same second): one UPDATE,
    and only the rows this call moved are returned."""
    if not interview_ids:
        return []
    sources = [s.value for s in allowed_sources(target, end_reason, expected)]
    moved: list[str] = []
    for start in range(0, len(interview_ids), 500):
        chunk = interview_ids[start : start + 500]
        result = await db.execute(
            update(Interview)
            .where(Interview.id.in_(chunk), Interview.status.in_(sources))
            .values(**_values(target, end_reason, fields or {}, utcnow()))
            .returning(Interview.id)
            .execution_options(synchronize_session=False)
        )
        moved.extend(result.scalars())
    interviews: list[Interview] = []
    for start in range(0, len(moved), 500):
        rows = await db.execute(
            select(Interview)
            .where(Interview.id.in_(moved[start : start + 500]))
            .execution_options(populate_existing=True)
        )
        interviews.extend(rows.scalars())
    for interview in interviews:
        stage_interview_update(db, interview, public_url)
    return interviews
