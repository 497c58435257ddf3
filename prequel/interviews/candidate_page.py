"""What the candidate's page shows: their interview's view plus one named state and a sentence
to show for it, so the page (and its stream) never has to interpret statuses itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Interview
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewKind, InterviewStatus
from prequel.interviews.credentials import decrypt_password
from prequel.interviews.views import candidate_view
from prequel.settings import Settings

S = InterviewStatus
STARTING = frozenset({S.ACTIVATED, S.INITIALIZING, S.CONFIGURING})
EXPIRED_MESSAGE = "This invitation has expired. Ask your interviewer for a new one."


def duration_text(minutes: int) -> str:
    """'2 hours', '1 hour', '90 minutes': how long, in the words a person would use."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{minutes} minutes"


def _revoked_message(interview: Interview, saving: bool) -> str:
    if interview.activated_at is None:
        return (
            "This take-home test was withdrawn by your interviewer. "
            "Contact them if you think this is a mistake."
        )
    saved = "is being saved" if saving else "has been saved"
    return f"Your interviewer ended this take-home test. Your work {saved}."


def _ended_state(interview: Interview) -> tuple[str, str]:
    reason = interview.end_reason
    saving = interview.status == S.DESTROYING.value
    if reason == EndReason.EXPIRED.value:
        return "expired", EXPIRED_MESSAGE
    if reason == EndReason.REVOKED.value:
        return "revoked", _revoked_message(interview, saving)
    if reason == EndReason.FAILED.value:
        return (
            "failed",
            "The workspace could not be run. Please contact your interviewer; they can see "
            "what went wrong and send you a new link.",
        )
    if reason == EndReason.SUBMITTED.value:
        if saving:
            return "ending", "You submitted your work. It is being saved."
        return "ended", "You submitted your work. It has been saved."
    if reason == EndReason.ENDED_BY_INTERVIEWER.value:
        saved = "is being saved" if saving else "has been saved"
        return ("ending" if saving else "ended"), f"The interview has ended. Your work {saved}."
    if saving:
        return "ending", "Time is up. Your work is being saved."
    return "ended", "Time is up. Your work has been saved for your interviewer. Thank you!"


def candidate_state(interview: Interview, now: datetime) -> tuple[str, str]:
    """(state, message): ready, scheduled, starting, active, failed, expired, revoked,
    ending or ended."""
    status = S(interview.status)
    if status is S.INVITED:
        if interview.valid_until is not None and interview.valid_until <= now:
            return "expired", EXPIRED_MESSAGE
        return (
            "ready",
            f"You will have {duration_text(interview.duration_minutes)}, counted from the "
            "moment your workspace is ready.",
        )
    if status is S.SCHEDULED:
        when = interview.scheduled_at
        at = f" at {when.strftime('%Y-%m-%d %H:%M UTC')}" if when is not None else ""
        return "scheduled", f"The interview starts{at}. This page updates by itself."
    if status in STARTING:
        return "starting", "Your workspace is being prepared. This page updates by itself."
    if status is S.ACTIVE:
        return "active", "Your workspace is ready."
    if status is S.ERROR:
        return (
            "failed",
            "The workspace could not be started. Your interviewer can see what went wrong; "
            "please contact them.",
        )
    return _ended_state(interview)


def workspace_password(interview: Interview, settings: Settings) -> str | None:
    """A take-home's workspace password, for the passcode holder while the workspace runs.
    (A live interview's password comes from the interviewer, never from this page.)"""
    if interview.kind != InterviewKind.TAKE_HOME.value or interview.status != S.ACTIVE.value:
        return None
    return decrypt_password(interview.password_encrypted, settings.secret_key.get_secret_value())


def candidate_page(
    interview: Interview,
    challenge: Challenge | None,
    now: datetime,
    password: str | None = None,
) -> dict[str, Any]:
    state, message = candidate_state(interview, now)
    return {
        **candidate_view(interview),
        "state": state,
        "message": message,
        "can_start": state == "ready" and interview.kind == InterviewKind.TAKE_HOME.value,
        "challenge": (
            {"title": challenge.title, "language": challenge.language}
            if challenge is not None
            else None
        ),
        "password": password if state == "active" else None,
    }


async def load_candidate_page(
    db: AsyncSession, interview: Interview, settings: Settings
) -> dict[str, Any]:
    """The page data as the API, the stream's `connection` event and the HTML page show it."""
    challenge = await db.get(Challenge, interview.challenge_id)
    return candidate_page(interview, challenge, utcnow(), workspace_password(interview, settings))
