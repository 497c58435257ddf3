"""What every part of the worker shares: backends, settings and small helpers around them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prequel.db.models import WorkspaceHandle
from prequel.jobs.deadlines import Deadline
from prequel.realtime.bus import EventBus
from prequel.settings import Settings
from prequel.storage.base import BlobStore
from prequel.workspaces.base import Handle, Provisioner


@dataclass
class WorkerContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    bus: EventBus | None
    provisioner: Provisioner
    worker_id: str
    # Arms in-memory deadlines (set by the worker to its timer's arm).
    arm: Callable[[Iterable[Deadline]], None] = field(default=lambda _deadlines: None)

    def minutes(self, count: float) -> timedelta:
        """Interview minutes; shortened only by the test-only WORKER__MINUTE_SECONDS."""
        return timedelta(seconds=count * self.settings.worker.minute_seconds)

    @property
    def public_url(self) -> str:
        return self.settings.public_url


def handle_from_row(row: WorkspaceHandle) -> Handle:
    return Handle(
        interview_id=row.interview_id,
        backend=row.backend,
        name=row.name,
        uid=row.uid,
        endpoint=row.endpoint,
        pid=row.pid,
        pid_started=row.pid_started,
        details=dict(row.details or {}),
    )


def copy_into_row(handle: Handle, row: WorkspaceHandle) -> None:
    row.uid = handle.uid
    row.endpoint = handle.endpoint
    row.pid = handle.pid
    row.pid_started = handle.pid_started
    row.details = dict(handle.details)


async def load_handle(db: AsyncSession, interview_id: str) -> WorkspaceHandle | None:
    return (
        await db.execute(
            select(WorkspaceHandle)
            .where(WorkspaceHandle.interview_id == interview_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
