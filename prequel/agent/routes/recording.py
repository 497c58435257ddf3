"""The recording (prequel.agent.recording): the portal collects it, the IDE adds to it.

GET  /recording?after=N&limit=L&wait=S  -> {"events", "last_seq", "first_available"} (portal only;
                                           asking after N acknowledges everything up to N)
POST /recording/events                  {"type": "presence.focus" | "paste", "data": {...}}
                                        -> 204 (any caller; the author is the caller)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from prequel.agent.auth import require_portal
from prequel.agent.bodies import read_json
from prequel.agent.collab.identity import identity_of
from prequel.agent.errors import AgentError, AgentJSONResponse
from prequel.agent.recording.recorder import Recorder, author_of, recorder

DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000
MAX_WAIT_SECONDS = 25.0
MAX_PATH_CHARS = 4096


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise AgentError(400, "invalid_input", f"'{name}' must be a whole number") from None
    if not low <= value <= high:
        raise AgentError(400, "invalid_input", f"'{name}' must be between {low} and {high}")
    return value


def _enabled(request: Request) -> Recorder:
    found = recorder(request)
    if not found.enabled:
        raise AgentError(503, "recording_unavailable", f"recording is off: {found.problem}")
    return found


async def read_events(request: Request) -> Response:
    require_portal(request)
    found = _enabled(request)
    after = _int(request, "after", 0, 0, 2**62)
    limit = _int(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    try:
        wait = float(request.query_params.get("wait", "0"))
    except ValueError:
        raise AgentError(400, "invalid_input", "'wait' must be a number of seconds") from None
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise AgentError(400, "invalid_input", f"'wait' must be 0 to {MAX_WAIT_SECONDS:g} s")
    events = await found.read(after, limit, wait)
    assert found.buffer is not None
    buffered = found.buffer.events
    return AgentJSONResponse(
        {
            "events": events,
            "last_seq": found.buffer.last_seq,
            "first_available": buffered[0]["seq"] if buffered else found.buffer.last_seq + 1,
        }
    )


def _focus(data: dict[str, Any]) -> dict[str, Any]:
    state = data.get("state")
    if state not in ("lost", "regained"):
        raise AgentError(400, "invalid_input", "'state' must be 'lost' or 'regained'")
    return {"state": state}


def _paste(data: dict[str, Any]) -> dict[str, Any]:
    path, size, source = data.get("path"), data.get("size"), data.get("source", "unknown")
    if path is not None and (not isinstance(path, str) or len(path) > MAX_PATH_CHARS):
        raise AgentError(400, "invalid_input", "'path' must be a workspace path or null")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise AgentError(400, "invalid_input", "'size' must be a whole number of characters")
    if source not in ("clipboard", "unknown"):
        raise AgentError(400, "invalid_input", "'source' must be 'clipboard' or 'unknown'")
    return {"path": path, "size": size, "source": source}


BROWSER_EVENTS = {"presence.focus": _focus, "paste": _paste}


async def add_event(request: Request) -> Response:
    body = await read_json(request, 16 * 1024)
    kind, data = body.get("type"), body.get("data")
    check = BROWSER_EVENTS.get(kind) if isinstance(kind, str) else None
    if check is None or not isinstance(data, dict):
        raise AgentError(
            400,
            "invalid_input",
            "send {'type': 'presence.focus' or 'paste', 'data': {...}}",
        )
    clean = check(data)
    identity = identity_of(request)
    if identity.role != "spectator":  # spectators leave no trace
        _enabled(request).record(author_of(identity), kind, clean)  # type: ignore[arg-type]
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/recording", read_events, methods=["GET"]),
    Route("/recording/events", add_event, methods=["POST"]),
]
