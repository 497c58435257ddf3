"""The report page (printable) and the replay page of one interview, for staff."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from prequel.db.models import Challenge
from prequel.domain.roles import Role
from prequel.interviews import archive_files, history
from prequel.interviews.archive_files import ArchiveProblem, SavedTexts
from prequel.reports.report import build_report
from prequel.state import AppState
from prequel.storage.base import BlobError
from prequel.web.deps import DbSession, StateDep, ViewerPrincipal
from prequel.web.interview_support import interview_or_404

router = APIRouter(include_in_schema=False)


async def _saved_code(state: AppState, key: str | None) -> tuple[SavedTexts | None, str | None]:
    if not key:
        return None, None
    try:
        return await archive_files.read_saved_texts(state.blobs, key), None
    except ArchiveProblem as exc:
        return None, str(exc)
    except BlobError as exc:
        return None, f"the blob store cannot be reached right now ({exc})"


@router.get("/interviews/{interview_id}/report")
async def report_page(
    request: Request, interview_id: str, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    report = await build_report(db, interview, principal.organization)
    saved, saved_problem = await _saved_code(state, interview.history_key)
    mine = next(
        (card for card in report["scorecards"] if card["author_id"] == principal.user.id), None
    )
    return state.templates.TemplateResponse(
        request,
        "report/report.html",
        {
            "interview": interview,
            "row": history.HistoryRow(interview),
            "challenge": await db.get(Challenge, interview.challenge_id),
            "report": report,
            "figures": {item["key"]: item for item in report["scores"]["figures"]},
            "saved": saved,
            "saved_problem": saved_problem,
            "can_score": principal.role.at_least(Role.INTERVIEWER),
            "mine": mine,
            "page_data": {"id": interview.id, "criteria": report["criteria"]},
        },
    )


@router.get("/interviews/{interview_id}/replay")
async def replay_page(
    request: Request, interview_id: str, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    return state.templates.TemplateResponse(
        request,
        "report/replay.html",
        {
            "interview": interview,
            "row": history.HistoryRow(interview),
            "page_data": {
                "id": interview.id,
                "seq": request.query_params.get("seq"),
                "candidate": interview.candidate_name,
            },
        },
    )
