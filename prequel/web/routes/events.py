"""GET /api/events: the interviewer's live feed (SSE) of their organization's events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from prequel.realtime.sse import (
    MEDIA_TYPE,
    EventStreamResponse,
    StreamScope,
    last_event_id,
    sse_response,
)
from prequel.web.deps import DbSession, StateDep, ViewerPrincipal

router = APIRouter()

EVENTS_DESCRIPTION = """\
Server-Sent Events for signed-in staff (viewer role or higher), scoped to your organization.
Open it with `new EventSource("/api/events")`.

Event types: `connection` (first, no id), `heartbeat` (every 15 s, no id),
`operation_update`, `interview_update` and `scheduler_event`. Every other event has an
`id:` (its sequence number) and one line of JSON `data:`.

After a disconnect, EventSource reconnects with the `Last-Event-ID` header and the events
missed meanwhile are replayed from the database (at most the newest 1000; a
`replay_truncated` event says when older ones were skipped). A first connection can ask
for a replay with `?last_event_id=N`.
"""

EVENTS_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
            "description": "Replay the events after this id (EventSource sends it on "
            "reconnect). Values that are not integers are ignored.",
        },
        {
            "name": "last_event_id",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0},
            "description": "Same as the Last-Event-ID header, for a first connection "
            "(EventSource cannot set headers). The header wins when both are sent.",
        },
    ]
}


@router.get(
    "/api/events",
    tags=["events"],
    summary="Stream your organization's events (Server-Sent Events)",
    description=EVENTS_DESCRIPTION,
    response_class=EventStreamResponse,
    # FastAPI cannot build the schema of a custom response class without a status code.
    status_code=200,
    responses={
        200: {
            "description": "An endless text/event-stream of `event:`, `id:` and `data:` lines.",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        }
    },
    openapi_extra=EVENTS_OPENAPI,
)
async def stream_events(
    request: Request, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> StreamingResponse:
    scope = StreamScope.staff(principal.organization.id)
    on_connect = {"role": principal.role.value}
    # The stream may stay open for hours: give the request's database connection back now.
    await db.commit()
    return sse_response(
        request,
        scope,
        last_event_id(request),
        sessions=state.sessions,
        bus=state.bus,
        heartbeat_seconds=state.settings.events.heartbeat_seconds,
        on_connect=on_connect,
    )
