"""The operations queue: create and destroy jobs as rows, claimed atomically.

A claim is a compare-and-set from pending/scheduled to running. On PostgreSQL the candidate
rows are locked with `FOR UPDATE SKIP LOCKED`, so concurrent workers pick different jobs
without waiting; on SQLite the claim runs in a `BEGIN IMMEDIATE` transaction, which takes the
write lock before reading, so two claimers are serialized. A running job heartbeats; the
reaper fails jobs whose heartbeat is older than `stale_after` (their worker died).

Every change stages an `operation_update` event for the staff stream; the caller commits
with commit_and_publish. Workers also wake on those events (a new job is announced by one).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview, Operation
from prequel.db.types import utcnow
from prequel.domain.operations import OperationStatus, OperationType
from prequel.realtime.bus import Audience
from prequel.realtime.outbox import stage_event

Op = OperationStatus
WAITING = (Op.PENDING.value, Op.SCHEDULED.value)
LIVE = (Op.PENDING.value, Op.SCHEDULED.value, Op.RUNNING.value)
FINISHED = (Op.COMPLETED.value, Op.FAILED.value, Op.CANCELLED.value)
MAX_LOG_LINES = 500


def operation_view(
    operation: Operation, new_lines: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": operation.id,
        "interview_id": operation.interview_id,
        "type": operation.type,
        "status": operation.status,
        "attempts": operation.attempts,
        "scheduled_at": iso(operation.scheduled_at),
        "started_at": iso(operation.started_at),
        "completed_at": iso(operation.completed_at),
        "heartbeat_at": iso(operation.heartbeat_at),
        "created_at": iso(operation.created_at),
        "error": operation.error,
        "result": operation.result,
        # A full view carries every line; an update carries only the new ones.
        "logs": operation.logs if new_lines is None else None,
        "new_logs": new_lines or [],
    }


async def _org_of(db: AsyncSession, interview_id: str | None) -> str | None:
    if interview_id is None:
        return None
    return (
        await db.execute(select(Interview.org_id).where(Interview.id == interview_id))
    ).scalar_one_or_none()


async def stage_operation_update(
    db: AsyncSession,
    operation: Operation,
    new_lines: list[dict[str, Any]] | None = None,
    *,
    org_id: str | None = None,
) -> None:
    stage_event(
        db,
        "operation_update",
        org_id=org_id or await _org_of(db, operation.interview_id),
        interview_id=operation.interview_id,
        audience=Audience.STAFF,
        payload=operation_view(operation, new_lines or []),
    )


def _line(message: str, level: str = "info") -> dict[str, Any]:
    return {"at": utcnow().isoformat(), "level": level, "message": message}


async def enqueue(
    db: AsyncSession,
    type: OperationType,
    interview_id: str,
    *,
    run_at: datetime | None = None,
    note: str | None = None,
    org_id: str | None = None,
) -> Operation:
    """Add a job (pending, or scheduled when run_at is in the future). Not committed."""
    now = utcnow()
    waiting = run_at is not None and run_at > now
    lines = [_line(note)] if note else []
    operation = Operation(
        type=type.value,
        interview_id=interview_id,
        status=(Op.SCHEDULED if waiting else Op.PENDING).value,
        scheduled_at=run_at if waiting else None,
        logs=lines,
        result={},
        attempts=0,
        created_at=now,
    )
    db.add(operation)
    await db.flush()
    await stage_operation_update(db, operation, lines, org_id=org_id)
    return operation


async def enqueue_many(
    db: AsyncSession, type: OperationType, interviews: list[tuple[str, str]], note: str
) -> list[Operation]:
    """One pending job per (interview id, org id), in one flush: the deadline timer ends
    thousands of interviews at once."""
    now = utcnow()
    operations = [
        Operation(
            type=type.value,
            interview_id=interview_id,
            status=Op.PENDING.value,
            logs=[_line(note)],
            result={},
            attempts=0,
            created_at=now,
        )
        for interview_id, _org in interviews
    ]
    db.add_all(operations)
    await db.flush()
    for operation, (_id, org_id) in zip(operations, interviews, strict=True):
        await stage_operation_update(db, operation, operation.logs, org_id=org_id)
    return operations


async def has_live_operation(db: AsyncSession, interview_id: str, type: OperationType) -> bool:
    found = await db.execute(
        select(Operation.id)
        .where(
            Operation.interview_id == interview_id,
            Operation.type == type.value,
            Operation.status.in_(LIVE),
        )
        .limit(1)
    )
    return found.scalar_one_or_none() is not None


async def claim(db: AsyncSession, worker_id: str, limit: int = 1) -> list[Operation]:
    """Atomically take up to `limit` due jobs for this worker, oldest first, and commit.
    A job is due when pending, or scheduled with scheduled_at passed."""
    now = utcnow()
    dialect = db.get_bind().dialect.name
    if dialect == "sqlite":
        # Take the write lock before reading, so no other claimer reads the same rows.
        await db.execute(text("BEGIN IMMEDIATE"))
    due = (
        select(Operation.id)
        .where(
            Operation.status.in_(WAITING),
            (Operation.scheduled_at.is_(None)) | (Operation.scheduled_at <= now),
        )
        .order_by(Operation.created_at, Operation.id)
        .limit(limit)
    )
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await db.execute(due)).scalars())
    if not ids:
        await db.commit()
        return []
    claimed = list(
        (
            await db.execute(
                update(Operation)
                .where(Operation.id.in_(ids), Operation.status.in_(WAITING))
                .values(
                    status=Op.RUNNING.value,
                    claimed_by=worker_id,
                    heartbeat_at=now,
                    started_at=now,
                    attempts=Operation.attempts + 1,
                )
                .returning(Operation.id)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    operations = list(
        (
            await db.execute(
                select(Operation)
                .where(Operation.id.in_(claimed))
                .order_by(Operation.created_at, Operation.id)
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    for operation in operations:
        await stage_operation_update(db, operation)
    return operations


async def heartbeat(db: AsyncSession, operation_id: str, worker_id: str) -> bool:
    """Refresh the heartbeat; False when the job is no longer ours (the reaper failed it)."""
    result = await db.execute(
        update(Operation)
        .where(
            Operation.id == operation_id,
            Operation.claimed_by == worker_id,
            Operation.status == Op.RUNNING.value,
        )
        .values(heartbeat_at=utcnow())
        .returning(Operation.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one_or_none() is not None


async def append_log(
    db: AsyncSession,
    operation: Operation,
    message: str,
    level: str = "info",
    *,
    org_id: str | None = None,
) -> None:
    line = _line(message, level)
    operation.logs = [*operation.logs, line][-MAX_LOG_LINES:]
    await db.flush()
    await stage_operation_update(db, operation, [line], org_id=org_id)


async def _finish(
    db: AsyncSession,
    operation: Operation,
    status: OperationStatus,
    *,
    message: str | None,
    level: str = "info",
    error: str | None = None,
    result: dict[str, Any] | None = None,
    run_at: datetime | None = None,
) -> bool:
    """Move a running job on, only if it is still running (the reaper may have failed it)."""
    lines = [_line(message, level)] if message else []
    values: dict[str, Any] = {
        "status": status.value,
        "logs": [*operation.logs, *lines][-MAX_LOG_LINES:],
        "error": error,
    }
    if result is not None:
        values["result"] = result
    if status is Op.SCHEDULED:
        values.update(scheduled_at=run_at, claimed_by=None, heartbeat_at=None)
    else:
        values["completed_at"] = utcnow()
    moved = (
        await db.execute(
            update(Operation)
            .where(Operation.id == operation.id, Operation.status == Op.RUNNING.value)
            .values(**values)
            .returning(Operation.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if moved is None:
        return False
    await db.refresh(operation)
    await stage_operation_update(db, operation, lines)
    return True


async def complete(
    db: AsyncSession, operation: Operation, message: str, result: dict[str, Any] | None = None
) -> bool:
    return await _finish(db, operation, Op.COMPLETED, message=message, result=result)


async def fail(db: AsyncSession, operation: Operation, error: str) -> bool:
    return await _finish(db, operation, Op.FAILED, message=error, level="error", error=error)


async def retry_later(db: AsyncSession, operation: Operation, error: str, run_at: datetime) -> bool:
    """Back to the queue (status scheduled) to run again at run_at; the attempt is logged."""
    return await _finish(
        db,
        operation,
        Op.SCHEDULED,
        message=f"{error}; retrying at {run_at.isoformat(timespec='seconds')}",
        level="warning",
        error=error,
        run_at=run_at,
    )


async def cancel_waiting(
    db: AsyncSession, interview_id: str | list[str], type: OperationType
) -> int:
    """Cancel jobs of this type for the interview(s) that no worker has started."""
    ids = [interview_id] if isinstance(interview_id, str) else interview_id
    if not ids:
        return 0
    result = await db.execute(
        update(Operation)
        .where(
            Operation.interview_id.in_(ids),
            Operation.type == type.value,
            Operation.status.in_(WAITING),
        )
        .values(status=Op.CANCELLED.value, completed_at=utcnow())
        .returning(Operation.id)
        .execution_options(synchronize_session=False)
    )
    return len(list(result.scalars()))


async def reap_stale(db: AsyncSession, stale_after: timedelta) -> list[Operation]:
    """Fail running jobs whose heartbeat stopped (their worker died). Not committed; the
    caller decides on retries in the same transaction."""
    cutoff = utcnow() - stale_after
    ids = list(
        (
            await db.execute(
                select(Operation.id).where(
                    Operation.status == Op.RUNNING.value,
                    (Operation.heartbeat_at.is_(None)) | (Operation.heartbeat_at < cutoff),
                )
            )
        ).scalars()
    )
    reaped: list[Operation] = []
    for operation_id in ids:
        operation = await db.get(Operation, operation_id, populate_existing=True)
        if operation is None or operation.status != Op.RUNNING.value:
            continue
        last = operation.heartbeat_at
        seen = last.isoformat(timespec="seconds") if last is not None else "never"
        error = f"worker {operation.claimed_by or '?'} stopped heartbeating (last seen {seen})"
        if await fail(db, operation, error):
            reaped.append(operation)
    return reaped


async def delete_finished_before(db: AsyncSession, cutoff: datetime) -> int:
    result = await db.execute(
        delete(Operation)
        .where(Operation.status.in_(FINISHED), Operation.completed_at < cutoff)
        .returning(Operation.id)
        .execution_options(synchronize_session=False)
    )
    return len(list(result.scalars()))


async def next_scheduled_at(db: AsyncSession) -> datetime | None:
    """When the earliest scheduled job becomes due (the worker sleeps until then)."""
    return (
        await db.execute(
            select(Operation.scheduled_at)
            .where(Operation.status == Op.SCHEDULED.value)
            .order_by(Operation.scheduled_at)
            .limit(1)
        )
    ).scalar_one_or_none()
