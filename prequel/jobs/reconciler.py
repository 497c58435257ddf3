"""Reconciliation, both ways (DESIGN.md, "Architecture"), at startup and every few minutes.

Database -> world: every interview that may have a workspace is checked against its backend.
World -> database: every workspace the backend lists with our label and no live row is
archived and destroyed. Orphans are the most common complaint about other platforms.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select

from prequel.db.models import Interview, WorkspaceHandle
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewStatus
from prequel.domain.operations import OperationType
from prequel.interviews.transitions import transition
from prequel.jobs import queue
from prequel.jobs.context import WorkerContext, handle_from_row
from prequel.jobs.destroy import ArchiveToHistory
from prequel.realtime.bus import Audience
from prequel.realtime.outbox import commit_and_publish, stage_event
from prequel.workspaces.base import Handle, WorkspaceState

log = logging.getLogger("prequel.reconciler")
S = InterviewStatus
MAY_HAVE_WORKSPACE = (S.INITIALIZING, S.CONFIGURING, S.ACTIVE, S.ERROR, S.DESTROYING)


async def _note(ctx: WorkerContext, interview: Interview, message: str, level: str) -> None:
    """A line the interviewer sees in the stream (and the event log), and in the server log."""
    getattr(log, "warning" if level != "info" else "info")("%s: %s", interview.id, message)
    async with ctx.sessions() as db:
        stage_event(
            db,
            "scheduler_event",
            org_id=interview.org_id,
            interview_id=interview.id,
            audience=Audience.STAFF,
            payload={"kind": "reconciled", "level": level, "message": message},
        )
        await commit_and_publish(db, ctx.bus)


async def _end(ctx: WorkerContext, interview: Interview, reason: EndReason, why: str) -> None:
    async with ctx.sessions() as db:
        moved = await transition(
            db,
            interview.id,
            S.DESTROYING,
            public_url=ctx.public_url,
            expected=(S(interview.status),),
            end_reason=reason,
        )
        if moved is not None:
            await queue.cancel_waiting(db, interview.id, OperationType.CREATE)
            await queue.enqueue(
                db, OperationType.DESTROY, interview.id, note=why, org_id=interview.org_id
            )
        await commit_and_publish(db, ctx.bus)


async def _ensure_operation(
    ctx: WorkerContext, interview: Interview, type: OperationType, why: str
) -> bool:
    async with ctx.sessions() as db:
        if await queue.has_live_operation(db, interview.id, type):
            return False
        current = await db.get(Interview, interview.id, populate_existing=True)
        if current is None or current.status != interview.status:
            return False  # it moved on while we looked
        await queue.enqueue(db, type, interview.id, note=why, org_id=interview.org_id)
        await commit_and_publish(db, ctx.bus)
        return True


async def _check(
    ctx: WorkerContext, interview: Interview, handle: Handle | None, now: datetime
) -> None:
    status = S(interview.status)
    if status is S.DESTROYING:
        if await _ensure_operation(
            ctx, interview, OperationType.DESTROY, "resuming an unfinished destroy"
        ):
            await _note(ctx, interview, "resumed an unfinished destroy", "warning")
        return
    if interview.auto_destroy_at is not None and interview.auto_destroy_at <= now:
        await _end(ctx, interview, EndReason.TIME_UP, "time is up (found by reconciliation)")
        return
    if status in (S.INITIALIZING, S.CONFIGURING):
        if await _ensure_operation(
            ctx, interview, OperationType.CREATE, f"resuming a start stuck in {status.value}"
        ):
            await _note(ctx, interview, f"resumed a start stuck in {status.value}", "warning")
        return
    if status is S.ACTIVE:
        state = await ctx.provisioner.status(handle) if handle is not None else WorkspaceState.GONE
        if state is WorkspaceState.GONE:
            async with ctx.sessions() as db:
                moved = await transition(
                    db, interview.id, S.ERROR, public_url=ctx.public_url, expected=(S.ACTIVE,)
                )
                await commit_and_publish(db, ctx.bus)
            if moved is not None:
                await _note(
                    ctx,
                    interview,
                    "the workspace of this active interview is gone; status set to error",
                    "error",
                )
        elif state is WorkspaceState.EXITED and handle is not None:
            # The files are there but the agent died: start it again on the same folder.
            await _ensure_operation(
                ctx, interview, OperationType.CREATE, "restarting a stopped agent"
            )


async def reconcile_database(ctx: WorkerContext) -> None:
    now = utcnow()
    async with ctx.sessions() as db:
        rows = list(
            (
                await db.execute(
                    select(Interview, WorkspaceHandle)
                    .outerjoin(WorkspaceHandle, WorkspaceHandle.interview_id == Interview.id)
                    .where(Interview.status.in_([s.value for s in MAY_HAVE_WORKSPACE]))
                )
            ).all()
        )
    for interview, row in rows:
        try:
            await _check(ctx, interview, handle_from_row(row) if row is not None else None, now)
        except Exception:
            log.exception("reconciling interview %s failed", interview.id)


async def reconcile_world(ctx: WorkerContext) -> int:
    """Archive and destroy workspaces that no live row owns; returns how many."""
    owned = await ctx.provisioner.list_owned()
    if not owned:
        return 0
    async with ctx.sessions() as db:
        handles = {
            row.name: row
            for row in (
                await db.execute(
                    select(WorkspaceHandle).where(WorkspaceHandle.name.in_([w.name for w in owned]))
                )
            ).scalars()
        }
        statuses = dict(
            (
                await db.execute(
                    select(Interview.id, Interview.status).where(
                        Interview.id.in_([w.interview_id for w in owned])
                    )
                )
            ).all()
        )
    removed = 0
    for workspace in owned:
        row = handles.get(workspace.name)
        status = statuses.get(workspace.interview_id)
        if row is not None and status is not None and status != S.DESTROYED:
            continue  # a live interview owns it
        handle = (
            handle_from_row(row)
            if row is not None
            else Handle(
                interview_id=workspace.interview_id,
                backend=ctx.provisioner.name,
                name=workspace.name,
            )
        )
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        key = None if status is not None else f"orphans/{workspace.name}/{stamp}.tar.gz"
        sink = ArchiveToHistory(ctx, workspace.interview_id, key)
        if status is not None:
            async with ctx.sessions() as db:
                existing = await db.get(Interview, workspace.interview_id)
                if existing is not None and existing.history_key:
                    # Never overwrite the archive the destroy already saved.
                    sink = ArchiveToHistory(
                        ctx, workspace.interview_id, f"orphans/{workspace.name}/{stamp}.tar.gz"
                    )
        try:
            await ctx.provisioner.destroy(handle, sink, _log_line)
        except Exception:
            log.exception("could not archive and remove orphan workspace %s; kept", workspace.name)
            continue
        if row is not None:
            async with ctx.sessions() as db:
                await db.execute(delete(WorkspaceHandle).where(WorkspaceHandle.name == row.name))
                await db.commit()
        log.warning("removed orphan workspace %s (archived to %s)", workspace.name, sink.key)
        removed += 1
    return removed


async def _log_line(message: str) -> None:
    log.info("orphan cleanup: %s", message)


async def reconcile(ctx: WorkerContext) -> None:
    await reconcile_database(ctx)
    await reconcile_world(ctx)
