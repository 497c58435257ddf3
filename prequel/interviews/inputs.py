"""Checks on what people type when creating or joining an interview, shared by the API's
request models (which report the field) and the services (which other callers use too).
Each raises RuleViolation with a message that says what is allowed."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from prequel.auth.accounts import AccountError, normalize_email
from prequel.domain.rules import RuleViolation

NAME_MAX = 200
DISPLAY_NAME_MAX = 80
INSTRUCTIONS_MAX = 20_000
# A form filled in a minute ago still means "now", not "in the past".
SCHEDULE_GRACE = timedelta(minutes=1)
SCHEDULE_HORIZON = timedelta(days=365)


def _has_control(text: str, allowed: str = "") -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def clean_name(value: str, *, what: str = "the candidate's name", limit: int = NAME_MAX) -> str:
    name = " ".join(value.split())
    if not name:
        raise RuleViolation(f"{what} must not be empty")
    if len(name) > limit:
        raise RuleViolation(f"{what} must be at most {limit} characters; got {len(name)}")
    if _has_control(name):
        raise RuleViolation(f"{what} must not contain control characters")
    return name


def clean_display_name(value: str) -> str:
    return clean_name(value, what="your display name", limit=DISPLAY_NAME_MAX)


def clean_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalize_email(value)
    except AccountError as exc:
        raise RuleViolation(str(exc)) from exc


def clean_instructions(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > INSTRUCTIONS_MAX:
        raise RuleViolation(
            f"custom instructions must be at most {INSTRUCTIONS_MAX} characters; got {len(text)}"
        )
    if _has_control(text, allowed="\n\r\t"):
        raise RuleViolation("custom instructions must not contain control characters")
    return text


def check_scheduled_at(value: datetime, now: datetime) -> datetime:
    """A timezone-aware time, not more than a minute ago and within a year; returned in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleViolation(
            "scheduled_at needs a time zone, e.g. 2030-01-31T14:00:00+01:00 or ...Z"
        )
    try:
        moment = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise RuleViolation("scheduled_at is out of range") from exc
    if moment < now - SCHEDULE_GRACE:
        raise RuleViolation(
            f"scheduled_at {moment.isoformat(timespec='minutes')} is in the past; "
            "leave it out to start now"
        )
    if moment > now + SCHEDULE_HORIZON:
        raise RuleViolation("scheduled_at must be within a year from now")
    return moment
