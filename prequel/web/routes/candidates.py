"""Public candidate API: look up a take-home by passcode, start it, join a live interview.

No staff login: the passcode or the workspace password is the credential, so every route is
rate limited per client IP (and passcode guessing also globally), and answers carry only the
candidate's own view of their own interview. Proving the credential grants the candidate
session (prequel.web.candidate_session) for that one interview.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.throttle import Throttled
from prequel.db.models import Challenge, Interview
from prequel.db.types import utcnow
from prequel.domain.interviews import InterviewStatus
from prequel.domain.rules import normalize_passcode
from prequel.interviews import inputs, service
from prequel.interviews.candidate_page import candidate_page
from prequel.interviews.errors import InterviewRefused
from prequel.realtime.sse import (
    MEDIA_TYPE,
    EventStreamResponse,
    StreamScope,
    last_event_id,
    sse_response,
)
from prequel.state import AppState
from prequel.web import candidate_session
from prequel.web.deps import DbSession, StateDep, client_ip
from prequel.web.errors import ApiError
from prequel.web.interview_support import commit, refusal

router = APIRouter(prefix="/api/interviews", tags=["candidates"])

S = InterviewStatus
# A take-home that has been started: holding its passcode is enough to get back in.
STARTED = frozenset({S.ACTIVATED, S.INITIALIZING, S.CONFIGURING, S.ACTIVE})
NO_PASSCODE = "no take-home test has this passcode; check the link you were sent"
RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown passcode or interview."},
    429: {"description": "Too many attempts from your network address; see Retry-After."},
}


class ActivateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passcode: str = Field(
        min_length=1, max_length=64, description="The passcode from the invitation link."
    )


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(
        min_length=1, max_length=200, description="The workspace password from the interviewer."
    )
    display_name: str = Field(
        max_length=1000, description="The name the interviewer sees, up to 80 characters."
    )

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str) -> str:
        return inputs.clean_display_name(value)


def _too_many(throttled: Throttled, what: str) -> ApiError:
    wait = throttled.retry_after_seconds
    minutes = max(1, round(wait / 60))
    when = f"{wait} seconds" if wait < 120 else f"about {minutes} minutes"
    if throttled.scope.endswith("-all"):
        message = f"too many {what} right now; try again in {when}"
    else:
        message = f"too many {what} from your network address; try again in {when}"
    return ApiError(429, message, headers={"Retry-After": str(wait)})


async def _lookup_allowed(request: Request, state: AppState, what: str) -> None:
    throttled = await state.candidate_throttle.lookup(client_ip(request))
    if throttled is not None:
        raise _too_many(throttled, what)


async def _page(db: AsyncSession, interview: Interview) -> dict[str, Any]:
    challenge = await db.get(Challenge, interview.challenge_id)
    return candidate_page(interview, challenge, utcnow())


async def _by_passcode(db: AsyncSession, passcode: str) -> Interview:
    interview = await service.find_by_passcode(db, passcode)
    if interview is None:
        raise ApiError(404, NO_PASSCODE)
    return interview


@router.get("/by-passcode/{passcode}", responses=RESPONSES)
async def take_home_by_passcode(
    passcode: str, request: Request, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """The candidate's page for a take-home test: its state (`ready`, `starting`, `active`,
    `expired`, `revoked`, `ended`...), a message to show, the challenge's title and the
    duration. Once the test was started, opening the link again restores access."""
    await _lookup_allowed(request, state, "passcode lookups")
    interview = await _by_passcode(db, passcode)
    if S(interview.status) in STARTED:
        candidate_session.grant(request, interview.id)
    return await _page(db, interview)


@router.post("/{interview_id}/activate", responses={**RESPONSES, 409: {}, 410: {}})
async def activate_take_home(
    interview_id: str, body: ActivateRequest, request: Request, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """Start a take-home test: the clock starts and the workspace is prepared. It can be
    started once; three Start attempts per network address per hour."""
    throttled = await state.candidate_throttle.start_attempt(client_ip(request))
    if throttled is not None:
        raise _too_many(throttled, "Start attempts")
    interview = await db.get(Interview, interview_id)
    passcode = normalize_passcode(body.passcode)
    if (
        interview is None
        or interview.passcode is None
        or passcode is None
        or not service.same_passcode(interview.passcode, passcode)
    ):
        raise ApiError(404, NO_PASSCODE)
    try:
        started = await service.activate(db, interview, state.settings)
    except InterviewRefused as exc:
        raise await refusal(db, state, exc) from exc
    await commit(db, state)
    candidate_session.grant(request, started.id)
    return await _page(db, started)


@router.post("/{interview_id}/join", responses={**RESPONSES, 403: {}, 409: {}, 410: {}})
async def join_live_interview(
    interview_id: str, body: JoinRequest, request: Request, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """Join a live interview with the workspace password the interviewer gave you, under the
    name they will see."""
    await _lookup_allowed(request, state, "join attempts")
    interview = await db.get(Interview, interview_id)
    if interview is None:
        raise ApiError(404, "no live interview has this link; check it with your interviewer")
    try:
        joined = await service.join_live(
            db, interview, body.password, body.display_name, state.settings
        )
    except InterviewRefused as exc:
        raise await refusal(db, state, exc) from exc
    await commit(db, state)
    candidate_session.grant(request, joined.id, joined.candidate_display_name)
    return await _page(db, joined)


@router.get(
    "/by-passcode/{passcode}/events",
    status_code=200,
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "An endless text/event-stream of this interview's updates.",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        **RESPONSES,
    },
)
async def take_home_events(
    passcode: str, request: Request, db: DbSession, state: StateDep
) -> StreamingResponse:
    """Server-Sent Events for the candidate's page: `connection` (with the page's current
    `interview`), then `interview_update` events of this one interview only, and a
    `heartbeat` every 15 s. Reconnects replay what was missed (Last-Event-ID)."""
    await _lookup_allowed(request, state, "passcode lookups")
    interview = await _by_passcode(db, passcode)
    page = await _page(db, interview)
    # The stream may stay open for hours: give the request's database connection back now.
    await db.commit()
    return sse_response(
        request,
        StreamScope.candidate(interview.id),
        last_event_id(request),
        sessions=state.sessions,
        bus=state.bus,
        heartbeat_seconds=state.settings.events.heartbeat_seconds,
        on_connect={"interview": page},
    )
