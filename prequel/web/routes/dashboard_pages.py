"""Interviewer dashboard pages: current interviews and take-home tests.

The pages embed their first rows as JSON and one script renders every row, from that data
and from the staff event stream alike, so a row looks the same before and after an update.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import Principal
from prequel.auth.csrf import HEADER, csrf_valid
from prequel.challenges.library import list_latest
from prequel.db.models import Challenge, Event, Interview
from prequel.db.types import utcnow
from prequel.domain.interviews import InterviewKind, InterviewStatus
from prequel.domain.roles import Role
from prequel.interviews import inputs, listing, service
from prequel.interviews.views import staff_view
from prequel.state import AppState
from prequel.web.deps import DbSession, InterviewerPrincipal, StateDep, ViewerPrincipal
from prequel.web.errors import ApiError
from prequel.web.templating import render_markdown

router = APIRouter(include_in_schema=False)

S = InterviewStatus
# What each tab lists: everything of its kind that has not ended yet.
CURRENT_STATUSES: dict[InterviewKind, tuple[InterviewStatus, ...]] = {
    InterviewKind.LIVE: (
        S.SCHEDULED,
        S.INITIALIZING,
        S.CONFIGURING,
        S.ACTIVE,
        S.DESTROYING,
        S.ERROR,
    ),
    InterviewKind.TAKE_HOME: (
        S.INVITED,
        S.ACTIVATED,
        S.INITIALIZING,
        S.CONFIGURING,
        S.ACTIVE,
        S.DESTROYING,
        S.ERROR,
    ),
}
TEMPLATES = {
    InterviewKind.LIVE: "dashboard/interviews.html",
    InterviewKind.TAKE_HOME: "dashboard/take_homes.html",
}
# The first page of rows; "Show more" pages on through the API with next_cursor.
FIRST_PAGE = listing.MAX_LIMIT


def _row(interview: Interview, state: AppState) -> dict[str, Any]:
    view = staff_view(interview, state.settings.public_url)
    # Access details appear once the workspace is up; the list API leaves the password out.
    if interview.kind == InterviewKind.LIVE.value and interview.status == S.ACTIVE.value:
        view["password"] = service.password_of(interview, state.settings)
    return view


def _challenge_choice(challenge: Challenge) -> dict[str, Any]:
    return {
        "slug": challenge.slug,
        "title": challenge.title,
        "difficulty": challenge.difficulty,
        "language": challenge.language,
        "time_estimate_minutes": challenge.time_estimate_minutes,
    }


async def _newest_event_seq(db: AsyncSession) -> int:
    """The stream replays everything after this, so nothing that happens between rendering
    the page and opening the stream is missed."""
    newest = (await db.execute(select(func.max(Event.seq)))).scalar()
    return int(newest or 0)


async def _dashboard(
    request: Request,
    principal: Principal,
    db: AsyncSession,
    state: AppState,
    kind: InterviewKind,
) -> Response:
    seq = await _newest_event_seq(db)
    page = await listing.list_interviews(
        db,
        principal.organization.id,
        kind=kind,
        statuses=CURRENT_STATUSES[kind],
        limit=FIRST_PAGE,
    )
    challenges = await list_latest(db, principal.organization)
    data = {
        "kind": kind.value,
        "rows": [_row(interview, state) for interview in page.items],
        "next_cursor": page.next_cursor,
        "statuses": [status.value for status in CURRENT_STATUSES[kind]],
        "challenges": [_challenge_choice(challenge) for challenge in challenges],
        "can_manage": principal.role.at_least(Role.INTERVIEWER),
        "server_time": utcnow().isoformat(),
        "last_event_id": seq,
    }
    return state.templates.TemplateResponse(
        request,
        TEMPLATES[kind],
        {"dashboard": data, "can_manage": data["can_manage"], "challenges": challenges},
    )


@router.get("/interviews")
async def interviews_page(
    request: Request, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    return await _dashboard(request, principal, db, state, InterviewKind.LIVE)


@router.get("/take-homes")
async def take_homes_page(
    request: Request, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    return await _dashboard(request, principal, db, state, InterviewKind.TAKE_HOME)


@router.post("/interviews/preview-markdown")
async def preview_markdown(request: Request, principal: InterviewerPrincipal) -> Response:
    """The custom instructions as the candidate will see them: the same safe renderer (raw
    HTML in the source is escaped), so the page may insert the answer as markup."""
    del principal  # only the role check matters
    if not csrf_valid(request.session, request.headers.get(HEADER)):
        raise ApiError(
            403,
            "missing or wrong X-CSRF-Token header; reload the page and try again",
            code="csrf_failed",
        )
    try:
        body = await request.json()
    except ValueError:
        body = None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        message = 'send {"text": "the Markdown to render"}'
        raise ApiError(422, message, details=[{"field": "text", "message": message}])
    if len(text) > inputs.INSTRUCTIONS_MAX:
        message = f"custom instructions must be at most {inputs.INSTRUCTIONS_MAX} characters"
        raise ApiError(422, message, details=[{"field": "custom_instructions", "message": message}])
    return JSONResponse({"html": str(render_markdown(text))})
