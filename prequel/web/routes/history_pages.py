"""History pages: ended interviews, one interview's detail, the saved work's files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import Principal
from prequel.db.models import Challenge, Interview, User
from prequel.domain.interviews import EndReason, InterviewKind
from prequel.interviews import archive_files, history, service, timeline
from prequel.interviews.archive_files import (
    ArchiveListing,
    ArchiveProblem,
    TextFile,
    TreeNode,
    build_tree,
)
from prequel.interviews.errors import InvalidInput
from prequel.state import AppState
from prequel.storage.base import BlobError
from prequel.web.deps import DbSession, StateDep, ViewerPrincipal
from prequel.web.errors import ApiError
from prequel.web.routes.archive_files import problem_error

router = APIRouter(include_in_schema=False)

# A filter field of the GET form; Annotated, so each parameter gets its own copy.
Text = Annotated[str, Query(max_length=200)]


# History ----------------------------------------------------------------------------------


@router.get("/history")
async def history_page(
    request: Request,
    principal: ViewerPrincipal,
    db: DbSession,
    state: StateDep,
    q: Text = "",
    kind: Text = "",
    end_reason: Text = "",
    ended_from: Text = "",
    ended_to: Text = "",
    tz: Text = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    filters = history.HistoryFilters(
        q=q.strip(),
        kind=kind,
        end_reason=end_reason,
        ended_from=ended_from,
        ended_to=ended_to,
        tz=tz or "UTC",
    )
    resume_seq = await timeline.latest_seq(db, principal.organization.id)
    error: InvalidInput | None = None
    rows: list[history.HistoryRow] = []
    next_cursor: str | None = None
    try:
        result = await history.history_page(db, principal.organization.id, filters, cursor)
        rows = [history.HistoryRow(interview) for interview in result.items]
        next_cursor = result.next_cursor
    except InvalidInput as exc:
        error = exc
    first_page = not cursor
    return state.templates.TemplateResponse(
        request,
        "history/list.html",
        {
            "filters": filters,
            "rows": rows,
            "error": error,
            "next_cursor": next_cursor,
            "page_number": page if cursor else 1,
            "first_page": first_page,
            "kinds": history.KIND_LABELS,
            "end_reasons": [reason.value for reason in EndReason],
            "page_data": {
                "resume_seq": resume_seq,
                "first_page": first_page,
                "filters": {
                    "q": filters.q,
                    "kind": filters.kind,
                    "end_reason": filters.end_reason,
                    "dates": bool(filters.ended_from or filters.ended_to),
                },
                "ids": [row.interview.id for row in rows],
            },
        },
        status_code=422 if error else 200,
    )


# One interview ----------------------------------------------------------------------------


async def _interview(db: AsyncSession, principal: Principal, interview_id: str) -> Interview:
    interview = await service.get_for_org(db, principal.organization.id, interview_id)
    if interview is None:
        # The same answer for a missing id and another organization's interview.
        raise ApiError(404, "there is no such interview in your organization")
    return interview


# Listing an archive unpacks all of it. Above this size the interview page links to the
# saved-files page instead of listing on every view.
INLINE_LISTING_MAX_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class SavedWork:
    """The archive's listing, or why it cannot be shown."""

    listing: ArchiveListing | None = None
    problem: str | None = None
    # True when the archive is too large to list inline (see INLINE_LISTING_MAX_BYTES).
    deferred: bool = False

    @property
    def tree(self) -> list[TreeNode]:
        return build_tree(self.listing.entries) if self.listing else []


async def _saved_work(
    state: AppState, interview: Interview, *, inline: bool = False
) -> SavedWork | None:
    if not interview.history_key:
        return None
    if inline and (interview.history_size or 0) > INLINE_LISTING_MAX_BYTES:
        return SavedWork(deferred=True)
    try:
        return SavedWork(listing=await archive_files.list_saved(state.blobs, interview.history_key))
    except ArchiveProblem as exc:
        return SavedWork(problem=str(exc))
    except BlobError as exc:
        return SavedWork(problem=f"the blob store cannot be reached right now ({exc})")


async def _user_name(db: AsyncSession, user_id: str | None) -> str | None:
    user = await db.get(User, user_id) if user_id else None
    return user.name if user else None


def _page_data(interview: Interview, resume_seq: int, saved: SavedWork | None) -> dict[str, Any]:
    return {
        "id": interview.id,
        "kind": interview.kind,
        "status": interview.status,
        "end_reason": interview.end_reason,
        "resume_seq": resume_seq,
        "has_files": bool(saved and (saved.listing or saved.deferred)),
    }


@router.get("/interviews/{interview_id}")
async def interview_detail_page(
    request: Request,
    interview_id: str,
    principal: ViewerPrincipal,
    db: DbSession,
    state: StateDep,
) -> Response:
    # Read first, so whatever changes after the render is replayed by the stream.
    resume_seq = await timeline.latest_seq(db, principal.organization.id)
    interview = await _interview(db, principal, interview_id)
    operations = await service.list_operations(db, interview.id)
    saved = await _saved_work(state, interview, inline=True)
    password = (
        service.password_of(interview, state.settings)
        if interview.kind == InterviewKind.LIVE.value
        else None
    )
    return state.templates.TemplateResponse(
        request,
        "history/detail.html",
        {
            "interview": interview,
            "row": history.HistoryRow(interview),
            "challenge": await db.get(Challenge, interview.challenge_id),
            "timeline": await timeline.interview_timeline(db, interview),
            "operations": operations,
            "password": password,
            "public_url": state.settings.public_url,
            "created_by": await _user_name(db, interview.created_by_id),
            "ended_by": await _user_name(db, interview.ended_by_id),
            "saved": saved,
            "page_data": _page_data(interview, resume_seq, saved),
        },
    )


# Saved files ------------------------------------------------------------------------------


async def _saved_files_page(
    request: Request,
    interview_id: str,
    path: str | None,
    principal: Principal,
    db: AsyncSession,
    state: AppState,
) -> Response:
    interview = await _interview(db, principal, interview_id)
    if not interview.history_key:
        raise ApiError(
            404,
            f"{interview.candidate_name}'s work is not saved yet: it is saved when the "
            f"workspace is destroyed (this interview is {interview.status})",
        )
    saved = await _saved_work(state, interview)
    shown: TextFile | None = None
    file_problem: str | None = None
    status = 200
    if path is not None:
        try:
            shown = await archive_files.read_saved(state.blobs, interview.history_key, path)
        except ArchiveProblem as exc:
            file_problem, status = str(exc), problem_error(exc).status
        except BlobError as exc:
            file_problem, status = f"the blob store cannot be reached right now ({exc})", 503
    return state.templates.TemplateResponse(
        request,
        "history/saved.html",
        {
            "interview": interview,
            "saved": saved,
            "selected_path": path,
            "shown": shown,
            "file_problem": file_problem,
            "page_data": _page_data(interview, 0, saved) | {"standalone": True},
        },
        status_code=status,
    )


@router.get("/interviews/{interview_id}/saved")
async def saved_files_page(
    request: Request, interview_id: str, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    return await _saved_files_page(request, interview_id, None, principal, db, state)


@router.get("/interviews/{interview_id}/saved/{path:path}")
async def saved_file_page(
    request: Request,
    interview_id: str,
    path: str,
    principal: ViewerPrincipal,
    db: DbSession,
    state: StateDep,
) -> Response:
    return await _saved_files_page(request, interview_id, path, principal, db, state)
