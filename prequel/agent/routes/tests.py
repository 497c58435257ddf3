"""The challenge's tests, one streamed result per test, then a summary.

POST /tests          {"which": "visible"|"hidden", "limits"?} -> {"summary", "results"} at the end
WS   /tests/stream   client: {"type": "start", "which": ...}
                     server: {"type": "started"}, {"type": "result", ...} per test,
                     {"type": "summary", ...}
GET  /tests/last     -> {"summary", "results", "finished_at"} of the latest visible run, or
                     {"summary": null}
Hidden tests need the portal's token; they run on a throwaway copy of the workspace.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from prequel.agent.auth import require_portal
from prequel.agent.bodies import read_json
from prequel.agent.errors import AgentError, AgentJSONResponse
from prequel.agent.last_tests import last_tests, remembered
from prequel.agent.recording.recorder import SYSTEM, Recorder, author_of_caller, recorder
from prequel.agent.routes.collab import flush_typing
from prequel.agent.routes.runs import execution
from prequel.agent.state import agent_state
from prequel.agent.streaming import receive_json, send_error
from prequel.agent.testrun import Which, run_tests


def _events(conn: HTTPConnection, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any]]:
    which = body.get("which", "visible")
    if which not in ("visible", "hidden"):
        raise AgentError(400, "bad_request", "'which' must be 'visible' or 'hidden'")
    if which == "hidden":
        require_portal(conn)
    state = agent_state(conn)
    if state.config.challenge_dir is None:
        raise AgentError(409, "no_challenge", "this workspace has no challenge to test")
    runner = execution(conn)
    limits = runner.limits(body.get("limits"), base=runner.test_limits)
    chosen: Which = "hidden" if which == "hidden" else "visible"
    events = run_tests(
        runner.sandbox, state.config.workspace, state.config.challenge_dir, chosen, limits
    )
    events = _recorded(recorder(conn), author_of_caller(conn), chosen, events)
    # Only visible results are kept for GET /tests/last: any caller may read them back.
    return remembered(last_tests(conn), events) if chosen == "visible" else events


async def _recorded(
    found: Recorder, author: dict[str, str], which: Which, events: AsyncGenerator[dict[str, Any]]
) -> AsyncGenerator[dict[str, Any]]:
    """The run's start, each result and the summary go to the recording as they pass."""
    found.record(author, "tests.start", {"which": which})
    async with contextlib.aclosing(events) as inner:
        async for event in inner:
            kind = event.get("type")
            if kind == "result":
                found.record(
                    SYSTEM,
                    "tests.result",
                    {
                        "which": which,
                        **{
                            key: event.get(key)
                            for key in ("name", "outcome", "duration_seconds", "message")
                        },
                    },
                )
            elif kind == "summary":
                summary = {
                    key: value
                    for key, value in event.items()
                    if key not in ("type", "results", "stdout", "stderr")
                }
                found.record(SYSTEM, "tests.summary", {**summary, "which": which})
            yield event


async def run_all(request: Request) -> Response:
    body = await read_json(request, 64 * 1024, optional=True)
    results: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    await flush_typing(request)  # tests (hidden ones at the end too) see the last keystrokes
    async with contextlib.aclosing(_events(request, body)) as events:
        async for event in events:
            if event["type"] == "summary":
                summary = event
    results = summary.pop("results", [])
    return AgentJSONResponse({"summary": summary, "results": results})


async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        start = await receive_json(websocket)
        if start["type"] != "start":
            raise AgentError(400, "bad_message", 'the first message must be {"type": "start"}')
        await flush_typing(websocket)
        async with contextlib.aclosing(_events(websocket, start)) as events:
            async for event in events:
                await websocket.send_json(event)
        await websocket.close()
    except AgentError as error:
        await send_error(websocket, error)
        await websocket.close(code=1008)
    except WebSocketDisconnect:
        return  # the generator's cleanup stops the sandboxed run


async def last(request: Request) -> Response:
    latest = await last_tests(request).get()
    return AgentJSONResponse(latest if latest is not None else {"summary": None})


routes: list[BaseRoute] = [
    Route("/tests", run_all, methods=["POST"]),
    Route("/tests/last", last, methods=["GET"]),
    WebSocketRoute("/tests/stream", stream),
]
