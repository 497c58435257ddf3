"""Who may enter a workspace (`/w/{id}/` and its proxy), and as whom the agent sees them.

Two kinds of caller get in:

- **staff** of the interview's organization (a signed-in session or an API token). Viewers are
  **spectators** (read-only, invisible to the candidate); interviewers, admins and owners are
  **interviewers**, unless they ask to spectate with `?as=spectator` on the request or the
  WebSocket's URL (a second interviewer watching quietly);
- the **candidate** whose session (prequel.web.candidate_session) names this interview.

Staff wins when one browser holds both. The page and the proxy both ask `caller_for`, so they
can never disagree about who gets in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from prequel.auth.accounts import Principal, TokenRejected, principal_for, resolve_api_token
from prequel.db.models import Interview, User
from prequel.domain.roles import Role
from prequel.web import candidate_session
from prequel.web.deps import SESSION_USER_KEY

WorkspaceRole = Literal["candidate", "interviewer", "spectator"]
SPECTATE_PARAM = "as"


@dataclass(frozen=True)
class WorkspaceCaller:
    """What the agent is told about the person (X-Prequel-Role, -User-Id, -User-Name)."""

    role: WorkspaceRole
    user_id: str
    name: str
    # How they got in: staff by a session cookie or an API token, the candidate by a cookie.
    via: Literal["session", "token"]

    @property
    def staff(self) -> bool:
        return self.role != "candidate"


def is_staff_of(principal: Principal | None, interview: Interview) -> bool:
    return principal is not None and principal.organization.id == interview.org_id


def may_enter(conn: HTTPConnection, principal: Principal | None, interview: Interview) -> bool:
    return is_staff_of(principal, interview) or candidate_session.has_access(conn, interview.id)


def wants_to_spectate(conn: HTTPConnection) -> bool:
    return conn.query_params.get(SPECTATE_PARAM) == "spectator"


def caller_for(
    conn: HTTPConnection, principal: Principal | None, interview: Interview
) -> WorkspaceCaller | None:
    """The caller's role in this interview's workspace, or None when they may not enter."""
    if principal is not None and is_staff_of(principal, interview):
        spectator = principal.role == Role.VIEWER or wants_to_spectate(conn)
        return WorkspaceCaller(
            role="spectator" if spectator else "interviewer",
            user_id=f"user-{principal.user.id}",
            name=principal.user.name or principal.user.email,
            via="token" if principal.via == "token" else "session",
        )
    if candidate_session.has_access(conn, interview.id):
        name = candidate_session.display_name(conn, interview.id) or interview.candidate_name
        return WorkspaceCaller(
            role="candidate", user_id="candidate", name=name or "Candidate", via="session"
        )
    return None


class BadCredentials(Exception):
    """An Authorization header that is malformed or names no valid token."""


async def principal_of(conn: HTTPConnection, db: AsyncSession) -> Principal | None:
    """prequel.web.deps.optional_principal for any connection, WebSockets included: the bearer
    token first, then the session cookie. Raises BadCredentials for a bad bearer token."""
    authorization = conn.headers.get("authorization", "")
    if authorization:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise BadCredentials("Authorization header must be 'Bearer <token>'")
        try:
            token, user = await resolve_api_token(db, credential.strip())
        except TokenRejected as exc:
            raise BadCredentials(str(exc)) from exc
        return await principal_for(db, user, via="token", token_id=token.id)
    user_id = conn.session.get(SESSION_USER_KEY)
    if not isinstance(user_id, str):
        return None
    session_user = await db.get(User, user_id)
    if session_user is None or not session_user.is_active:
        return None
    return await principal_for(db, session_user, via="session")
