"""Live collaboration (see prequel.agent.collab and docs/agent-protocol.md, "Collaboration").

WS   /collab/doc       the shared document (y-websocket); ?epoch=<e> from a previous hello
WS   /collab/notes     interviewers' private notes (y-websocket); staff only
WS   /collab/chat      the chat (JSON); ?after=<id> for only newer messages
GET  /collab/mode      {"mode": "edit" | "observe"}
POST /collab/mode      {"mode": ...}; portal token only; takes effect at once
GET  /collab/status    rooms, clients, queues, limits; portal token only
"""

from __future__ import annotations

import asyncio
import logging

from pycrdt import Text
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from prequel.agent.auth import require_portal
from prequel.agent.bodies import JSON_OVERHEAD_BYTES, read_json
from prequel.agent.collab import notes
from prequel.agent.collab.chat import serve_chat
from prequel.agent.collab.identity import Identity, identity_of
from prequel.agent.collab.outbox import Outbox
from prequel.agent.collab.service import DOC_ROOM, MODES, CollabService
from prequel.agent.collab.settings import StateDirError
from prequel.agent.errors import AgentError, AgentJSONResponse
from prequel.agent.recording.collab_hooks import attach as attach_recording
from prequel.agent.recording.recorder import recorder
from prequel.agent.state import agent_state

log = logging.getLogger("prequel.agent.collab")

CLOSE_BAD_REQUEST = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_STALE = 4409
CLOSE_UNAVAILABLE = 4503


async def collab_service(conn: HTTPConnection) -> CollabService:
    """The agent's collaboration service, started on first use."""
    state = conn.app.state
    service: CollabService | None = getattr(state, "collab", None)
    if service is not None:
        return service
    lock: asyncio.Lock | None = getattr(state, "collab_lock", None)
    if lock is None:
        lock = state.collab_lock = asyncio.Lock()
    async with lock:
        service = getattr(state, "collab", None)
        if service is None:
            agent = agent_state(conn)
            try:
                service = await CollabService.start(agent.config.workspace, agent.workspace)
            except (StateDirError, ValueError, OSError) as exc:
                log.error("collaboration cannot start: %s", exc)
                raise AgentError(
                    503, "collab_unavailable", f"collaboration is off: {exc}"
                ) from None
            # The recording hears the document, the chat and who comes and goes.
            attach_recording(service, recorder(conn))
            state.collab = service
    return service


async def flush_typing(conn: HTTPConnection) -> None:
    """Before reading the workspace's files: the shared document's last edits are written.
    Does not start collaboration when nobody used it."""
    service: CollabService | None = getattr(conn.app.state, "collab", None)
    if service is not None:
        await service.flush_to_disk()


async def _open(websocket: WebSocket) -> tuple[CollabService, Identity] | None:
    """Accept the socket and find who it is; on failure close it with a reason and None."""
    await websocket.accept()
    try:
        return await collab_service(websocket), identity_of(websocket)
    except AgentError as error:
        code = CLOSE_UNAVAILABLE if error.status == 503 else CLOSE_BAD_REQUEST
        await websocket.close(code, error.message[:120])
        return None


async def doc_socket(websocket: WebSocket) -> None:
    opened = await _open(websocket)
    if opened is None:
        return
    service, identity = opened
    epoch = websocket.query_params.get("epoch")
    if epoch and epoch != service.rooms[DOC_ROOM].epoch:
        # The document was started anew; merging this client's old copy would duplicate it.
        await websocket.close(CLOSE_STALE, "stale document: start from a new Y.Doc")
        return
    await service.serve(websocket, DOC_ROOM, identity)


async def notes_socket(websocket: WebSocket) -> None:
    opened = await _open(websocket)
    if opened is None:
        return
    service, identity = opened
    if not notes.may_join(identity):
        await websocket.close(CLOSE_FORBIDDEN, "notes are for interviewers only")
        return
    await service.serve(websocket, notes.NOTES_ROOM, identity)


async def chat_socket(websocket: WebSocket) -> None:
    opened = await _open(websocket)
    if opened is None:
        return
    service, identity = opened
    raw_after = websocket.query_params.get("after", "0")
    after = int(raw_after) if raw_after.isdigit() else 0
    outbox = Outbox(
        websocket.send_text,  # type: ignore[arg-type]
        websocket.close,
        max_bytes=service.settings.max_queue_bytes,
        max_messages=service.settings.max_queue_messages,
    )
    await serve_chat(service.chat, websocket, identity, after, outbox)


async def notes_text(request: Request) -> Response:
    """The interviewers' private notes as plain text, for the portal to keep before the
    workspace goes (portal only; the room itself stays staff only)."""
    require_portal(request)
    service = await collab_service(request)
    document = service.rooms[notes.NOTES_ROOM].ydoc
    return AgentJSONResponse({"text": str(document.get(notes.NOTES_TEXT, type=Text))})


async def get_mode(request: Request) -> Response:
    service = await collab_service(request)
    return AgentJSONResponse({"mode": service.mode})


async def set_mode(request: Request) -> Response:
    require_portal(request)
    body = await read_json(request, JSON_OVERHEAD_BYTES)
    mode = body.get("mode")
    if mode not in MODES:
        raise AgentError(422, "invalid_input", "'mode' must be 'edit' or 'observe'")
    service = await collab_service(request)
    await service.set_mode(mode)
    return AgentJSONResponse({"mode": service.mode})


async def status(request: Request) -> Response:
    require_portal(request)
    service = await collab_service(request)
    return AgentJSONResponse(service.status())


routes: list[BaseRoute] = [
    WebSocketRoute("/collab/doc", doc_socket),
    WebSocketRoute("/collab/notes", notes_socket),
    WebSocketRoute("/collab/chat", chat_socket),
    Route("/collab/notes/text", notes_text, methods=["GET"]),
    Route("/collab/mode", get_mode, methods=["GET"]),
    Route("/collab/mode", set_mode, methods=["POST"]),
    Route("/collab/status", status, methods=["GET"]),
]
