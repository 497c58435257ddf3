"""What each audience may see of an interview. The candidate's view never holds staff data
(other candidates, passwords, logs); the staff view holds the password only when asked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prequel.db.models import Interview


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def take_home_path(passcode: str) -> str:
    return f"/take-home/{passcode}"


def join_path(interview_id: str) -> str:
    return f"/join/{interview_id}"


def workspace_path(interview_id: str) -> str:
    return f"/w/{interview_id}/"


def staff_view(interview: Interview, public_url: str) -> dict[str, Any]:
    """Everything an interviewer sees in lists and events. The workspace password is added
    by the single-interview read (see prequel.interviews.service.password_of)."""
    view: dict[str, Any] = {
        "id": interview.id,
        "kind": interview.kind,
        "status": interview.status,
        "end_reason": interview.end_reason,
        "candidate_name": interview.candidate_name,
        "candidate_email": interview.candidate_email,
        "candidate_display_name": interview.candidate_display_name,
        "challenge_id": interview.challenge_id,
        "challenge_slug": interview.challenge_slug,
        "duration_minutes": interview.duration_minutes,
        "scheduled_at": _iso(interview.scheduled_at),
        "provision_at": _iso(interview.provision_at),
        "valid_until": _iso(interview.valid_until),
        "activated_at": _iso(interview.activated_at),
        "started_at": _iso(interview.started_at),
        "auto_destroy_at": _iso(interview.auto_destroy_at),
        "completed_at": _iso(interview.completed_at),
        "destroyed_at": _iso(interview.destroyed_at),
        "created_at": _iso(interview.created_at),
        "updated_at": _iso(interview.updated_at),
        "custom_instructions": interview.custom_instructions,
        "passcode": interview.passcode,
        "candidate_url": (
            public_url + take_home_path(interview.passcode) if interview.passcode else None
        ),
        "join_url": (public_url + join_path(interview.id) if interview.kind == "live" else None),
        "access_url": interview.access_url if interview.status == "active" else None,
        "archive": (
            {"key": interview.history_key, "size": interview.history_size}
            if interview.history_key
            else None
        ),
    }
    return view


def candidate_view(interview: Interview) -> dict[str, Any]:
    """What the candidate's page and stream get: their own interview's state, nothing more."""
    return {
        "id": interview.id,
        "kind": interview.kind,
        "status": interview.status,
        "end_reason": interview.end_reason,
        "candidate_name": interview.candidate_name,
        "challenge_slug": interview.challenge_slug,
        "duration_minutes": interview.duration_minutes,
        "custom_instructions": interview.custom_instructions,
        "valid_until": _iso(interview.valid_until),
        "activated_at": _iso(interview.activated_at),
        "started_at": _iso(interview.started_at),
        "auto_destroy_at": _iso(interview.auto_destroy_at),
        "workspace_url": (workspace_path(interview.id) if interview.status == "active" else None),
    }
