"""Running the worker: as a lifespan step of `prequel serve`, or alone as `prequel worker`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prequel.db import migrate
from prequel.db.engine import create_engine, create_session_factory
from prequel.jobs.worker import Worker
from prequel.realtime.factory import open_event_bus
from prequel.settings import Settings
from prequel.state import AppState
from prequel.storage.factory import open_blob_store
from prequel.workspaces.factory import open_provisioner

log = logging.getLogger("prequel.worker")


@asynccontextmanager
async def open_workspaces(state: AppState) -> AsyncIterator[None]:
    """Lifespan step: the provisioner (the portal reaches agents through it)."""
    state.provisioner = open_provisioner(state.settings)
    log.info("workspaces: %s backend", state.provisioner.name)
    try:
        yield
    finally:
        await state.provisioner.close()


@asynccontextmanager
async def open_worker(state: AppState) -> AsyncIterator[None]:
    """Lifespan step: the embedded worker, unless WORKER__EMBEDDED is off."""
    if not state.settings.worker.embedded:
        log.info("worker: not embedded (run 'prequel worker')")
        yield
        return
    worker = Worker(state.settings, state.sessions, state.blobs, state.bus, state.provisioner)
    await worker.start()
    state.worker = worker
    try:
        yield
    finally:
        await worker.stop()


async def run_standalone(settings: Settings) -> None:
    """`prequel worker`: the same worker without the web server, until SIGTERM or SIGINT."""
    engine = create_engine(settings.database_url, pool_size=settings.database.pool_size)
    try:
        if not await migrate.is_up_to_date(engine):
            raise RuntimeError("the database schema is out of date; run 'prequel migrate' first")
        blobs = await open_blob_store(settings)
        bus = await open_event_bus(settings)
        provisioner = open_provisioner(settings)
        worker = Worker(settings, create_session_factory(engine), blobs, bus, provisioner)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.start()
        log.info("worker %s running; stop with Ctrl-C", worker.worker_id)
        try:
            await stop.wait()
        finally:
            await worker.stop()
            await provisioner.close()
            await bus.close()
            await blobs.close()
    finally:
        await engine.dispose()
