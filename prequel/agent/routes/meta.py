"""GET /health (liveness and start-up checks) and GET /meta (challenge and workspace)."""

from __future__ import annotations

import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from prequel import __version__
from prequel.agent.bodies import in_thread
from prequel.agent.errors import AgentJSONResponse, error_body
from prequel.agent.state import agent_state
from prequel.agent.tree import workspace_stats


async def health(request: Request) -> Response:
    state = agent_state(request)
    problems: list[str] = []
    try:
        root = os.fstat(state.workspace.root_fd)
        if root.st_nlink == 0:
            problems.append("the workspace folder was deleted while the agent ran")
    except OSError as exc:
        problems.append(f"the workspace folder cannot be inspected: {exc.strerror}")
    body: dict[str, Any] = {
        "status": "ok" if not problems else "failing",
        "agent_version": __version__,
        "uptime_seconds": round(time.monotonic() - state.started, 3),
        "checks": state.checks,
        # Filled by the sandbox launcher's start-up probe (bubblewrap present? fallback?).
        "sandbox": getattr(request.app.state, "sandbox_report", None),
    }
    if problems:
        body.update(error_body("unhealthy", "; ".join(problems)))
        return AgentJSONResponse(body, status_code=503)
    return AgentJSONResponse(body)


async def meta(request: Request) -> Response:
    state = agent_state(request)
    config = state.config
    stats = await in_thread(workspace_stats, state.workspace.root_fd, config.max_tree_entries)
    return AgentJSONResponse(
        {
            "agent_version": __version__,
            "challenge": state.challenge.as_dict() if state.challenge else None,
            "workspace": {
                "files": stats.files,
                "dirs": stats.dirs,
                "symlinks": stats.symlinks,
                "bytes": stats.bytes,
                "truncated": stats.truncated,
            },
            "limits": {
                "max_file_bytes": config.max_file_bytes,
                "max_upload_bytes": config.max_upload_bytes,
                "max_tree_entries": config.max_tree_entries,
            },
        }
    )


routes: list[BaseRoute] = [
    Route("/health", health, methods=["GET"]),
    Route("/meta", meta, methods=["GET"]),
]
