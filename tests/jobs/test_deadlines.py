"""The deadline timer and what firing does, against SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Event, Interview, Operation, Organization
from prequel.db.types import utcnow
from prequel.jobs import due
from prequel.jobs.context import WorkerContext
from prequel.jobs.deadlines import Deadline, DeadlineTimer, DueKind, Timing, deadlines_for
from prequel.state import AppState
from prequel.workspaces.base import Provisioner
from tests.support.factories import make_challenge, make_interview

MINUTE = timedelta(minutes=1)


def test_what_is_due_follows_the_status() -> None:
    now = utcnow()
    active = Timing("a", "active", None, None, now, None)
    kinds = {d.kind for d in deadlines_for(active, MINUTE)}
    assert kinds == {DueKind.DESTROY, DueKind.WARN_10, DueKind.WARN_5}
    warned = Timing("a", "active", None, None, now, 10)
    assert {d.kind for d in deadlines_for(warned, MINUTE)} == {DueKind.DESTROY, DueKind.WARN_5}
    assert [
        d.kind for d in deadlines_for(Timing("b", "invited", None, now, None, None), MINUTE)
    ] == [DueKind.EXPIRE]
    scheduled = Timing("c", "scheduled", now, None, None, None)
    assert [d.kind for d in deadlines_for(scheduled, MINUTE)] == [DueKind.PROVISION]
    assert deadlines_for(Timing("d", "destroyed", now, now, now, None), MINUTE) == []
    ten = next(d for d in deadlines_for(active, MINUTE) if d.kind is DueKind.WARN_10)
    assert ten.when == now - 10 * MINUTE


async def test_timer_fires_in_order_and_wakes_for_earlier_entries() -> None:
    fired: list[list[Deadline]] = []
    got = asyncio.Event()

    async def fire(batch: list[Deadline]) -> None:
        fired.append(batch)
        got.set()

    timer = DeadlineTimer(fire)
    task = asyncio.create_task(timer.run())
    try:
        now = utcnow()
        timer.arm([Deadline(now + timedelta(hours=1), DueKind.DESTROY, "late")])
        await asyncio.sleep(0.05)
        assert fired == []
        # An earlier deadline armed while the timer sleeps is not missed.
        timer.arm([Deadline(now + timedelta(milliseconds=50), DueKind.DESTROY, "soon")])
        timer.arm([Deadline(now + timedelta(milliseconds=50), DueKind.DESTROY, "soon")])
        await asyncio.wait_for(got.wait(), 5)
        assert [[d.interview_id for d in batch] for batch in fired] == [["soon"]]
        assert len(timer) == 1
        timer.replace([])
        assert timer.next_due() is None
    finally:
        task.cancel()


async def _context(app_state: AppState) -> WorkerContext:
    return WorkerContext(
        settings=app_state.settings,
        sessions=app_state.sessions,
        blobs=app_state.blobs,
        bus=None,
        provisioner=cast(Provisioner, None),
        worker_id="test",
    )


async def test_firing_ends_expires_warns_and_starts(
    app_state: AppState, db: AsyncSession, org: Organization
) -> None:
    ctx = await _context(app_state)
    challenge = await make_challenge(db, org)
    past = utcnow() - timedelta(seconds=1)
    future = utcnow() + timedelta(hours=1)
    ending = await make_interview(db, org, challenge, status="active", auto_destroy_at=past)
    extended = await make_interview(db, org, challenge, status="active", auto_destroy_at=future)
    invited = await make_interview(db, org, challenge, status="invited", valid_until=past)
    scheduled = await make_interview(
        db, org, challenge, kind="live", status="scheduled", provision_at=past, valid_until=None
    )
    warned = await make_interview(db, org, challenge, status="active", auto_destroy_at=future)
    await db.commit()

    batch = [
        Deadline(past, DueKind.DESTROY, ending.id),
        Deadline(past, DueKind.DESTROY, extended.id),  # stale entry: the database says later
        Deadline(past, DueKind.EXPIRE, invited.id),
        Deadline(past, DueKind.PROVISION, scheduled.id),
        Deadline(past, DueKind.WARN_10, warned.id),
    ]
    await due.fire(ctx, batch)
    await due.fire(ctx, batch)  # a second replica firing the same entries changes nothing

    def status(row: Interview) -> tuple[str, str | None]:
        return row.status, row.end_reason

    rows = {
        row.id: row
        for row in (
            await db.execute(select(Interview).execution_options(populate_existing=True))
        ).scalars()
    }
    assert status(rows[ending.id]) == ("destroying", "time_up")
    assert status(rows[extended.id]) == ("active", None)
    assert status(rows[invited.id]) == ("destroyed", "expired")
    assert status(rows[scheduled.id]) == ("initializing", None)
    assert rows[warned.id].warned_minutes == 10
    operations = [
        tuple(r) for r in (await db.execute(select(Operation.type, Operation.interview_id))).all()
    ]
    assert sorted(operations) == sorted([("destroy", ending.id), ("create", scheduled.id)])
    warnings = list(
        (await db.execute(select(Event).where(Event.type == "scheduler_event"))).scalars()
    )
    assert len(warnings) == 1 and warnings[0].payload["minutes_left"] == 10
    assert warnings[0].audience == "all"
