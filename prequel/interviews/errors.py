"""Why the interview services refuse a request. Each refusal carries the HTTP status and
code the API answers with, and a message that tells the person what to do next."""

from __future__ import annotations

from typing import ClassVar


class InterviewRefused(Exception):
    status: ClassVar[int] = 409
    code: ClassVar[str] = "conflict"
    # True when the service recorded a change that must be committed even though the
    # request is refused (an invitation found expired is closed for good).
    keep_changes: ClassVar[bool] = False

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @property
    def headers(self) -> dict[str, str] | None:
        return None


class InvalidInput(InterviewRefused):
    status = 422
    code = "invalid_input"


class NotFound(InterviewRefused):
    status = 404
    code = "not_found"


class Expired(InterviewRefused):
    status = 410
    code = "expired"
    keep_changes = True


class Ended(InterviewRefused):
    """Revoked, ended by the interviewer, timed out or failed: it cannot be used again."""

    status = 410
    code = "ended"


class AlreadyStarted(InterviewRefused):
    status = 409
    code = "already_started"


class AlreadyEnding(InterviewRefused):
    status = 409
    code = "already_ending"


class NotReady(InterviewRefused):
    status = 409
    code = "not_ready"


class WrongPassword(InterviewRefused):
    status = 403
    code = "wrong_password"


class StartsCapped(InterviewRefused):
    """Too many workspaces are being provisioned right now; try again shortly."""

    status = 429
    code = "too_many_starts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many workspaces are starting right now; try again in {retry_after} seconds"
        )
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}
