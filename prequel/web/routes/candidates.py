"""Public candidate API: look up a take-home by passcode, start it, join a workspace, submit.

No staff login: the passcode or the workspace password is the credential, so every route is
rate limited per client IP (and passcode guessing also globally), and answers carry only the
candidate's own view of their own interview. Proving the credential grants the candidate
session (prequel.web.candidate_session) for that one interview. Because that grant lands in
the browser's cookie, the POSTs need the session's X-CSRF-Token: another site cannot make a
browser start a test or join a workspace behind its user's back.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.csrf import HEADER, csrf_valid
from prequel.auth.throttle import Throttled
from prequel.db.models import Interview
from prequel.domain.interviews import InterviewStatus
from prequel.domain.rules import normalize_passcode
from prequel.interviews import inputs, service
from prequel.interviews.candidate_page import load_candidate_page
from prequel.interviews.ending import request_submit
from prequel.interviews.errors import InterviewRefused, WrongPassword
from prequel.realtime.sse import (
    MEDIA_TYPE,
    EventStreamResponse,
    StreamScope,
    last_event_id,
    sse_response,
)
from prequel.state import AppState
from prequel.web import candidate_session
from prequel.web.deps import DbSession, OptionalPrincipal, StateDep, client_ip
from prequel.web.errors import ApiError
from prequel.web.interview_support import commit, refusal

router = APIRouter(prefix="/api/interviews", tags=["candidates"])

S = InterviewStatus
# A take-home that has been started: holding its passcode is enough to get back in.
STARTED = frozenset({S.ACTIVATED, S.INITIALIZING, S.CONFIGURING, S.ACTIVE})
NO_PASSCODE = "no take-home test has this passcode; check the link you were sent"
NO_INTERVIEW = "no interview has this link; check it with your interviewer"
RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown passcode or interview."},
    429: {"description": "Too many attempts from your network address; see Retry-After."},
}
CSRF_RESPONSE: dict[int | str, dict[str, Any]] = {
    403: {"description": "Missing or wrong X-CSRF-Token (csrf_failed), or wrong password."}
}


async def candidate_csrf(request: Request) -> None:
    """The candidate's POSTs come from our pages, which put the session's token in
    <meta name="csrf-token">; scripts send it back as X-CSRF-Token."""
    if not csrf_valid(request.session, request.headers.get(HEADER)):
        raise ApiError(
            403,
            "missing or wrong X-CSRF-Token header: open the page you were sent (it sets the "
            "session cookie and the token) and try again from there",
            code="csrf_failed",
        )


CandidateCsrf = Depends(candidate_csrf)


class ActivateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passcode: str = Field(
        min_length=1, max_length=64, description="The passcode from the invitation link."
    )


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(
        min_length=1,
        max_length=200,
        description="The workspace password: from the interviewer (live), or shown on the "
        "take-home test's page once its workspace is ready.",
    )
    display_name: str | None = Field(
        default=None,
        max_length=1000,
        description="Live interviews: the name the interviewer sees, up to 80 characters. "
        "Not used for take-homes.",
    )

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        return inputs.clean_display_name(value) if value is not None else None


def too_many(throttled: Throttled, what: str) -> ApiError:
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
        raise too_many(throttled, what)


async def _by_passcode(db: AsyncSession, passcode: str) -> Interview:
    interview = await service.find_by_passcode(db, passcode)
    if interview is None:
        raise ApiError(404, NO_PASSCODE)
    return interview


@router.get("/by-passcode/{passcode}", responses=RESPONSES)
async def take_home_by_passcode(
    passcode: str, request: Request, response: Response, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """The candidate's page for a take-home test: its state (`ready`, `starting`, `active`,
    `expired`, `revoked`, `ended`...), a message to show, the challenge's title and the
    duration; once the workspace runs, its URL and password. Once the test was started,
    opening the link again restores access."""
    # It may hold the workspace password: no cache may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    await _lookup_allowed(request, state, "passcode lookups")
    interview = await _by_passcode(db, passcode)
    if S(interview.status) in STARTED:
        candidate_session.grant(request, interview.id)
    return await load_candidate_page(db, interview, state.settings)


@router.post(
    "/{interview_id}/activate",
    dependencies=[CandidateCsrf],
    responses={**RESPONSES, **CSRF_RESPONSE, 409: {}, 410: {}},
)
async def activate_take_home(
    interview_id: str, body: ActivateRequest, request: Request, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """Start a take-home test: the workspace is prepared, and its clock starts once it is
    ready. It can be started once; three Start attempts per network address per hour."""
    throttled = await state.candidate_throttle.start_attempt(client_ip(request))
    if throttled is not None:
        raise too_many(throttled, "Start attempts")
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
    return await load_candidate_page(db, started, state.settings)


@router.post(
    "/{interview_id}/join",
    dependencies=[CandidateCsrf],
    responses={**RESPONSES, **CSRF_RESPONSE, 409: {}, 410: {}},
)
async def join_workspace(
    interview_id: str, body: JoinRequest, request: Request, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """Get into an interview's workspace with its password: a live interview's from the
    interviewer, with the name they will see; a take-home's from the candidate's own page
    (to open the workspace in another browser). Ten wrong passwords per network address in
    15 minutes, then `429` with Retry-After."""
    ip = client_ip(request)
    await _lookup_allowed(request, state, "join attempts")
    throttled = await state.candidate_throttle.password_attempt(ip)
    if throttled is not None:
        raise too_many(throttled, "wrong passwords")
    interview = await db.get(Interview, interview_id)
    if interview is None:
        raise ApiError(404, NO_INTERVIEW)
    try:
        joined = await service.join_workspace(
            db, interview, body.password, body.display_name, state.settings
        )
    except WrongPassword as exc:
        await state.candidate_throttle.wrong_password(ip)
        raise await refusal(db, state, exc) from exc
    except InterviewRefused as exc:
        raise await refusal(db, state, exc) from exc
    await commit(db, state)
    candidate_session.grant(request, joined.id, joined.candidate_display_name)
    return await load_candidate_page(db, joined, state.settings)


@router.post(
    "/{interview_id}/submit",
    dependencies=[CandidateCsrf],
    responses={
        403: {"description": "Missing or wrong X-CSRF-Token, or this browser has not joined."},
        404: {"description": "Unknown interview."},
        409: {"description": "Not a take-home, not running yet, or already ending."},
    },
)
async def submit_take_home(
    interview_id: str, request: Request, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """The candidate is done early ("I'm done"): the test ends as at its deadline. The work
    is saved, the hidden tests run, and the workspace is removed; the page's stream reports
    each step. Only the browser holding this take-home (its session) can submit, once,
    while the workspace runs."""
    interview = await db.get(Interview, interview_id)
    if interview is None:
        raise ApiError(404, NO_INTERVIEW)
    if not candidate_session.has_access(request, interview.id):
        raise ApiError(
            403,
            "this browser has not opened this take-home test; open your link first",
            code="not_joined",
        )
    try:
        submitted = await request_submit(db, interview, state.settings)
    except InterviewRefused as exc:
        raise await refusal(db, state, exc) from exc
    await commit(db, state)
    return await load_candidate_page(db, submitted, state.settings)


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
    page = await load_candidate_page(db, interview, state.settings)
    return await _candidate_stream(request, db, state, interview, page)


async def _candidate_stream(
    request: Request, db: AsyncSession, state: AppState, interview: Interview, page: dict[str, Any]
) -> StreamingResponse:
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


@router.get(
    "/{interview_id}/workspace-events",
    status_code=200,
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "An endless text/event-stream of this interview's updates.",
            "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
        },
        403: {"description": "This browser has not joined the interview."},
        404: {"description": "Unknown interview."},
    },
)
async def workspace_events(
    interview_id: str,
    request: Request,
    db: DbSession,
    state: StateDep,
    principal: OptionalPrincipal,
) -> StreamingResponse:
    """The same stream as the take-home page's, for the workspace page: for a browser that
    joined this interview (or staff of its organization), without the passcode."""
    interview = await db.get(Interview, interview_id)
    if interview is None:
        raise ApiError(404, NO_INTERVIEW)
    staff = principal is not None and principal.organization.id == interview.org_id
    if not staff and not candidate_session.has_access(request, interview.id):
        raise ApiError(
            403,
            "this browser has not joined the interview; open your join link first",
            code="not_joined",
        )
    page = await load_candidate_page(db, interview, state.settings)
    return await _candidate_stream(request, db, state, interview, page)
