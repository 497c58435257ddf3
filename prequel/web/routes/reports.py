"""Staff API for the report: scores with how they were computed, scorecards, and the
organization's report settings (criteria and weights)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from prequel.reports.report import build_report
from prequel.reports.scorecards import (
    ScorecardInput,
    ScorecardRefused,
    save_scorecard,
    scorecard_view,
)
from prequel.reports.settings import ReportSettings, report_settings, save_report_settings
from prequel.web.deps import (
    AdminPrincipal,
    DbSession,
    InterviewerPrincipal,
    ViewerPrincipal,
)
from prequel.web.errors import ApiError
from prequel.web.interview_support import interview_or_404

router = APIRouter(tags=["reports"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such interview in your organization."}
}


@router.get("/api/interviews/{interview_id}/report", responses=NOT_FOUND)
async def get_report(
    interview_id: str, db: DbSession, principal: ViewerPrincipal
) -> dict[str, Any]:
    """The report: `scores` (each figure with `value`, `display` and `how`, and the
    weighted `overall` with its parts), the `tests` (hidden names included), the static
    `analysis`, key `moments` (links into the replay by `seq`), the `scorecards` with the
    organization's `criteria`, and the interviewers' `private_notes`."""
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    return await build_report(db, interview, principal.organization)


@router.put(
    "/api/interviews/{interview_id}/scorecard",
    responses={**NOT_FOUND, 422: {"description": "Unknown criterion or rating out of range."}},
)
async def put_scorecard(
    interview_id: str, body: ScorecardInput, db: DbSession, principal: InterviewerPrincipal
) -> dict[str, Any]:
    """Save your scorecard for this interview (one per interviewer; saving again replaces
    it): `ratings` per criterion key (1 poor to 4 excellent; leave a criterion out to not
    rate it), `notes`, and a `recommendation` (strong_no, no, yes, strong_yes)."""
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    criteria = report_settings(principal.organization).criteria
    try:
        card = await save_scorecard(db, interview, principal.user, criteria, body)
    except ScorecardRefused as exc:
        raise ApiError(422, str(exc), code="invalid_input") from None
    await db.commit()
    return scorecard_view(card, criteria)


@router.get("/api/settings/report")
async def get_report_settings(principal: ViewerPrincipal) -> dict[str, Any]:
    """The scorecard's criteria and the overall score's weights (percent points per part:
    hidden_tests, visible_tests, static_analysis)."""
    return report_settings(principal.organization).model_dump()


@router.put(
    "/api/settings/report",
    responses={422: {"description": "Bad criteria or weights; the message says which."}},
)
async def put_report_settings(
    body: ReportSettings, db: DbSession, principal: AdminPrincipal
) -> dict[str, Any]:
    """Change the criteria and weights (admins). Existing scorecards keep their ratings; a
    criterion removed here is no longer shown."""
    org = await db.merge(principal.organization)
    saved = save_report_settings(org, body)
    await db.commit()
    return saved
