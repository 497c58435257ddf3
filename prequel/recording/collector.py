"""The collector: the worker long-polls every active workspace's agent for its recording
(`GET /recording`, docs/agent-protocol.md) and stores each batch before acknowledging it.

Acknowledging is asking for what comes after the last stored event, so an event leaves the
agent's disk buffer only once it is committed here: a portal killed at any moment loses
nothing, and a batch delivered twice is stored once (store.insert_ignoring_duplicates). When
a workspace ends, the destroy job drains what is left before the workspace goes (`drain`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import select

from prequel.db.models import Interview, WorkspaceHandle
from prequel.domain.interviews import InterviewStatus
from prequel.jobs.context import WorkerContext, handle_from_row
from prequel.recording.snapshots import SnapshotWriter
from prequel.recording.store import last_stored_seq, rows_of, store_rows
from prequel.workspaces.base import Handle

log = logging.getLogger("prequel.recording")

SCAN_SECONDS = 2.0
POLL_WAIT_SECONDS = 10.0
BATCH_LIMIT = 1000
RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0)
UNAVAILABLE_RETRY_SECONDS = 30.0
DRAIN_ROUNDS = 1000  # a drain stops after this many batches even if events keep coming


class CollectError(RuntimeError):
    """The agent could not be asked, or did not answer with a recording."""


class WorkspaceRecording:
    """Collects one workspace's recording into the database."""

    def __init__(self, ctx: WorkerContext, interview_id: str, handle: Handle) -> None:
        self.ctx = ctx
        self.interview_id = interview_id
        self.handle = handle
        self.stored: int | None = None
        self.snapshots = SnapshotWriter(ctx.sessions, interview_id)

    async def _stored(self) -> int:
        if self.stored is None:
            async with self.ctx.sessions() as db:
                self.stored = await last_stored_seq(db, self.interview_id)
        return self.stored

    async def collect_once(self, wait: float) -> int:
        """Ask for what follows the last stored event, store it, and return how many came."""
        after = await self._stored()
        try:
            async with self.ctx.provisioner.agent_client(self.handle, timeout=wait + 15.0) as agent:
                response = await agent.get(
                    "/recording", params={"after": after, "limit": BATCH_LIMIT, "wait": wait}
                )
        except (httpx.HTTPError, OSError) as exc:
            raise CollectError(f"the agent could not be reached: {exc!r}") from exc
        if response.status_code != 200:
            raise CollectError(f"the agent answered {response.status_code}: {response.text[:200]}")
        events = response.json().get("events")
        if not isinstance(events, list):
            raise CollectError("the agent's answer has no events")
        rows, problems = rows_of(self.interview_id, events)
        for problem in problems:
            log.warning("interview %s: dropped a malformed event: %s", self.interview_id, problem)
        if rows:
            async with self.ctx.sessions() as db:
                highest = await store_rows(db, rows)
                await db.commit()
            self.stored = max(after, highest)
            await self.snapshots.catch_up()
        return len(events)

    async def run(self) -> None:
        """Collect until cancelled, backing off while the agent cannot answer."""
        failures = 0
        while True:
            try:
                await self.collect_once(POLL_WAIT_SECONDS)
                failures = 0
            except CollectError as exc:
                delay = (
                    UNAVAILABLE_RETRY_SECONDS
                    if "recording_unavailable" in str(exc)
                    else RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]
                )
                if failures == 0:
                    log.warning("interview %s: recording not collected: %s", self.interview_id, exc)
                failures += 1
                await asyncio.sleep(delay)
            except Exception:  # a database hiccup must not end collection for good
                log.exception("interview %s: collecting the recording failed", self.interview_id)
                failures += 1
                await asyncio.sleep(RETRY_SECONDS[-1])


async def drain(
    ctx: WorkerContext, interview_id: str, handle: Handle, log_line: Callable[..., Awaitable[None]]
) -> None:
    """Collect everything the workspace still holds, before it is destroyed. Never raises:
    the candidate's archive matters more than the rest of the recording."""
    recording = WorkspaceRecording(ctx, interview_id, handle)
    try:
        for _ in range(DRAIN_ROUNDS):
            if await recording.collect_once(0) == 0:
                break
        await recording.snapshots.catch_up(final=True)
    except CollectError as exc:
        await log_line(f"the rest of the recording could not be collected: {exc}", "warning")
    except Exception as exc:  # never keeps the work from being saved
        log.exception("interview %s: draining the recording failed", interview_id)
        await log_line(f"the rest of the recording could not be collected: {exc!r}", "warning")


class RecordingCollector:
    """Keeps one collecting task per active workspace, started and stopped as they come and go."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def _active(self) -> dict[str, Handle]:
        async with self.ctx.sessions() as db:
            rows = await db.execute(
                select(WorkspaceHandle)
                .join(Interview, Interview.id == WorkspaceHandle.interview_id)
                .where(
                    Interview.status == InterviewStatus.ACTIVE.value,
                    WorkspaceHandle.endpoint.is_not(None),
                )
            )
            return {row.interview_id: handle_from_row(row) for row in rows.scalars()}

    async def scan(self) -> None:
        active = await self._active()
        for interview_id in list(self._tasks):
            task = self._tasks[interview_id]
            if interview_id not in active or task.done():
                task.cancel()
                del self._tasks[interview_id]
        for interview_id, handle in active.items():
            if interview_id not in self._tasks:
                recording = WorkspaceRecording(self.ctx, interview_id, handle)
                self._tasks[interview_id] = asyncio.create_task(
                    recording.run(), name=f"recording-{interview_id}"
                )

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.scan()
                except Exception:
                    log.exception("finding the workspaces to record failed")
                await asyncio.sleep(SCAN_SECONDS)
        finally:
            tasks = list(self._tasks.values())
            self._tasks.clear()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
