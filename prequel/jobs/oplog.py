"""An operation's log: each line is committed and published at once, so the interviewer's
Logs view streams while the job runs."""

from __future__ import annotations

from prequel.db.models import Operation
from prequel.jobs import queue
from prequel.jobs.context import WorkerContext
from prequel.realtime.outbox import commit_and_publish


class OperationLog:
    def __init__(self, ctx: WorkerContext, operation: Operation, org_id: str) -> None:
        self._ctx = ctx
        self._operation_id = operation.id
        self._org_id = org_id

    async def __call__(self, message: str, level: str = "info") -> None:
        async with self._ctx.sessions() as db:
            operation = await db.get(Operation, self._operation_id)
            if operation is None:
                return
            await queue.append_log(db, operation, message, level, org_id=self._org_id)
            await commit_and_publish(db, self._ctx.bus)
