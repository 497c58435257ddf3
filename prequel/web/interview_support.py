"""What the staff and candidate interview routes share: committing so events reach the SSE
streams, and turning a service's refusal into the JSON error the API answers with."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

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
