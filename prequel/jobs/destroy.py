"""The destroy job: grade, archive, record the archive, remove the workspace, `destroyed`.

The visible and hidden tests run first against the final files (prequel.interviews.grading),
then the rest of the recording is collected (prequel.recording.collector.drain) and the
interviewers' private notes are kept (prequel.interviews.private_notes); after the archive is
stored, its files are analysed (prequel.interviews.final_analysis). All of these are best
effort and never keep the work from being saved.

The archive is stored and its key committed before the backend removes anything; if that
fails the workspace stays and the job retries with backoff. `destroyed` is written only once
the backend confirms the workspace is gone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from prequel.db.models import Interview, Operation, WorkspaceHandle
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewStatus
from prequel.domain.operations import OperationStatus, OperationType
from prequel.interviews.final_analysis import analyze_final_work
from prequel.interviews.grading import grade_final_work
from prequel.interviews.private_notes import keep_private_notes
from prequel.interviews.transitions import transition
from prequel.jobs import queue
from prequel.jobs.context import WorkerContext, handle_from_row, load_handle
from prequel.jobs.oplog import OperationLog
from prequel.realtime.outbox import commit_and_publish
from prequel.recording.collector import drain

S = InterviewStatus


def history_key(interview_id: str) -> str:
    return f"history/{interview_id}/workspace.tar.gz"


class ArchiveToHistory:
    """The ArchiveSink: spool the stream to a temporary file, store it, record key and size."""

    def __init__(self, ctx: WorkerContext, interview_id: str, key: str | None = None) -> None:
        self._ctx = ctx
        self._interview_id = interview_id
        self.key = key or history_key(interview_id)
        self.size: int | None = None

    async def __call__(self, chunks: AsyncIterator[bytes]) -> None:
        spool = self._ctx.settings.data_dir / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="archive-", suffix=".tar.gz", dir=spool)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    out.write(chunk)
            info = await self._ctx.blobs.put_file(self.key, Path(name))
        finally:
            os.unlink(name)
        self.size = info.size
        async with self._ctx.sessions() as db:
            await db.execute(
                update(Interview)
                .where(Interview.id == self._interview_id)
                .values(history_key=self.key, history_size=info.size)
                .execution_options(synchronize_session=False)
            )
            await db.commit()


async def _create_running(ctx: WorkerContext, interview_id: str) -> bool:
    async with ctx.sessions() as db:
        found = await db.execute(
            select(Operation.id).where(
                Operation.interview_id == interview_id,
                Operation.type == OperationType.CREATE.value,
                Operation.status == OperationStatus.RUNNING.value,
            )
        )
        return found.first() is not None


def backoff(ctx: WorkerContext, attempts: int) -> timedelta:
    seconds = min(ctx.settings.worker.retry_max_seconds, 5.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds)


async def run_destroy(ctx: WorkerContext, operation: Operation) -> None:
    async with ctx.sessions() as db:
        interview = await db.get(Interview, operation.interview_id)
        if interview is None or interview.status == S.DESTROYED:
            await queue.complete(db, operation, "already destroyed")
            await commit_and_publish(db, ctx.bus)
            return
        log = OperationLog(ctx, operation, interview.org_id)
        if interview.status == S.ERROR:
            await transition(
                db,
                interview.id,
                S.DESTROYING,
                public_url=ctx.public_url,
                expected=(S.ERROR,),
                end_reason=EndReason(interview.end_reason or EndReason.FAILED),
            )
            await commit_and_publish(db, ctx.bus)
        elif interview.status != S.DESTROYING:
            await queue.complete(
                db, operation, f"the interview is {interview.status}; nothing to destroy"
            )
            await commit_and_publish(db, ctx.bus)
            return
        row = await load_handle(db, interview.id)
        handle = handle_from_row(row) if row is not None else None
    if await _create_running(ctx, interview.id):
        async with ctx.sessions() as db:
            await queue.retry_later(
                db,
                operation,
                "waiting for the create step to stop",
                utcnow() + timedelta(seconds=2),
            )
            await commit_and_publish(db, ctx.bus)
        return
    sink = ArchiveToHistory(ctx, interview.id)
    if handle is not None:
        # Grading first, while the final files are still there; it never stops the destroy.
        await grade_final_work(ctx, interview.id, handle, log)
        # Then what the workspace recorded (the hidden tests included) before it goes.
        await drain(ctx, interview.id, handle, log)
        await keep_private_notes(ctx, interview.id, handle, log)
        try:
            await log("saving the candidate's work")
            archived = await ctx.provisioner.destroy(handle, sink, log)
        except Exception as exc:  # the workspace is kept; try again later
            async with ctx.sessions() as db:
                await queue.retry_later(
                    db,
                    operation,
                    f"could not save and remove the workspace, so it is kept: {exc}",
                    utcnow() + backoff(ctx, operation.attempts),
                )
                await commit_and_publish(db, ctx.bus)
            return
        if archived:
            await log(f"work saved to {sink.key} ({sink.size} bytes)")
            await analyze_final_work(ctx, interview.id, log)
        else:
            await log("the workspace was already gone", "warning")
    async with ctx.sessions() as db:
        await db.execute(
            delete(WorkspaceHandle).where(WorkspaceHandle.interview_id == interview.id)
        )
        await transition(
            db,
            interview.id,
            S.DESTROYED,
            public_url=ctx.public_url,
            expected=(S.DESTROYING,),
            end_reason=EndReason(interview.end_reason or EndReason.FAILED),
        )
        current = await db.get(Operation, operation.id, populate_existing=True)
        if current is not None:
            await queue.complete(
                db,
                current,
                "destroyed: the interview is closed",
                {
                    "archive_key": sink.key if sink.size is not None else None,
                    "archive_size": sink.size,
                },
            )
        await commit_and_publish(db, ctx.bus)
