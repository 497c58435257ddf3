"""JSON authentication API: log in, log out, who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from prequel.auth.accounts import Principal
from prequel.auth.csrf import csrf_token
from prequel.web.deps import CurrentPrincipal, DbSession, StateDep
from prequel.web.errors import ApiError
from prequel.web.login import LoginFailure, attempt_login

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


def principal_json(principal: Principal) -> dict[str, Any]:
    user = principal.user
    return {
        "user": {"id": user.id, "email": user.email, "name": user.name},
        "organization": {"id": principal.organization.id, "name": principal.organization.name},
        "role": principal.role.value,
    }


@router.post("/login")
async def login(
    body: LoginRequest, request: Request, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """Start a session (signed, HttpOnly, SameSite=Lax cookie). Returns the CSRF token that
    later cookie-authenticated API calls send as `X-CSRF-Token`."""
    result = await attempt_login(request, db, state.login_throttle, body.email, body.password)
    if isinstance(result, LoginFailure):
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else None
        raise ApiError(result.status, result.message, headers=headers)
    return {**principal_json(result), "csrf_token": csrf_token(request.session)}


@router.post("/logout", status_code=204)
async def logout(request: Request) -> Response:
    # Logging out needs no CSRF proof: the worst a forged request can do is log you out.
    request.session.clear()
    return Response(status_code=204)


@router.get("/me")
async def me(principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    body = principal_json(principal)
    if principal.via == "session":
        body["csrf_token"] = csrf_token(request.session)
    return body
