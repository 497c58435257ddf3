"""The create job: initializing -> configuring -> active.

The workspace handle is saved before the backend creates anything, so a crash at any point
leaves a row naming what may exist; a retried job adopts it. Between steps the job re-reads
the interview and stops if it is ending (the destroy job then cleans up).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Interview, Operation, WorkspaceHandle
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewStatus
from prequel.domain.operations import OperationType
from prequel.interviews.transitions import transition
from prequel.jobs import queue
from prequel.jobs.context import WorkerContext, copy_into_row, handle_from_row, load_handle
from prequel.jobs.deadlines import Timing, deadlines_for
from prequel.jobs.oplog import OperationLog
from prequel.realtime.outbox import commit_and_publish
from prequel.workspaces.base import ChallengeFiles, Handle, workspace_name

S = InterviewStatus
BUILDING = (S.INITIALIZING, S.CONFIGURING)


class Interrupted(Exception):
    """The interview is ending; creating the rest of its workspace would be wasted."""


async def _status(ctx: WorkerContext, interview_id: str) -> str | None:
    async with ctx.sessions() as db:
        return (
            await db.execute(select(Interview.status).where(Interview.id == interview_id))
        ).scalar_one_or_none()


async def ensure_handle(ctx: WorkerContext, interview_id: str) -> Handle:
    """The saved handle, or a new one allocated and committed before anything exists."""
    for _ in range(10):
        async with ctx.sessions() as db:
            row = await load_handle(db, interview_id)
            if row is not None:
                return handle_from_row(row)
            taken = {uid for uid in (await db.execute(select(WorkspaceHandle.uid))).scalars()}
            handle = Handle(
                interview_id=interview_id,
                backend=ctx.provisioner.name,
                name=workspace_name(interview_id),
            )
            handle = await ctx.provisioner.allocate(handle, {u for u in taken if u is not None})
            row = WorkspaceHandle(
                interview_id=interview_id, backend=handle.backend, name=handle.name
            )
            copy_into_row(handle, row)
            db.add(row)
            try:
                await db.commit()
            except IntegrityError:
                # Another workspace took the same uid at the same moment: pick again.
                await db.rollback()
                continue
            return handle
    raise RuntimeError("could not allocate a workspace uid after 10 tries; is uid_count too small?")


async def save_handle(ctx: WorkerContext, handle: Handle) -> None:
    async with ctx.sessions() as db:
        row = await load_handle(db, handle.interview_id)
        if row is not None:
            copy_into_row(handle, row)
            await db.commit()


async def challenge_files(
    db: AsyncSession, ctx: WorkerContext, interview: Interview
) -> ChallengeFiles:
    challenge = await db.get(Challenge, interview.challenge_id)
    if challenge is None:
        raise RuntimeError(f"challenge {interview.challenge_slug} no longer exists")
    bundle = await ctx.blobs.get(challenge.bundle_key)
    return ChallengeFiles(slug=challenge.slug, version=challenge.version, bundle=bundle)


def ends_at(ctx: WorkerContext, interview: Interview, now: datetime) -> datetime:
    """Take-homes run their full duration from the moment the workspace is ready; a live
    interview keeps its scheduled slot when it was provisioned early."""
    start = now
    if interview.kind == "live" and interview.scheduled_at is not None:
        start = max(now, interview.scheduled_at)
    return start + ctx.minutes(interview.duration_minutes)


async def _move(
    ctx: WorkerContext,
    interview_id: str,
    target: InterviewStatus,
    expected: tuple[InterviewStatus, ...],
    fields: dict[str, object] | None = None,
) -> Interview:
    async with ctx.sessions() as db:
        moved = await transition(
            db, interview_id, target, public_url=ctx.public_url, expected=expected, fields=fields
        )
        await commit_and_publish(db, ctx.bus)
    if moved is None:
        raise Interrupted(f"the interview is now {await _status(ctx, interview_id)}")
    return moved


async def run_create(ctx: WorkerContext, operation: Operation) -> None:
    async with ctx.sessions() as db:
        interview = await db.get(Interview, operation.interview_id)
        if interview is None:
            await queue.complete(db, operation, "the interview was deleted; nothing to create")
            await commit_and_publish(db, ctx.bus)
            return
        log = OperationLog(ctx, operation, interview.org_id)
        if interview.status not in BUILDING:
            await queue.complete(
                db, operation, f"the interview is {interview.status}; nothing to create"
            )
            await commit_and_publish(db, ctx.bus)
            return
        challenge = await challenge_files(db, ctx, interview)
    try:
        await _build(ctx, interview, challenge, log)
        await _finish(ctx, operation, "workspace ready")
    except Interrupted as exc:
        await _finish(ctx, operation, f"stopped: {exc}")
    except Exception as exc:  # every failure is logged on the operation, then retried
        await _failed(ctx, operation, interview, exc)


async def _build(
    ctx: WorkerContext, interview: Interview, challenge: ChallengeFiles, log: OperationLog
) -> None:
    handle = await ensure_handle(ctx, interview.id)
    await log(f"workspace {handle.name} (uid {handle.uid}) on the {handle.backend} backend")
    if await _status(ctx, interview.id) not in BUILDING:
        raise Interrupted("the interview ended before its workspace was created")
    handle = await ctx.provisioner.create(handle, challenge, log)
    await save_handle(ctx, handle)
    if await _status(ctx, interview.id) == S.INITIALIZING:
        await _move(ctx, interview.id, S.CONFIGURING, (S.INITIALIZING,))
    await log(f"copying the {challenge.slug} challenge (version {challenge.version})")
    await ctx.provisioner.configure(handle, challenge, log)
    now = utcnow()
    active = await _move(
        ctx,
        interview.id,
        S.ACTIVE,
        (S.CONFIGURING,),
        {"started_at": now, "auto_destroy_at": ends_at(ctx, interview, now)},
    )
    ctx.arm(deadlines_for(timing_of(active), ctx.minutes(1)))


def timing_of(interview: Interview) -> Timing:
    return Timing(
        interview_id=interview.id,
        status=interview.status,
        provision_at=interview.provision_at,
        valid_until=interview.valid_until,
        auto_destroy_at=interview.auto_destroy_at,
        warned_minutes=interview.warned_minutes,
    )


async def _finish(ctx: WorkerContext, operation: Operation, message: str) -> None:
    async with ctx.sessions() as db:
        current = await db.get(Operation, operation.id, populate_existing=True)
        if current is not None:
            await queue.complete(db, current, message)
        await commit_and_publish(db, ctx.bus)


async def _failed(
    ctx: WorkerContext, operation: Operation, interview: Interview, exc: Exception
) -> None:
    error = f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc)
    async with ctx.sessions() as db:
        current = await db.get(Operation, operation.id, populate_existing=True)
        if current is None:
            return
        if current.attempts < ctx.settings.worker.max_attempts:
            run_at = utcnow() + timedelta(seconds=2 * current.attempts)
            await queue.retry_later(
                db,
                current,
                f"attempt {current.attempts} of {ctx.settings.worker.max_attempts} failed: {error}",
                run_at,
            )
            await commit_and_publish(db, ctx.bus)
            return
        await queue.fail(db, current, f"giving up after {current.attempts} attempts: {error}")
        failed = await transition(
            db,
            interview.id,
            S.ERROR,
            public_url=ctx.public_url,
            expected=BUILDING,
        )
        if failed is not None:
            await transition(
                db,
                interview.id,
                S.DESTROYING,
                public_url=ctx.public_url,
                expected=(S.ERROR,),
                end_reason=EndReason.FAILED,
            )
            await queue.enqueue(
                db,
                OperationType.DESTROY,
                interview.id,
                note="cleaning up after a failed start",
                org_id=interview.org_id,
            )
        await commit_and_publish(db, ctx.bus)
