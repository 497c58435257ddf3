"""Starting a workspace: one compare-and-set plus one create job, in the caller's transaction.

Whoever wins the move to `initializing` (the API for "start now" and take-home activation,
the deadline timer for scheduled interviews) enqueues the single create job; a loser does
nothing. Concurrent starts are capped so a burst cannot exhaust the machine.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview
from prequel.domain.interviews import InterviewStatus
from prequel.domain.operations import OperationType
from prequel.interviews.transitions import transition
from prequel.jobs.queue import enqueue

S = InterviewStatus
STARTING = (S.ACTIVATED.value, S.INITIALIZING.value, S.CONFIGURING.value)
# What a client is told to wait before trying again when the cap is reached.
RETRY_AFTER_SECONDS = 5


async def count_starting(db: AsyncSession) -> int:
    """Workspaces being provisioned right now, across every organization and replica."""
    return int(
        (
            await db.execute(
                select(func.count()).select_from(Interview).where(Interview.status.in_(STARTING))
            )
        ).scalar_one()
    )


async def start_provisioning(
    db: AsyncSession, interview_id: str, *, public_url: str, note: str
) -> Interview | None:
    """scheduled|activated -> initializing, and the create job. None when another actor
    already started (or ended) it. Not committed."""
    interview = await transition(
        db,
        interview_id,
        S.INITIALIZING,
        public_url=public_url,
        expected=(S.SCHEDULED, S.ACTIVATED),
    )
    if interview is None:
        return None
    await enqueue(db, OperationType.CREATE, interview_id, note=note)
    return interview
