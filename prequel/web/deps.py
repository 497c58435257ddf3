"""Request dependencies: database session, current principal, role checks, CSRF."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import Principal, TokenRejected, principal_for, resolve_api_token
from prequel.auth.csrf import HEADER, csrf_valid
from prequel.db.models import User
from prequel.domain.roles import Role
from prequel.settings import Settings
from prequel.state import AppState
from prequel.web.errors import ApiError

SESSION_USER_KEY = "uid"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.prequel
    return state


def get_settings(request: Request) -> Settings:
    return get_state(request).settings


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, committed when the route returns without error."""
    async with get_state(request).sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            # Rollback expires every loaded object; detach them first so an error page can
            # still show who is logged in.
            session.expunge_all()
            await session.rollback()
            raise


StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DbSession = Annotated[AsyncSession, Depends(get_db)]


async def optional_principal(request: Request, db: DbSession) -> Principal | None:
    """Bearer token first, then the session cookie; None when neither is present."""
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise ApiError(401, "Authorization header must be 'Bearer <token>'")
        try:
            token, user = await resolve_api_token(db, credential.strip())
        except TokenRejected as exc:
            raise ApiError(401, str(exc), code="invalid_token") from exc
        principal = await principal_for(db, user, via="token", token_id=token.id)
    else:
        user_id = request.session.get(SESSION_USER_KEY)
        if not isinstance(user_id, str):
            return None
        session_user = await db.get(User, user_id)
        if session_user is None or not session_user.is_active:
            request.session.clear()
            return None
        principal = await principal_for(db, session_user, via="session")
    if principal is None:
        raise ApiError(403, "your account is not a member of any organization")
    request.state.principal = principal
    return principal


async def current_principal(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    if principal is None:
        raise ApiError(401, "log in first, or send 'Authorization: Bearer <API token>'")
    # A cookie is ambient authority, so unsafe requests made with it must prove intent.
    if (
        principal.via == "session"
        and request.method in UNSAFE_METHODS
        and request.url.path.startswith("/api/")
        and not csrf_valid(request.session, request.headers.get(HEADER))
    ):
        raise ApiError(
            403,
            "missing or wrong X-CSRF-Token header for a cookie-authenticated request",
            code="csrf_failed",
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits principals whose role is at least `role`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.role.at_least(role):
            raise ApiError(
                403,
                f"this needs the {role.value} role or higher; you are {principal.role.value}",
            )
        return principal

    return check


ViewerPrincipal = Annotated[Principal, Depends(require_role(Role.VIEWER))]
InterviewerPrincipal = Annotated[Principal, Depends(require_role(Role.INTERVIEWER))]
AdminPrincipal = Annotated[Principal, Depends(require_role(Role.ADMIN))]
OwnerPrincipal = Annotated[Principal, Depends(require_role(Role.OWNER))]


async def verified_form_csrf(request: Request) -> None:
    """For HTML form posts: the hidden csrf_token field must match the session's."""
    form = await request.form()
    submitted = form.get("csrf_token")
    if not csrf_valid(request.session, submitted if isinstance(submitted, str) else None):
        raise ApiError(
            403,
            "the form expired or was not sent from this site; reload the page and try again",
            code="csrf_failed",
        )


FormCsrf = Depends(verified_form_csrf)


def client_ip(request: Request) -> str:
    # Behind a reverse proxy, run uvicorn with --proxy-headers so this is the real client.
    return request.client.host if request.client else "unknown"
