"""What happens when deadlines fire, in batches: thousands of interviews can end in the same
second, so each kind is one compare-and-set UPDATE per chunk rather than one per interview.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewStatus
from prequel.domain.operations import OperationType
from prequel.interviews.starts import start_provisioning
from prequel.interviews.transitions import transition_many
from prequel.jobs import queue
from prequel.jobs.context import WorkerContext
from prequel.jobs.deadlines import WARNINGS, Deadline, DueKind
from prequel.realtime.bus import Audience
from prequel.realtime.outbox import commit_and_publish, stage_event

log = logging.getLogger("prequel.deadlines")
S = InterviewStatus
CHUNK = 500
ENDS_AT_DEADLINE = (S.INITIALIZING, S.CONFIGURING, S.ACTIVE, S.ERROR)


async def _still_due(
    db: AsyncSession, ids: Sequence[str], column: str, statuses: Sequence[S], now: datetime
) -> list[str]:
    """The database decides: an entry armed from stale data (extended, ended) is skipped."""
    field = getattr(Interview, column)
    rows = await db.execute(
        select(Interview.id).where(
            Interview.id.in_(ids),
            Interview.status.in_([s.value for s in statuses]),
            field.is_not(None),
            field <= now,
        )
    )
    return list(rows.scalars())


async def _destroy(ctx: WorkerContext, ids: list[str]) -> int:
    moved = 0
    for start in range(0, len(ids), CHUNK):
        async with ctx.sessions() as db:
            due = await _still_due(
                db, ids[start : start + CHUNK], "auto_destroy_at", ENDS_AT_DEADLINE, utcnow()
            )
            ended = await transition_many(
                db,
                due,
                S.DESTROYING,
                public_url=ctx.public_url,
                expected=ENDS_AT_DEADLINE,
                end_reason=EndReason.TIME_UP,
            )
            await queue.cancel_waiting(db, [i.id for i in ended], OperationType.CREATE)
            await queue.enqueue_many(
                db,
                OperationType.DESTROY,
                [(i.id, i.org_id) for i in ended],
                note="time is up: saving the work and removing the workspace",
            )
            await commit_and_publish(db, ctx.bus)
            moved += len(ended)
    return moved


async def _expire(ctx: WorkerContext, ids: list[str]) -> int:
    moved = 0
    for start in range(0, len(ids), CHUNK):
        async with ctx.sessions() as db:
            due = await _still_due(
                db, ids[start : start + CHUNK], "valid_until", (S.INVITED,), utcnow()
            )
            expired = await transition_many(
                db,
                due,
                S.DESTROYED,
                public_url=ctx.public_url,
                expected=(S.INVITED,),
                end_reason=EndReason.EXPIRED,
            )
            await commit_and_publish(db, ctx.bus)
            moved += len(expired)
    return moved


async def _provision(ctx: WorkerContext, ids: list[str]) -> int:
    started = 0
    async with ctx.sessions() as db:
        for interview_id in await _still_due(db, ids, "provision_at", (S.SCHEDULED,), utcnow()):
            interview = await start_provisioning(
                db,
                interview_id,
                public_url=ctx.public_url,
                note="scheduled start: provisioning five minutes early",
            )
            started += interview is not None
            await commit_and_publish(db, ctx.bus)
    return started


async def _warn(ctx: WorkerContext, ids: list[str], minutes: int) -> int:
    async with ctx.sessions() as db:
        warned = await db.execute(
            update(Interview)
            .where(
                Interview.id.in_(ids),
                Interview.status == S.ACTIVE.value,
                (Interview.warned_minutes.is_(None)) | (Interview.warned_minutes > minutes),
            )
            .values(warned_minutes=minutes)
            .returning(Interview.id, Interview.org_id, Interview.auto_destroy_at)
            .execution_options(synchronize_session=False)
        )
        rows = list(warned)
        for interview_id, org_id, ends_at in rows:
            payload = {
                "kind": "time_warning",
                "interview_id": interview_id,
                "minutes_left": minutes,
                "auto_destroy_at": ends_at.isoformat() if ends_at else None,
                "message": f"{minutes} minutes left: the workspace closes and saves at the end",
            }
            stage_event(
                db,
                "scheduler_event",
                org_id=org_id,
                interview_id=interview_id,
                audience=Audience.ALL,
                payload=payload,
            )
        await commit_and_publish(db, ctx.bus)
    return len(rows)


async def fire(ctx: WorkerContext, deadlines: list[Deadline]) -> None:
    by_kind: dict[DueKind, list[str]] = defaultdict(list)
    for deadline in deadlines:
        by_kind[deadline.kind].append(deadline.interview_id)
    if ids := by_kind.get(DueKind.DESTROY):
        count = await _destroy(ctx, ids)
        log.info("time up: %d of %d interviews moved to destroying", count, len(ids))
    if ids := by_kind.get(DueKind.EXPIRE):
        count = await _expire(ctx, ids)
        log.info("expired %d unstarted invitations", count)
    if ids := by_kind.get(DueKind.PROVISION):
        count = await _provision(ctx, ids)
        log.info("started provisioning %d scheduled interviews", count)
    for kind, minutes in WARNINGS.items():
        if ids := by_kind.get(kind):
            await _warn(ctx, ids, minutes)
