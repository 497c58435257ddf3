"""Candidate pages: the take-home link, the live join page and the workspace page.

No staff login here (the workspace page also lets in staff of the interview's organization):
the passcode, the workspace password or the candidate session granted by proving one of them
is the credential, exactly as in the candidate API (prequel.web.routes.candidates), whose
throttles the pages share. Every state renders on the server from the same page data the
API and the stream carry, so a reload always shows the present; the scripts only swap
sections when the stream says something changed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Interview
from prequel.domain.interviews import InterviewKind, InterviewStatus
from prequel.interviews import service
from prequel.interviews.candidate_page import duration_text, load_candidate_page
from prequel.interviews.views import join_path, workspace_path
from prequel.state import AppState
from prequel.web import candidate_session
from prequel.web.deps import DbSession, OptionalPrincipal, StateDep, client_ip
from prequel.web.ide_page import ide_config
from prequel.web.routes.candidates import NO_PASSCODE, STARTED, too_many
from prequel.web.workspace_access import caller_for, is_staff_of, may_enter, wants_to_spectate

router = APIRouter(include_in_schema=False)

S = InterviewStatus
ENDED = frozenset({S.DESTROYING, S.DESTROYED})
NO_LIVE_INTERVIEW = "No live interview has this link. Check the link with your interviewer."
NO_WORKSPACE = "No workspace has this link. Check the link you were sent."
# Candidate pages show passwords and always the present state: never from a cache (this
# also keeps them out of the back-forward cache, so going back shows the present too).
NO_STORE = {"Cache-Control": "no-store"}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _message_page(
    request: Request,
    state: AppState,
    *,
    status_code: int,
    title: str,
    message: str,
    tone: str = "info",
    headers: dict[str, str] | None = None,
) -> Response:
    """A calm page with one message: not found, too many attempts, an ended interview."""
    return state.templates.TemplateResponse(
        request,
        "candidate/message.html",
        {"title": title, "message": message, "tone": tone},
        status_code=status_code,
        headers=headers,
    )


async def _throttled_page(request: Request, state: AppState, what: str) -> Response | None:
    throttled = await state.candidate_throttle.lookup(client_ip(request))
    if throttled is None:
        return None
    error = too_many(throttled, what)
    return _message_page(
        request,
        state,
        status_code=429,
        title="Too many attempts",
        message=_sentence(error.message),
        tone="error",
        headers=error.headers,
    )


async def _challenge(db: AsyncSession, interview: Interview) -> Challenge | None:
    return await db.get(Challenge, interview.challenge_id)


# The take-home test -----------------------------------------------------------------------


@router.get("/take-home/{passcode}")
async def take_home_page(
    passcode: str, request: Request, db: DbSession, state: StateDep
) -> Response:
    throttled = await _throttled_page(request, state, "passcode lookups")
    if throttled is not None:
        return throttled
    interview = await service.find_by_passcode(db, passcode)
    if interview is None or interview.passcode is None:
        return _message_page(
            request,
            state,
            status_code=404,
            title="Take-home test not found",
            message=_sentence(NO_PASSCODE),
            tone="error",
        )
    if S(interview.status) in STARTED:
        # Reopening the link (another browser, the next day) gets back into the workspace.
        candidate_session.grant(request, interview.id)
    page = await load_candidate_page(db, interview, state.settings)
    return state.templates.TemplateResponse(
        request,
        "candidate/take_home.html",
        {
            "interview": interview,
            "page": page,
            "challenge": await _challenge(db, interview),
            "duration": duration_text(interview.duration_minutes),
            "page_data": {
                "passcode": interview.passcode,
                "interview": page,
                "page_url": f"/api/interviews/by-passcode/{interview.passcode}",
                "events_url": f"/api/interviews/by-passcode/{interview.passcode}/events",
                "activate_url": f"/api/interviews/{interview.id}/activate",
                "duration": duration_text(interview.duration_minutes),
            },
        },
        headers=NO_STORE,
    )


# Joining a live interview -----------------------------------------------------------------


@router.get("/join/{interview_id}")
async def join_page(
    interview_id: str, request: Request, db: DbSession, state: StateDep
) -> Response:
    throttled = await _throttled_page(request, state, "join attempts")
    if throttled is not None:
        return throttled
    interview = await db.get(Interview, interview_id)
    if interview is None or interview.kind != InterviewKind.LIVE.value:
        return _message_page(
            request,
            state,
            status_code=404,
            title="Interview not found",
            message=NO_LIVE_INTERVIEW,
            tone="error",
        )
    page = await load_candidate_page(db, interview, state.settings)
    return state.templates.TemplateResponse(
        request,
        "candidate/join.html",
        {
            "interview": interview,
            "page": page,
            "duration": duration_text(interview.duration_minutes),
            "joined_as": candidate_session.display_name(request, interview.id),
            "workspace_url": workspace_path(interview.id),
            "page_data": {
                "join_url": f"/api/interviews/{interview.id}/join",
                "workspace_url": workspace_path(interview.id),
            },
        },
        headers=NO_STORE,
    )


# The workspace ----------------------------------------------------------------------------


@router.get("/w/{interview_id}/")
async def workspace_page(
    interview_id: str,
    request: Request,
    db: DbSession,
    state: StateDep,
    principal: OptionalPrincipal,
) -> Response:
    interview = await db.get(Interview, interview_id)
    if interview is None:
        return _message_page(
            request,
            state,
            status_code=404,
            title="Workspace not found",
            message=NO_WORKSPACE,
            tone="error",
        )
    live = interview.kind == InterviewKind.LIVE.value
    page = await load_candidate_page(db, interview, state.settings)
    caller = caller_for(request, principal, interview)
    if not may_enter(request, principal, interview):
        if live:
            return RedirectResponse(join_path(interview.id), status_code=303)
        if S(interview.status) in ENDED:
            return _message_page(
                request, state, status_code=410, title="This test is over", message=page["message"]
            )
        return state.templates.TemplateResponse(
            request,
            "candidate/workspace_login.html",
            {
                "interview": interview,
                "challenge": await _challenge(db, interview),
                "page_data": {
                    "join_url": f"/api/interviews/{interview.id}/join",
                    "workspace_url": workspace_path(interview.id),
                },
            },
            status_code=401,
        )
    challenge = await _challenge(db, interview)
    if interview.status == S.ACTIVE.value and caller is not None:
        # The IDE; every other state keeps the page that explains it.
        return state.templates.TemplateResponse(
            request,
            "ide/ide.html",
            {
                "ide_config": ide_config(
                    interview, challenge, caller, spectate=wants_to_spectate(request)
                ),
                "statement": challenge.statement if challenge is not None else "",
                "custom_instructions": interview.custom_instructions,
            },
            headers=NO_STORE,
        )
    context: dict[str, Any] = {
        "interview": interview,
        "page": page,
        "challenge": challenge,
        "is_staff": is_staff_of(principal, interview),
        "display_name": candidate_session.display_name(request, interview.id),
        "workspace_url": workspace_path(interview.id),
        "page_data": {
            "status": interview.status,
            "events_url": f"/api/interviews/{interview.id}/workspace-events",
        },
    }
    return state.templates.TemplateResponse(
        request, "candidate/workspace.html", context, headers=NO_STORE
    )
