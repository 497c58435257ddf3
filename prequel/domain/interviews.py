"""Interview kinds, statuses and end reasons (DESIGN.md, "Domain")."""

from __future__ import annotations

from enum import StrEnum


class InterviewKind(StrEnum):
    LIVE = "live"
    TAKE_HOME = "take_home"


class InterviewStatus(StrEnum):
    SCHEDULED = "scheduled"
    INVITED = "invited"
    ACTIVATED = "activated"
    INITIALIZING = "initializing"
    CONFIGURING = "configuring"
    ACTIVE = "active"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    ERROR = "error"


class EndReason(StrEnum):
    TIME_UP = "time_up"
    ENDED_BY_INTERVIEWER = "ended_by_interviewer"
    REVOKED = "revoked"
    # A take-home candidate pressed "I'm done": ends like the deadline does.
    SUBMITTED = "submitted"
    EXPIRED = "expired"
    FAILED = "failed"
