"""Ending an interview on request: the interviewer ends a live interview or revokes a
take-home; a take-home candidate submits early.

Before a workspace exists the interview closes at once (destroyed); with one, it moves to
destroying and a destroy job archives the work and removes the workspace. Create jobs no
worker has taken are cancelled either way; one that is running finishes and the worker sees
the interview is ending. Nothing is committed here (see prequel.interviews.service).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview, Operation
from prequel.domain.interviews import EndReason, InterviewKind, InterviewStatus
from prequel.domain.lifecycle import check_submit, ending_status
from prequel.domain.operations import OperationStatus, OperationType
from prequel.interviews.errors import AlreadyEnding, NotReady
from prequel.interviews.transitions import transition
from prequel.jobs.queue import WAITING, cancel_waiting, enqueue, stage_operation_update
from prequel.settings import Settings

S = InterviewStatus


async def _cancel_waiting_creates(db: AsyncSession, interview_id: str) -> None:
    """Cancel create jobs no worker has taken, and tell the staff stream about each."""
    waiting = list(
        await db.scalars(
            select(Operation.id).where(
                Operation.interview_id == interview_id,
                Operation.type == OperationType.CREATE.value,
                Operation.status.in_(WAITING),
            )
        )
    )
    if not waiting or not await cancel_waiting(db, interview_id, OperationType.CREATE):
        return
    rows = await db.scalars(
        select(Operation)
        .where(Operation.id.in_(waiting), Operation.status == OperationStatus.CANCELLED.value)
        .execution_options(populate_existing=True)
    )
    for operation in rows:
        await stage_operation_update(db, operation)


async def _has_live_destroy(db: AsyncSession, interview_id: str) -> bool:
    found = await db.execute(
        select(Operation.id)
        .where(
            Operation.interview_id == interview_id,
            Operation.type == OperationType.DESTROY.value,
            Operation.status.in_((*WAITING, OperationStatus.RUNNING.value)),
        )
        .limit(1)
    )
    return found.first() is not None


async def request_end(
    db: AsyncSession, interview: Interview, user_id: str | None, settings: Settings
) -> Interview:
    """An interviewer ends (live) or revokes (take-home) an interview. Before a workspace
    exists it closes at once; otherwise it moves to destroying and a destroy job archives
    the work and removes the workspace."""
    live = interview.kind == InterviewKind.LIVE.value
    reason = EndReason.ENDED_BY_INTERVIEWER if live else EndReason.REVOKED
    return await _end(db, interview, reason, user_id, settings)


async def request_submit(db: AsyncSession, interview: Interview, settings: Settings) -> Interview:
    """A take-home candidate is done early: the same end as the deadline's (archive, grade,
    destroy), with reason `submitted`. Only a running take-home can be submitted."""
    if interview.kind != InterviewKind.TAKE_HOME.value:
        raise NotReady("only a take-home test can be submitted")
    status = S(interview.status)
    if status is S.DESTROYING:
        raise AlreadyEnding("this take-home test is already ending; your work is being saved")
    if status is S.DESTROYED:
        raise AlreadyEnding(f"this take-home test has already ended ({interview.end_reason})")
    if status is not S.ACTIVE:
        raise NotReady("the test can be submitted once its workspace is running")
    check_submit(InterviewKind.TAKE_HOME, status)
    return await _end(db, interview, EndReason.SUBMITTED, None, settings, only_from=S.ACTIVE)


async def _end(
    db: AsyncSession,
    interview: Interview,
    reason: EndReason,
    user_id: str | None,
    settings: Settings,
    only_from: InterviewStatus | None = None,
) -> Interview:
    live = interview.kind == InterviewKind.LIVE.value
    what = "interview" if live else "take-home test"
    for _ in range(3):
        current = S(interview.status)
        if current is S.DESTROYING:
            raise AlreadyEnding(f"this {what} is already being ended; wait for it to finish")
        if current is S.DESTROYED:
            ended = interview.end_reason or "ended"
            raise AlreadyEnding(f"this {what} has already ended ({ended})")
        if only_from is not None and current is not only_from:
            raise NotReady(f"this {what} is {current.value}, not {only_from.value}")
        target = ending_status(current)
        moved = await transition(
            db,
            interview.id,
            target,
            public_url=settings.public_url,
            expected=(current,),
            end_reason=reason,
            fields={"ended_by_id": user_id},
        )
        if moved is None:
            # The worker or the timer moved it meanwhile: decide again on the new status.
            await db.refresh(interview)
            continue
        await _cancel_waiting_creates(db, interview.id)
        if target is S.DESTROYING and not await _has_live_destroy(db, interview.id):
            await enqueue(
                db,
                OperationType.DESTROY,
                interview.id,
                note=f"{what} {reason.value.replace('_', ' ')}; archiving and removing "
                "the workspace",
            )
        return moved
    raise AlreadyEnding(f"this {what} keeps changing status; try again in a moment")
