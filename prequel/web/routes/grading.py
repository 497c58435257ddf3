"""Staff API for grading: the test results recorded when an interview ended, hidden test
names included. Never served to candidates (their views carry no test results at all)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from prequel.interviews import service
from prequel.interviews.grading import staff_results
from prequel.web.deps import DbSession, ViewerPrincipal
from prequel.web.errors import ApiError

router = APIRouter(prefix="/api/interviews", tags=["grading"])


@router.get(
    "/{interview_id}/test-results",
    responses={404: {"description": "No such interview in your organization."}},
)
async def get_test_results(
    interview_id: str, db: DbSession, principal: ViewerPrincipal
) -> dict[str, Any]:
    """The visible and hidden tests run against the final files when the interview ended
    (submitted, time up or ended by the interviewer): per suite its summary (`status`
    passed, failed or error; counts; `detail`) and one result per test (`name`, `outcome`
    passed, failed, error or skipped, `message`, `duration_ms`), and the `score` over both
    suites. A suite is `null` when it was not run (no tests, or the workspace was gone);
    `graded` is false until the interview has ended."""
    interview = await service.get_for_org(db, principal.organization.id, interview_id)
    if interview is None:
        raise ApiError(
            404,
            f"no interview {interview_id[:64]!r} in your organization; "
            "GET /api/interviews lists them",
        )
    return await staff_results(db, interview)
