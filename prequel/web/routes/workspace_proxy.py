"""The portal's proxy to a workspace's agent: `/w/{id}/agent/{path}`, HTTP and WebSocket.

Every request and every handshake is checked first (prequel.web.workspace_access): staff of the
interview's organization, or the candidate's session for that interview; the interview must be
active. The agent is then reached with the **portal token**, and told who the person is in
`X-Prequel-Role`, `X-Prequel-User-Id` and `X-Prequel-User-Name` (docs/agent-protocol.md,
"Collaboration"). Whatever the browser sent under those names, and its Authorization, Cookie
and CSRF headers, never reach the agent.

- HTTP: any method; request and response bodies are streamed both ways, never buffered.
  Cookie-authenticated writes (POST, PUT, PATCH, DELETE) need the page's X-CSRF-Token.
- WebSocket: the Origin must be the portal's own (cookies travel on cross-site WebSocket
  handshakes); frames are relayed both ways as they come, text as text and binary as binary,
  and each side's close code and reason reach the other. Refusals close with 4401, 4403,
  4404 or 4409 (like the HTTP statuses) and a reason; an agent that cannot be reached, 4502.

The portal token opens the agent's privileged endpoints, so the proxy filters them: the mode
and the collaboration status are the portal's business (403 `portal_only`), and hidden tests
run for interviewers only.

Also here: `GET/POST /api/interviews/{id}/collab-mode`, the interviewer's switch between
"candidate can edit" and "interviewer observes only".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

import httpx
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.requests import HTTPConnection
from websockets.asyncio.client import ClientConnection, connect, unix_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from prequel.auth.csrf import HEADER as CSRF_HEADER
from prequel.auth.csrf import csrf_valid
from prequel.db.models import Interview
from prequel.domain.interviews import InterviewStatus
from prequel.interviews import service
from prequel.jobs.context import handle_from_row, load_handle
from prequel.state import AppState
from prequel.web.deps import (
    UNSAFE_METHODS,
    DbSession,
    InterviewerPrincipal,
    StateDep,
    ViewerPrincipal,
)
from prequel.web.errors import ApiError
from prequel.web.workspace_access import (
    SPECTATE_PARAM,
    BadCredentials,
    WorkspaceCaller,
    caller_for,
    principal_of,
)
from prequel.workspaces.base import AgentEndpoint, Handle

log = logging.getLogger(__name__)

router = APIRouter()

PROXY_PATH = "/w/{interview_id}/agent/{path:path}"
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
PROXY_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10.0
MAX_FRAME_BYTES = 16 * 1024 * 1024

ROLE_HEADER = "X-Prequel-Role"
USER_ID_HEADER = "X-Prequel-User-Id"
USER_NAME_HEADER = "X-Prequel-User-Name"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Never forwarded to the agent: the browser's credentials and anything claiming an identity.
STRIPPED_REQUEST_HEADERS = HOP_BY_HOP | {"host", "authorization", "cookie", CSRF_HEADER, "origin"}
STRIPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"set-cookie"}

CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 409: 4409}
CLOSE_UNREACHABLE = 4502
# Close codes a peer may not send (RFC 6455 7.4.1): "no status", "abnormal", "TLS".
UNSENDABLE_CLOSE_CODES = frozenset({1004, 1005, 1006, 1015})
UNREACHABLE = "the workspace is not answering right now; try again in a moment"


@dataclass(frozen=True)
class Entered:
    interview: Interview
    caller: WorkspaceCaller
    handle: Handle


# Who gets in ------------------------------------------------------------------------------


async def _enter(conn: HTTPConnection, state: AppState, interview_id: str) -> Entered:
    """The access check shared by HTTP and WebSocket; raises ApiError with the refusal."""
    async with state.sessions() as db:
        try:
            principal = await principal_of(conn, db)
        except BadCredentials as exc:
            raise ApiError(401, str(exc), code="invalid_token") from None
        interview = await db.get(Interview, interview_id)
        caller = caller_for(conn, principal, interview) if interview is not None else None
        if interview is None or caller is None:
            if principal is None:
                raise ApiError(
                    401,
                    "open the workspace from your interview link, or sign in as staff of "
                    "its organization",
                )
            raise ApiError(404, f"no workspace {interview_id[:64]!r} in your organization")
        if interview.status != InterviewStatus.ACTIVE.value:
            raise ApiError(
                409,
                f"the workspace is not active (the interview is {interview.status})",
                code="not_active",
            )
        row = await load_handle(db, interview.id)
        if row is None:
            raise ApiError(503, UNREACHABLE, code="agent_unreachable")
        return Entered(interview, caller, handle_from_row(row))


# What the portal token could do that the caller may not: the proxy speaks with the portal's
# own (privileged) token, so the agent's portal-only endpoints are filtered here. The mode is
# switched through POST /api/interviews/{id}/collab-mode (interviewer role), and hidden tests
# run for interviewers only, never for the candidate or a spectator.
MODE_PATH = "collab/mode"
# The recording holds everyone's doing (and hidden test results at the end): the portal reads
# it, never a browser. Browsers only add their focus and paste events (recording/events).
PORTAL_ONLY_PATHS = frozenset({"collab/status", "recording"})
# Spectators watch: they neither run code nor tests (their file writes and terminal input the
# agent refuses itself).
RUN_PATHS = ("runs", "tests")
TESTS_PATH, TESTS_STREAM_PATH = "tests", "tests/stream"
MAX_TESTS_BODY_BYTES = 64 * 1024
HIDDEN_TESTS_REFUSED = "hidden tests are for the interviewer only"


def _normalized(path: str) -> str:
    return "/".join(part for part in path.split("/") if part)


def _path_refusal(method: str, path: str, role: str) -> ApiError | None:
    normalized = _normalized(path)
    if any(part in (".", "..") for part in normalized.split("/")):
        # URL clients fold dot segments, which would hide the path from the checks below.
        return ApiError(400, "'.' and '..' are not allowed in workspace paths", code="invalid_path")
    if normalized in PORTAL_ONLY_PATHS or (normalized == MODE_PATH and method != "GET"):
        return ApiError(
            403,
            "not through the workspace proxy; switch the mode with "
            "POST /api/interviews/{id}/collab-mode",
            code="portal_only",
        )
    if role == "spectator" and normalized.split("/")[0] in RUN_PATHS and normalized != "tests/last":
        return ApiError(403, "spectators watch: they cannot run code or tests", code="read_only")
    return None


def _asks_hidden_tests(raw: str | bytes) -> bool:
    try:
        message = json.loads(raw)
    except ValueError:
        return False  # the agent answers malformed bodies itself
    return isinstance(message, dict) and message.get("which") == "hidden"


def _identity_headers(caller: WorkspaceCaller) -> dict[str, str]:
    return {
        ROLE_HEADER: caller.role,
        USER_ID_HEADER: caller.user_id,
        USER_NAME_HEADER: quote(caller.name, safe=""),
    }


def _agent_target(conn: HTTPConnection, interview_id: str, path: str) -> str:
    """The agent's path and query: the browser's path still escaped as sent (so %2F and %20
    mean to the agent what they meant to the browser), without our own `as` parameter."""
    raw = conn.scope.get("raw_path")
    prefix = f"/w/{interview_id}/agent/"
    raw_text = raw.decode("latin-1") if isinstance(raw, bytes) else ""
    tail = raw_text[len(prefix) :] if raw_text.startswith(prefix) else quote(path, safe="/")
    query = [(k, v) for k, v in conn.query_params.multi_items() if k != SPECTATE_PARAM]
    return "/" + tail + (f"?{urlencode(query)}" if query else "")


# HTTP -------------------------------------------------------------------------------------


@router.api_route(PROXY_PATH, methods=PROXY_METHODS, include_in_schema=False)
async def proxy_http(interview_id: str, path: str, request: Request, state: StateDep) -> Response:
    entered = await _enter(request, state, interview_id)
    if (
        entered.caller.via == "session"
        and request.method in UNSAFE_METHODS
        and not csrf_valid(request.session, request.headers.get(CSRF_HEADER))
    ):
        raise ApiError(
            403,
            "missing or wrong X-CSRF-Token header; send the one from the page's "
            '<meta name="csrf-token">',
            code="csrf_failed",
        )
    refusal = _path_refusal(request.method, path, entered.caller.role)
    if refusal is not None:
        raise refusal
    headers = {
        name: value
        for name, value in request.headers.items()
        if name not in STRIPPED_REQUEST_HEADERS and not name.startswith("x-prequel-")
    }
    headers.update(_identity_headers(entered.caller))
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    body: AsyncIterator[bytes] | bytes | None = request.stream() if has_body else None
    if entered.caller.role != "interviewer" and _normalized(path) == TESTS_PATH and has_body:
        # Small JSON: read it whole to see which tests it asks for.
        buffered = await _read_bounded(request, MAX_TESTS_BODY_BYTES)
        if _asks_hidden_tests(buffered):
            raise ApiError(403, HIDDEN_TESTS_REFUSED, code="portal_only")
        body = buffered
    try:
        client = state.provisioner.agent_client(entered.handle, timeout=PROXY_TIMEOUT_SECONDS)
    except OSError:
        raise ApiError(503, UNREACHABLE, code="agent_unreachable") from None
    # The agent's token is the client's; a header of the same name must not replace it.
    outgoing = client.build_request(
        request.method,
        _agent_target(request, interview_id, path),
        headers=headers,
        content=body,
    )
    try:
        upstream = await client.send(outgoing, stream=True)
    except (httpx.HTTPError, OSError) as exc:
        await client.aclose()
        log.warning("proxy to the agent of %s failed: %s", interview_id, exc)
        raise ApiError(502, UNREACHABLE, code="agent_unreachable") from None

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    async def relay() -> AsyncIterator[bytes]:
        # Closed here too: a browser that goes away mid-stream skips the background task.
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await close()

    return StreamingResponse(
        relay(),
        status_code=upstream.status_code,
        headers={
            name: value
            for name, value in upstream.headers.items()
            if name.lower() not in STRIPPED_RESPONSE_HEADERS
        },
        background=BackgroundTask(close),
    )


async def _read_bounded(request: Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
    return bytes(data)


# WebSocket --------------------------------------------------------------------------------


def portal_origin(public_url: str) -> str:
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    await websocket.close(code, reason[:120])


async def _open_agent(
    endpoint: AgentEndpoint, target: str, headers: dict[str, str], subprotocols: list[str]
) -> ClientConnection:
    options: dict[str, Any] = {
        "additional_headers": {**headers, "Authorization": f"Bearer {endpoint.token}"},
        "subprotocols": subprotocols or None,
        "max_size": MAX_FRAME_BYTES,
        "compression": None,
        "open_timeout": CONNECT_TIMEOUT_SECONDS,
    }
    if endpoint.unix_socket is not None:
        return await unix_connect(endpoint.unix_socket, endpoint.ws_url(target), **options)
    return await connect(endpoint.ws_url(target), **options)


def _sendable(code: int | None, fallback: int) -> int:
    if code is None or code in UNSENDABLE_CLOSE_CODES or not 1000 <= code <= 4999:
        return fallback
    return code


@router.websocket(PROXY_PATH)
async def proxy_websocket(websocket: WebSocket, interview_id: str, path: str) -> None:
    state: AppState = websocket.app.state.prequel
    origin = (websocket.headers.get("origin") or "").lower()
    if origin != portal_origin(state.settings.public_url):
        await _refuse(websocket, 4403, "cross-site WebSocket refused: wrong Origin")
        return
    try:
        entered = await _enter(websocket, state, interview_id)
    except ApiError as error:
        await _refuse(websocket, CLOSE_CODES.get(error.status, CLOSE_UNREACHABLE), error.message)
        return
    refusal = _path_refusal("GET", path, entered.caller.role)
    if refusal is not None:
        await _refuse(websocket, 4403, refusal.message)
        return
    guard_hidden = entered.caller.role != "interviewer" and _normalized(path) == TESTS_STREAM_PATH
    subprotocols = list(websocket.scope.get("subprotocols") or [])
    try:
        endpoint = state.provisioner.agent_endpoint(entered.handle)
        upstream = await _open_agent(
            endpoint,
            _agent_target(websocket, interview_id, path),
            _identity_headers(entered.caller),
            subprotocols,
        )
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        log.warning("WebSocket to the agent of %s failed: %s", interview_id, exc)
        await _refuse(websocket, CLOSE_UNREACHABLE, UNREACHABLE)
        return
    await websocket.accept(subprotocol=upstream.subprotocol)
    await _relay(websocket, upstream, guard_hidden=guard_hidden)


async def _relay(websocket: WebSocket, upstream: ClientConnection, *, guard_hidden: bool) -> None:
    browser_gone = False

    async def browser_to_agent() -> None:
        nonlocal browser_gone
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                browser_gone = True
                code = _sendable(message.get("code"), 1000)
                await upstream.close(code, str(message.get("reason") or ""))
                return
            frame = message.get("bytes")
            if frame is None:
                frame = message.get("text")
            if frame is None:
                continue
            # The agent reads a binary frame's JSON as well as a text frame's.
            if guard_hidden and _asks_hidden_tests(frame):
                await websocket.close(4403, HIDDEN_TESTS_REFUSED)
                browser_gone = True
                return
            await upstream.send(frame)

    async def agent_to_browser() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in upstream:
                if isinstance(frame, bytes):
                    await websocket.send_bytes(frame)
                else:
                    await websocket.send_text(frame)

    tasks = [
        asyncio.create_task(browser_to_agent()),
        asyncio.create_task(agent_to_browser()),
    ]
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.debug("WebSocket relay ended: %r", task.exception())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await upstream.close()
        if not browser_gone:
            # The agent closed (or went away): its code and reason reach the browser.
            code = _sendable(upstream.close_code, 1011)
            reason = upstream.close_reason or ("" if code != 1011 else "the workspace went away")
            with contextlib.suppress(RuntimeError, OSError):
                await websocket.close(code, reason[:120])


# Observe mode -----------------------------------------------------------------------------


class CollabMode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["edit", "observe"] = Field(
        description="'edit': the candidate can edit; 'observe': the interviewer observes "
        "only, and the candidate's edits (editor, file API, terminal input) are refused."
    )


MODE_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "No such interview in your organization."},
    409: {"description": "The interview is not active (code not_active)."},
    502: {"description": "The workspace is not answering (code agent_unreachable)."},
}


async def _agent_mode(
    db: DbSession, state: AppState, org_id: str, interview_id: str, mode: str | None
) -> CollabMode:
    interview = await service.get_for_org(db, org_id, interview_id)
    if interview is None:
        raise ApiError(404, f"no interview {interview_id[:64]!r} in your organization")
    if interview.status != InterviewStatus.ACTIVE.value:
        raise ApiError(
            409,
            f"the interview is {interview.status}; the mode applies to active workspaces only",
            code="not_active",
        )
    row = await load_handle(db, interview.id)
    if row is None:
        raise ApiError(502, UNREACHABLE, code="agent_unreachable")
    try:
        async with state.provisioner.agent_client(handle_from_row(row), timeout=10) as client:
            if mode is None:
                response = await client.get("/collab/mode")
            else:
                response = await client.post("/collab/mode", json={"mode": mode})
        if response.status_code != 200:
            raise ApiError(502, f"the workspace refused: {response.text[:200]}", code="agent_error")
        return CollabMode.model_validate(response.json())
    except (httpx.HTTPError, OSError, ValueError):
        raise ApiError(502, UNREACHABLE, code="agent_unreachable") from None


@router.get(
    "/api/interviews/{interview_id}/collab-mode",
    tags=["interviews"],
    responses=MODE_ERRORS,
    summary="Who holds the pen: 'edit' (the candidate can edit) or 'observe'",
)
async def get_collab_mode(
    interview_id: str, db: DbSession, state: StateDep, principal: ViewerPrincipal
) -> CollabMode:
    return await _agent_mode(db, state, principal.organization.id, interview_id, None)


@router.post(
    "/api/interviews/{interview_id}/collab-mode",
    tags=["interviews"],
    responses=MODE_ERRORS,
    summary="Switch between 'edit' and 'observe' (interviewer role or higher)",
)
async def set_collab_mode(
    interview_id: str,
    body: CollabMode,
    db: DbSession,
    state: StateDep,
    principal: InterviewerPrincipal,
) -> CollabMode:
    return await _agent_mode(db, state, principal.organization.id, interview_id, body.mode)
