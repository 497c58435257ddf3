"""The login decision shared by the JSON API and the HTML form: throttle, verify, record."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import Principal, authenticate, principal_for
from prequel.auth.throttle import LoginThrottle
from prequel.web.deps import SESSION_USER_KEY, client_ip


@dataclass(frozen=True)
class LoginFailure:
    status: int
    message: str
    retry_after: int | None = None


async def attempt_login(
    request: Request, db: AsyncSession, throttle: LoginThrottle, email: str, password: str
) -> Principal | LoginFailure:
    key, ip = email.strip().lower(), client_ip(request)
    throttled = await throttle.check(key, ip)
    if throttled is not None:
        minutes = max(1, round(throttled.retry_after_seconds / 60))
        what = "this account" if throttled.scope == "account" else "your network address"
        return LoginFailure(
            429,
            f"too many failed logins for {what}; try again in about {minutes} minute(s)",
            throttled.retry_after_seconds,
        )
    user = await authenticate(db, key, password)
    if user is None:
        await throttle.record_failure(key, ip)
        return LoginFailure(401, "wrong email or password")
    principal = await principal_for(db, user, via="session")
    if principal is None:
        return LoginFailure(403, "your account is not a member of any organization")
    await throttle.record_success(key)
    # A fresh session on every login: nothing from before the login survives (no fixation).
    request.session.clear()
    request.session[SESSION_USER_KEY] = user.id
    return principal
