"""GET /archive: the workspace as a streamed .tar.gz."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from prequel.agent.archive import stream_archive
from prequel.agent.routes.collab import flush_typing
from prequel.agent.state import agent_state


async def archive(request: Request) -> Response:
    state = agent_state(request)
    await flush_typing(request)  # the archive holds the last keystrokes
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"workspace-{state.challenge.slug}-{stamp}" if state.challenge else f"workspace-{stamp}"
    return StreamingResponse(
        stream_archive(state.workspace.root_fd),
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}.tar.gz"',
            "Cache-Control": "no-store",
        },
    )


routes: list[BaseRoute] = [Route("/archive", archive, methods=["GET"])]
