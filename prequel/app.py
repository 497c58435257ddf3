"""The portal application: create_app(settings) and one lifespan of ordered, named steps."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from prequel import __version__
from prequel.auth.candidate_throttle import CandidateThrottle
from prequel.auth.throttle import LoginThrottle, open_limits_storage
from prequel.db import migrate
from prequel.db.engine import create_engine, create_session_factory
from prequel.jobs.runtime import open_worker, open_workspaces
from prequel.realtime.factory import open_event_bus
from prequel.settings import Settings
from prequel.state import AppState
from prequel.storage.factory import open_blob_store
from prequel.web.errors import install_error_handlers
from prequel.web.routes import (
    archive_files,
    auth,
    candidate_pages,
    candidates,
    challenges,
    dashboard_pages,
    events,
    grading,
    health,
    history_pages,
    interviews,
    pages,
    recording,
    report_pages,
    reports,
    team_pages,
    tokens,
    users,
    workspace_proxy,
)
from prequel.web.security_headers import SecurityHeadersMiddleware
from prequel.web.templating import create_templates

log = logging.getLogger("prequel")

STATIC_DIR = Path(__file__).resolve().parent / "web" / "static"

StartupStep = Callable[[AppState], AbstractAsyncContextManager[None]]


class SchemaOutOfDate(RuntimeError):
    pass


@asynccontextmanager
async def open_database(state: AppState) -> AsyncIterator[None]:
    settings = state.settings
    engine = create_engine(
        settings.database_url, echo=settings.database.echo, pool_size=settings.database.pool_size
    )
    try:
        current, head = await migrate.current_revision(engine), migrate.head_revision()
        if current != head:
            raise SchemaOutOfDate(
                f"the database schema is at revision {current or 'none'} but this Prequel "
                f"needs {head}; run 'prequel migrate' first"
            )
        state.engine = engine
        state.sessions = create_session_factory(engine)
        log.info("database: %s", engine.url.render_as_string(hide_password=True))
        yield
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_storage(state: AppState) -> AsyncIterator[None]:
    state.blobs = await open_blob_store(state.settings)
    log.info("blob storage: %s", state.blobs.name)
    try:
        yield
    finally:
        await state.blobs.close()


@asynccontextmanager
async def open_rate_limits(state: AppState) -> AsyncIterator[None]:
    storage = open_limits_storage(state.settings.rate_limit.storage_url)
    state.login_throttle = LoginThrottle(storage, state.settings.auth)
    state.candidate_throttle = CandidateThrottle(
        open_limits_storage(state.settings.rate_limit.storage_url), state.settings.candidates
    )
    log.info("rate limits: %s", state.settings.rate_limit.storage_url.split("@")[-1])
    try:
        yield
    finally:
        await state.candidate_throttle.close()
        await state.login_throttle.close()


@asynccontextmanager
async def open_bus(state: AppState) -> AsyncIterator[None]:
    state.bus = await open_event_bus(state.settings)
    log.info("event bus: %s", state.bus.name)
    try:
        yield
    finally:
        await state.bus.close()


# Every router the portal serves; tests walk this list to check each route's guard.
ROUTERS = (
    health.router,
    auth.router,
    tokens.router,
    users.router,
    challenges.router,
    candidates.router,
    interviews.router,
    grading.router,
    recording.router,
    reports.router,
    report_pages.router,
    archive_files.router,
    events.router,
    pages.router,
    dashboard_pages.router,
    history_pages.router,
    candidate_pages.router,
    team_pages.router,
    workspace_proxy.router,
)

STARTUP_STEPS: list[tuple[str, StartupStep]] = [
    ("database", open_database),
    ("storage", open_storage),
    ("rate limits", open_rate_limits),
    ("event bus", open_bus),
    ("workspaces", open_workspaces),
    ("worker", open_worker),
]


def create_app(settings: Settings) -> FastAPI:
    state = AppState(settings=settings, templates=create_templates())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for name, step in STARTUP_STEPS:
                log.debug("starting %s", name)
                await stack.enter_async_context(step(state))
            log.info("Prequel %s ready at %s", __version__, settings.public_url)
            yield

    app = FastAPI(
        title="Prequel",
        version=__version__,
        description="Self-hosted coding interviews: challenges, workspaces, recordings.",
        lifespan=lifespan,
    )
    app.state.prequel = state
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key.get_secret_value(),
        session_cookie="prequel_session",
        max_age=settings.auth.session_max_age_seconds,
        same_site="lax",
        https_only=settings.auth.cookie_secure,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app
