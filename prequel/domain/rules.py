"""Durations, invitation windows and passcodes (DESIGN.md, "Domain"): pure rules, no I/O."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from prequel.domain.interviews import InterviewKind

# minutes, inclusive
DURATION_BOUNDS: dict[InterviewKind, tuple[int, int]] = {
    InterviewKind.LIVE: (30, 4 * 60),
    InterviewKind.TAKE_HOME: (60, 8 * 60),
}
VALID_DAYS = (1, 30)
PROVISION_LEAD = timedelta(minutes=5)
START_ATTEMPTS_PER_IP_PER_HOUR = 3

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: a passcode read aloud or off a screen is typed right.
PASSCODE_ALPHABET = "34679ACDEFGHJKMNPQRTUVWXY"
PASSCODE_LENGTH = 8


class RuleViolation(ValueError):
    """Input outside the domain's rules; the message says the allowed range."""


def check_duration(kind: InterviewKind, minutes: int) -> int:
    low, high = DURATION_BOUNDS[kind]
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not low <= minutes <= high:
        what = "a live interview" if kind is InterviewKind.LIVE else "a take-home test"
        raise RuleViolation(
            f"{what} lasts {low} to {high} minutes ({low / 60:g} h to {high / 60:g} h); "
            f"got {minutes!r}"
        )
    return minutes


def check_valid_days(days: int) -> int:
    low, high = VALID_DAYS
    if isinstance(days, bool) or not isinstance(days, int) or not low <= days <= high:
        raise RuleViolation(f"a take-home invitation is valid {low} to {high} days; got {days!r}")
    return days


def provisioning_starts_at(scheduled_at: datetime) -> datetime:
    """Scheduled live interviews start provisioning five minutes early."""
    return scheduled_at - PROVISION_LEAD


def auto_destroy_at(started_at: datetime, duration_minutes: int) -> datetime:
    return started_at + timedelta(minutes=duration_minutes)


def new_passcode() -> str:
    return "".join(secrets.choice(PASSCODE_ALPHABET) for _ in range(PASSCODE_LENGTH))


def normalize_passcode(text: str) -> str | None:
    """The passcode as stored, from what a person typed (case, spaces, dashes forgiven), or
    None when it cannot be one."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -")
    if len(cleaned) != PASSCODE_LENGTH or any(ch not in PASSCODE_ALPHABET for ch in cleaned):
        return None
    return cleaned
