"""A candidate's right to one interview, kept in the signed session cookie (prequel_session).

Candidates have no account: proving the passcode (take-home) or the workspace password
(live) grants access to that one interview, and the workspace proxy asks has_access before
forwarding anything. A new grant replaces the previous one, so a browser holds access to a
single interview at a time; a staff login in the same cookie is left alone.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from starlette.requests import HTTPConnection

SESSION_KEY = "candidate"


def grant(connection: HTTPConnection, interview_id: str, display_name: str | None = None) -> None:
    connection.session[SESSION_KEY] = {
        "interview_id": interview_id,
        "display_name": display_name,
        "granted_at": int(time.time()),
    }


def _granted(connection: HTTPConnection) -> dict[str, Any] | None:
    value = connection.session.get(SESSION_KEY)
    if not isinstance(value, dict) or not isinstance(value.get("interview_id"), str):
        return None
    return value


def has_access(connection: HTTPConnection, interview_id: str) -> bool:
    granted = _granted(connection)
    if granted is None:
        return False
    return hmac.compare_digest(granted["interview_id"].encode(), interview_id.encode())


def display_name(connection: HTTPConnection, interview_id: str) -> str | None:
    """The name the candidate entered when joining this interview, if any."""
    granted = _granted(connection)
    if granted is None or not has_access(connection, interview_id):
        return None
    name = granted.get("display_name")
    return name if isinstance(name, str) else None


def revoke(connection: HTTPConnection) -> None:
    connection.session.pop(SESSION_KEY, None)
