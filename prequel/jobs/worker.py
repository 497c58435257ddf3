"""The worker: claims operations, fires deadlines, reaps dead jobs and reconciles.

Runs inside `prequel serve` (WORKER__EMBEDDED, the default) or alone as `prequel worker`;
any number may run against one database. Nothing here depends on memory surviving a restart:
the queue, the deadlines and the workspaces are all re-read from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prequel.db.models import Interview, Operation
from prequel.db.types import utcnow
from prequel.domain.operations import OperationStatus, OperationType
from prequel.jobs import due, queue
from prequel.jobs.context import WorkerContext
from prequel.jobs.create import run_create
from prequel.jobs.deadlines import Deadline, DeadlineTimer, Timing, deadlines_for
from prequel.jobs.destroy import run_destroy
from prequel.jobs.reconciler import reconcile
from prequel.realtime.bus import BusEvent, EventBus
from prequel.realtime.outbox import commit_and_publish
from prequel.recording.collector import RecordingCollector
from prequel.settings import Settings
from prequel.storage.base import BlobStore
from prequel.workspaces.base import Provisioner

log = logging.getLogger("prequel.worker")

# The claim loop also polls this often, in case a wake-up was missed (no shared bus).
POLL_SECONDS = 1.0
HANDLERS: dict[str, Callable[[WorkerContext, Operation], Awaitable[None]]] = {
    OperationType.CREATE.value: run_create,
    OperationType.DESTROY.value: run_destroy,
}
TIMED_STATUSES = ("scheduled", "invited", "initializing", "configuring", "active", "error")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _parse_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class Worker:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        bus: EventBus | None,
        provisioner: Provisioner,
        worker_id: str | None = None,
    ) -> None:
        self.ctx = WorkerContext(
            settings=settings,
            sessions=sessions,
            blobs=blobs,
            bus=bus,
            provisioner=provisioner,
            worker_id=worker_id or new_worker_id(),
        )
        self.timer = DeadlineTimer(lambda batch: due.fire(self.ctx, batch))
        self.ctx.arm = self.timer.arm
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.worker.concurrency)
        self._tasks: list[asyncio.Task[None]] = []
        self._running: dict[str, asyncio.Task[None]] = {}
        self.ready = asyncio.Event()

    @property
    def worker_id(self) -> str:
        return self.ctx.worker_id

    # Lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        log.info("worker %s starting", self.worker_id)
        await self.sweep()
        for name, loop in (
            ("claims", self._claim_loop),
            ("deadlines", self.timer.run),
            ("sweep", self._sweep_loop),
            ("reconcile", self._reconcile_loop),
            ("bus", self._bus_loop),
            ("recording", RecordingCollector(self.ctx).run),
        ):
            self._tasks.append(asyncio.create_task(loop(), name=f"worker-{name}"))
        self.ready.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        running = list(self._running.values())
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._release_claims()
        log.info("worker %s stopped", self.worker_id)

    async def _release_claims(self) -> None:
        """On a clean stop, hand unfinished jobs back so another worker (or the restarted
        one) takes them at once instead of waiting for the reaper."""
        async with self.ctx.sessions() as db:
            await db.execute(
                update(Operation)
                .where(
                    Operation.claimed_by == self.worker_id,
                    Operation.status == OperationStatus.RUNNING.value,
                )
                .values(status=OperationStatus.PENDING.value, claimed_by=None, heartbeat_at=None)
            )
            await db.commit()

    def wake(self) -> None:
        self._wake.set()

    # Operations ------------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while True:
            self._wake.clear()
            free = self.ctx.settings.worker.concurrency - len(self._running)
            claimed: list[Operation] = []
            if free > 0:
                try:
                    async with self.ctx.sessions() as db:
                        claimed = await queue.claim(db, self.worker_id, limit=free)
                        await commit_and_publish(db, self.ctx.bus)
                except Exception:
                    log.exception("claiming operations failed; retrying")
            for operation in claimed:
                task = asyncio.create_task(self._run(operation), name=f"op-{operation.id}")
                self._running[operation.id] = task
            if claimed and len(claimed) == free:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS)

    async def _run(self, operation: Operation) -> None:
        handler = HANDLERS.get(operation.type)
        beat = asyncio.create_task(self._heartbeat(operation.id, asyncio.current_task()))
        try:
            if handler is None:
                async with self.ctx.sessions() as db:
                    await queue.fail(db, operation, f"unknown operation type {operation.type!r}")
                    await commit_and_publish(db, self.ctx.bus)
                return
            await handler(self.ctx, operation)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("operation %s (%s) crashed", operation.id, operation.type)
            async with self.ctx.sessions() as db:
                current = await db.get(Operation, operation.id)
                if current is not None:
                    await queue.fail(db, current, f"internal error: {exc}")
                await commit_and_publish(db, self.ctx.bus)
        finally:
            beat.cancel()
            self._running.pop(operation.id, None)
            self._wake.set()

    async def _heartbeat(self, operation_id: str, job: asyncio.Task[object] | None) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.worker.heartbeat_seconds)
            try:
                async with self.ctx.sessions() as db:
                    ours = await queue.heartbeat(db, operation_id, self.worker_id)
                    await db.commit()
            except Exception:
                log.exception("heartbeat of %s failed", operation_id)
                continue
            if not ours and job is not None:
                log.warning("operation %s was taken from this worker; stopping it", operation_id)
                job.cancel()
                return

    # Deadlines, sweeps, reconciliation ---------------------------------------------------------

    async def sweep(self) -> None:
        """Rebuild the timers from the database, reap dead jobs, retry what they left, and
        delete old finished operations."""
        await self.rebuild_timers()
        await self.reap()
        async with self.ctx.sessions() as db:
            cutoff = utcnow() - timedelta(days=self.ctx.settings.worker.operation_retention_days)
            await queue.delete_finished_before(db, cutoff)
            await db.commit()

    async def rebuild_timers(self) -> None:
        horizon = utcnow() + timedelta(seconds=2 * self.ctx.settings.worker.sweep_seconds)
        minute = self.ctx.minutes(1)
        warn_window = minute * 10
        async with self.ctx.sessions() as db:
            rows = await db.execute(
                select(
                    Interview.id,
                    Interview.status,
                    Interview.provision_at,
                    Interview.valid_until,
                    Interview.auto_destroy_at,
                    Interview.warned_minutes,
                ).where(
                    Interview.status.in_(TIMED_STATUSES),
                    (Interview.provision_at <= horizon)
                    | (Interview.valid_until <= horizon)
                    | (Interview.auto_destroy_at <= horizon + warn_window),
                )
            )
            deadlines: list[Deadline] = []
            for row in rows.all():
                for deadline in deadlines_for(Timing(*row), minute):
                    if deadline.when <= horizon:
                        deadlines.append(deadline)
        self.timer.replace(deadlines)

    async def reap(self) -> None:
        stale = timedelta(seconds=self.ctx.settings.worker.stale_after_seconds)
        async with self.ctx.sessions() as db:
            reaped = await queue.reap_stale(db, stale)
            await commit_and_publish(db, self.ctx.bus)
        if reaped:
            log.warning("reaped %d operations whose worker stopped heartbeating", len(reaped))
            # Their interviews are picked up again by reconciliation.
            await reconcile(self.ctx)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.worker.sweep_seconds)
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed")

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                await reconcile(self.ctx)
            except Exception:
                log.exception("reconciliation failed")
            self._wake.set()
            await asyncio.sleep(self.ctx.settings.worker.reconcile_seconds)

    # Bus: new jobs and changed deadlines from any process -------------------------------------

    async def _bus_loop(self) -> None:
        bus = self.ctx.bus
        if bus is None:
            return
        subscription = await bus.subscribe()
        try:
            async for event in subscription:
                self._on_event(event)
        finally:
            await subscription.close()

    def _on_event(self, event: BusEvent) -> None:
        if event.audience not in ("staff", "all"):
            return
        payload = event.payload
        if event.type == "operation_update" and payload.get("status") in ("pending", "scheduled"):
            self._wake.set()
        elif event.type == "interview_update":
            timing = Timing(
                interview_id=str(payload.get("id")),
                status=str(payload.get("status")),
                provision_at=_parse_time(payload.get("provision_at")),
                valid_until=_parse_time(payload.get("valid_until")),
                auto_destroy_at=_parse_time(payload.get("auto_destroy_at")),
                warned_minutes=None,
            )
            horizon = utcnow() + timedelta(seconds=2 * self.ctx.settings.worker.sweep_seconds)
            self.timer.arm(
                d for d in deadlines_for(timing, self.ctx.minutes(1)) if d.when <= horizon
            )
