"""Snapshots of the replay state every SNAPSHOT_EVERY events, so seeking anywhere in a long
recording applies at most that many events. They are only a shortcut: the replay is correct
without them (it then starts further back), so writing one may lag or fail harmlessly."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prequel.db.models import RecordingEvent, RecordingSnapshot
from prequel.recording.replay_state import ReplayState
from prequel.recording.store import insert_ignoring_duplicates

SNAPSHOT_EVERY = 1000
PAGE = 2000


async def nearest_snapshot(db: AsyncSession, interview_id: str, seq: int) -> ReplayState:
    """The state at the latest snapshot at or before `seq`, or the empty state."""
    found = await db.scalar(
        select(RecordingSnapshot)
        .where(RecordingSnapshot.interview_id == interview_id, RecordingSnapshot.seq <= seq)
        .order_by(RecordingSnapshot.seq.desc())
        .limit(1)
    )
    if found is None:
        return ReplayState()
    return ReplayState.restore(found.seq, found.ts, found.document, found.state or {})


async def apply_events(
    db: AsyncSession, interview_id: str, state: ReplayState, until: int, page: int = PAGE
) -> int:
    """Apply the stored events after `state.seq` up to `until`; returns how many."""
    applied = 0
    while state.seq < until:
        rows = (
            await db.execute(
                select(
                    RecordingEvent.seq, RecordingEvent.ts, RecordingEvent.type, RecordingEvent.data
                )
                .where(
                    RecordingEvent.interview_id == interview_id,
                    RecordingEvent.seq > state.seq,
                    RecordingEvent.seq <= until,
                )
                .order_by(RecordingEvent.seq)
                .limit(page)
            )
        ).all()
        if not rows:
            break
        for seq, ts, kind, data in rows:
            state.apply(seq, ts, kind, data or {})
        applied += len(rows)
    return applied


def snapshot_row(interview_id: str, state: ReplayState) -> dict[str, object]:
    return {
        "interview_id": interview_id,
        "seq": state.seq,
        "ts": state.ts or 0.0,
        "document": state.document(),
        "state": state.snapshot_state(),
    }


class SnapshotWriter:
    """Follows one interview's stored events and writes a snapshot every SNAPSHOT_EVERY."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], interview_id: str) -> None:
        self.sessions = sessions
        self.interview_id = interview_id
        self.state: ReplayState | None = None
        self.since_snapshot = 0

    async def catch_up(self, final: bool = False) -> None:
        async with self.sessions() as db:
            if self.state is None:
                self.state = await nearest_snapshot(db, self.interview_id, 2**62)
            state = self.state
            while True:
                start = state.seq
                # One page at a time, stopping at the next snapshot point.
                until = start + (SNAPSHOT_EVERY - self.since_snapshot)
                applied = await apply_events(db, self.interview_id, state, until)
                self.since_snapshot += applied
                if self.since_snapshot >= SNAPSHOT_EVERY or (final and self.since_snapshot):
                    await insert_ignoring_duplicates(
                        db, RecordingSnapshot, [snapshot_row(self.interview_id, state)]
                    )
                    await db.commit()
                    self.since_snapshot = 0
                if applied == 0 or state.seq == start:
                    break
