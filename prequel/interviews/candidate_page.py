"""What the candidate's page shows: their interview's view plus one named state and a sentence
to show for it, so the page (and its stream) never has to interpret statuses itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prequel.db.models import Challenge, Interview
from prequel.domain.interviews import EndReason, InterviewStatus
from prequel.interviews.views import candidate_view

S = InterviewStatus
STARTING = frozenset({S.ACTIVATED, S.INITIALIZING, S.CONFIGURING})


def _hours(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{minutes} minutes"


def _ended_state(interview: Interview) -> tuple[str, str]:
    reason = interview.end_reason
    if reason == EndReason.EXPIRED.value:
        return "expired", "This invitation has expired. Ask your interviewer for a new one."
    if reason == EndReason.REVOKED.value:
        return "revoked", "This take-home test was withdrawn by your interviewer."
    if reason == EndReason.FAILED.value:
        return "failed", "The workspace could not be run. Please contact your interviewer."
    if interview.status == S.DESTROYING.value:
        return "ending", "Time is up. Your work is being saved."
    return "ended", "This session is over. Your work has been saved."


def candidate_state(interview: Interview, now: datetime) -> tuple[str, str]:
    """(state, message): ready, scheduled, starting, active, failed, expired, revoked,
    ending or ended."""
    status = S(interview.status)
    if status is S.INVITED:
        if interview.valid_until is not None and interview.valid_until <= now:
            return "expired", "This invitation has expired. Ask your interviewer for a new one."
        return (
            "ready",
            f"You have {_hours(interview.duration_minutes)} from the moment you click Start.",
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


def candidate_page(
    interview: Interview, challenge: Challenge | None, now: datetime
) -> dict[str, Any]:
    state, message = candidate_state(interview, now)
    return {
        **candidate_view(interview),
        "state": state,
        "message": message,
        "can_start": state == "ready" and interview.kind == "take_home",
        "challenge": (
            {"title": challenge.title, "language": challenge.language}
            if challenge is not None
            else None
        ),
    }
