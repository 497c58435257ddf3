"""What the staff and candidate interview routes share: committing so events reach the SSE
streams, turning a service's refusal into the JSON error the API answers with, and finding
the organization's interview or answering 404."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview
from prequel.interviews import service
from prequel.interviews.errors import InterviewRefused
from prequel.realtime.outbox import commit_and_publish
from prequel.state import AppState
from prequel.web.errors import ApiError


async def commit(db: AsyncSession, state: AppState) -> None:
    """Commit, then publish the staged events on the bus for the SSE streams."""
    await commit_and_publish(db, state.bus)


async def refusal(db: AsyncSession, state: AppState, exc: InterviewRefused) -> ApiError:
    """The API error for a refusal. Changes the service recorded on the way (an expired
    invitation closed) are committed first; anything else is rolled back with the request."""
    if exc.keep_changes:
        await commit(db, state)
    details = [{"field": exc.field, "message": exc.message}] if exc.field else None
    return ApiError(exc.status, exc.message, code=exc.code, details=details, headers=exc.headers)


async def interview_or_404(db: AsyncSession, org_id: str, interview_id: str) -> Interview:
    """The organization's interview, or the 404 every staff endpoint answers."""
    interview = await service.get_for_org(db, org_id, interview_id)
    if interview is None:
        raise ApiError(
            404,
            f"no interview {interview_id[:64]!r} in your organization; "
            "GET /api/interviews lists them",
        )
    return interview
