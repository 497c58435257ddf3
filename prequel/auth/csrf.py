"""CSRF tokens bound to the signed session.

Forms carry the token in a hidden ``csrf_token`` field; scripts send it as ``X-CSRF-Token``.
Bearer-token API calls carry no ambient credential and need none.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"


def csrf_token(session: dict[str, Any]) -> str:
    """The session's token, created on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def csrf_valid(session: dict[str, Any], submitted: str | None) -> bool:
    expected = session.get(SESSION_KEY)
    if not isinstance(expected, str) or not expected or not submitted:
        return False
    return hmac.compare_digest(expected, submitted)
