"""The agent's ASGI app: `create_agent_app(config)`.

Plain Starlette, not FastAPI: importing FastAPI alone takes longer (~330 ms here) than the
agent's whole cold-start budget (spawn to a healthy answer in < 300 ms), and the agent's
small JSON protocol is documented by hand in docs/agent-protocol.md.

Routes live in one module per concern under prequel.agent.routes; each module exposes
`routes` (a list of Starlette Route / WebSocketRoute objects). To add a concern (runs, tests,
the terminal), write prequel/agent/routes/<name>.py and append the module to ROUTE_MODULES.
Every route, HTTP or WebSocket, is behind BearerAuth; privileged routes call
prequel.agent.auth.require_portal(request) first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence
from types import ModuleType

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from prequel.agent.auth import BearerAuth
from prequel.agent.challenge import load_challenge_info
from prequel.agent.config import AgentConfig
from prequel.agent.errors import (
    AgentError,
    handle_agent_error,
    handle_http_exception,
    handle_unexpected,
)
from prequel.agent.execution import Execution
from prequel.agent.files import Workspace
from prequel.agent.recording.recorder import Recorder
from prequel.agent.routes import archive, collab, files, meta, recording, runs, terminal, tests
from prequel.agent.state import AgentState
from prequel.sandbox.runner import Sandbox
from prequel.sandbox.selftest import self_test

log = logging.getLogger("prequel.agent")

__all__ = ["ROUTE_MODULES", "AgentConfig", "create_agent_app"]

ROUTE_MODULES: tuple[ModuleType, ...] = (
    meta,
    files,
    archive,
    runs,
    tests,
    terminal,
    collab,
    recording,
)


def _startup_checks(workspace: Workspace) -> dict[str, object]:
    """Recorded once and reported by GET /health."""
    return {
        "workspace_writable": os.access(
            ".", os.W_OK | os.X_OK, dir_fd=workspace.root_fd, effective_ids=True
        ),
        "uid": os.geteuid(),
        "gid": os.getegid(),
    }


def create_agent_app(config: AgentConfig, *, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The app for one workspace. Opens the workspace folder now (so call it after dropping
    privileges) and reads the challenge's metadata; raises OSError or ChallengeError."""
    challenge = load_challenge_info(config.challenge_dir) if config.challenge_dir else None
    workspace = Workspace(
        config.workspace,
        max_file_bytes=config.max_file_bytes,
        max_upload_bytes=config.max_upload_bytes,
    )

    sandbox = Sandbox(
        config.workspace,
        uid=config.sandbox_uid,
        gid=config.sandbox_gid,
        slot=config.slot,
        unsafe=config.unsafe_sandbox,
        bwrap_path=config.bwrap_path,
        cgroup_name=config.cgroup_name,
    )
    execution = Execution(sandbox)
    if challenge is not None and challenge.limits:
        execution.default_limits = execution.default_limits.merged(challenge.limits)
        execution.test_limits = execution.test_limits.merged(challenge.limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The self-test runs beside the first requests so start-up stays fast; a broken
        # sandbox still fails closed, because every run then fails to start.
        probe = asyncio.create_task(_probe_sandbox(app, config, sandbox))
        # Recording starts with the agent, so nothing that happens is missed.
        app.state.recorder = Recorder.start(config.workspace)
        try:
            yield
        finally:
            await app.state.recorder.close()
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
            await execution.close()
            workspace.close()

    routes: list[BaseRoute] = [route for module in ROUTE_MODULES for route in module.routes]
    app = Starlette(
        routes=[*routes, *extra_routes],
        middleware=[Middleware(BearerAuth, token=config.token, portal_token=config.portal_token)],
        exception_handlers={
            AgentError: handle_agent_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.agent = AgentState(
        config=config,
        workspace=workspace,
        challenge=challenge,
        checks=_startup_checks(workspace),
    )
    # The sandbox's start-up self-test lands here; GET /health reports it.
    app.state.sandbox_report = None
    app.state.execution = execution
    return app


async def _probe_sandbox(app: Starlette, config: AgentConfig, sandbox: Sandbox) -> None:
    report = await self_test(sandbox=sandbox)
    app.state.sandbox_report = report.to_json()
    if not report.safe:
        level = logging.ERROR if not config.unsafe_sandbox else logging.WARNING
        log.log(
            level,
            "sandbox self-test failed (%s); candidate code %s",
            "; ".join(c.name for c in report.checks if not c.ok),
            "runs UNSAFELY with rlimits only" if config.unsafe_sandbox else "is refused",
        )
