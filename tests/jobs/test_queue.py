"""The operations queue on SQLite and PostgreSQL: atomic claims, heartbeats, the reaper."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prequel.db.models import Event, Operation, Organization
from prequel.db.types import utcnow
from prequel.domain.operations import OperationType
from prequel.jobs import queue
from prequel.realtime.outbox import commit_and_publish
from prequel.state import AppState
from tests.support.factories import make_challenge, make_interview


async def _interviews(db: AsyncSession, org: Organization, count: int) -> list[str]:
    challenge = await make_challenge(db, org)
    ids = [(await make_interview(db, org, challenge)).id for _ in range(count)]
    await db.commit()
    return ids


async def test_enqueue_then_claim_once(db: AsyncSession, org: Organization) -> None:
    [interview_id] = await _interviews(db, org, 1)
    operation = await queue.enqueue(db, OperationType.CREATE, interview_id, note="queued")
    await commit_and_publish(db, None)
    assert operation.status == "pending"

    claimed = await queue.claim(db, "worker-a")
    await db.commit()
    assert [op.id for op in claimed] == [operation.id]
    assert claimed[0].status == "running" and claimed[0].attempts == 1
    assert await queue.claim(db, "worker-b") == []
    events = (await db.execute(select(Event).where(Event.type == "operation_update"))).scalars()
    assert {e.payload["status"] for e in events} == {"pending", "running"}


async def test_scheduled_job_waits_for_its_time(db: AsyncSession, org: Organization) -> None:
    [interview_id] = await _interviews(db, org, 1)
    later = utcnow() + timedelta(hours=1)
    await queue.enqueue(db, OperationType.DESTROY, interview_id, run_at=later)
    await db.commit()
    assert await queue.claim(db, "w") == []
    assert await queue.next_scheduled_at(db) == later


async def test_concurrent_claimers_never_share_a_job(
    app_state: AppState, db: AsyncSession, org: Organization
) -> None:
    ids = await _interviews(db, org, 40)
    for interview_id in ids:
        await queue.enqueue(db, OperationType.CREATE, interview_id)
    await db.commit()

    async def claimer(name: str, sessions: async_sessionmaker[AsyncSession]) -> list[str]:
        mine: list[str] = []
        while True:
            async with sessions() as session:
                got = await queue.claim(session, name, limit=3)
                await session.commit()
            if not got:
                return mine
            mine.extend(op.id for op in got)

    results = await asyncio.gather(*(claimer(f"w{i}", app_state.sessions) for i in range(6)))
    claimed = [op for ops in results for op in ops]
    assert len(claimed) == 40
    assert len(set(claimed)) == 40
    rows = await db.execute(select(Operation).execution_options(populate_existing=True))
    assert {op.status for op in rows.scalars()} == {"running"}


async def test_reaper_fails_jobs_that_stop_heartbeating(
    db: AsyncSession, org: Organization
) -> None:
    ids = await _interviews(db, org, 2)
    for interview_id in ids:
        await queue.enqueue(db, OperationType.CREATE, interview_id)
    await db.commit()
    alive, dead = await queue.claim(db, "w", limit=2)
    await db.commit()
    dead.heartbeat_at = utcnow() - timedelta(minutes=5)
    await db.commit()
    assert await queue.heartbeat(db, alive.id, "w")
    reaped = await queue.reap_stale(db, timedelta(seconds=60))
    await db.commit()
    assert [op.id for op in reaped] == [dead.id]
    assert reaped[0].status == "failed" and "stopped heartbeating" in (reaped[0].error or "")
    # The dead worker can no longer heartbeat or finish the job it lost.
    assert not await queue.heartbeat(db, dead.id, "w")
    assert not await queue.complete(db, dead, "late")
    assert await queue.complete(db, alive, "done", {"ok": True})
    await db.commit()


async def test_retry_later_and_cleanup(db: AsyncSession, org: Organization) -> None:
    [interview_id] = await _interviews(db, org, 1)
    await queue.enqueue(db, OperationType.DESTROY, interview_id)
    await db.commit()
    [operation] = await queue.claim(db, "w")
    soon = utcnow() - timedelta(seconds=1)
    assert await queue.retry_later(db, operation, "archive failed", soon)
    await db.commit()
    [again] = await queue.claim(db, "w")
    assert again.id == operation.id and again.attempts == 2
    assert any("retrying" in line["message"] for line in again.logs)
    assert await queue.fail(db, again, "gave up")
    await db.commit()
    assert await queue.delete_finished_before(db, utcnow() - timedelta(days=7)) == 0
    assert await queue.delete_finished_before(db, utcnow() + timedelta(seconds=1)) == 1
    await db.commit()


async def test_cancel_waiting_and_live_check(db: AsyncSession, org: Organization) -> None:
    [interview_id] = await _interviews(db, org, 1)
    await queue.enqueue(db, OperationType.CREATE, interview_id)
    await db.commit()
    assert await queue.has_live_operation(db, interview_id, OperationType.CREATE)
    assert await queue.cancel_waiting(db, interview_id, OperationType.CREATE) == 1
    await db.commit()
    assert not await queue.has_live_operation(db, interview_id, OperationType.CREATE)
