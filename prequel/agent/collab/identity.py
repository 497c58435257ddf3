"""Who is on the other end of a collaboration socket, and what that role may do.

The portal proxies the browser's WebSocket to the agent with the **portal token** and says
who the person is in three headers. They are believed only on portal-token connections:

- `X-Prequel-Role`: `candidate`, `interviewer` or `spectator` (absent: `candidate`);
- `X-Prequel-User-Id`: a stable id (at most 128 printable ASCII characters);
- `X-Prequel-User-Name`: the display name, percent-encoded UTF-8 (headers are Latin-1).

A connection with the workspace token is always the candidate, whatever headers it sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from starlette.requests import HTTPConnection

from prequel.agent.auth import caller_role
from prequel.agent.errors import AgentError

Role = Literal["candidate", "interviewer", "spectator"]
ROLES: tuple[Role, ...] = ("candidate", "interviewer", "spectator")

ROLE_HEADER = "x-prequel-role"
USER_ID_HEADER = "x-prequel-user-id"
USER_NAME_HEADER = "x-prequel-user-name"
MAX_USER_ID_CHARS = 128
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class Identity:
    role: Role
    user_id: str
    name: str
    # True when the portal vouched for the headers (portal token).
    via_portal: bool

    @property
    def staff(self) -> bool:
        """Interviewers and spectators: may see private notes."""
        return self.role in ("interviewer", "spectator")

    def as_dict(self) -> dict[str, str]:
        return {"id": self.user_id, "name": self.name, "role": self.role}


CANDIDATE = Identity(role="candidate", user_id="candidate", name="Candidate", via_portal=False)


def identity_of(conn: HTTPConnection) -> Identity:
    """The caller's identity; raises AgentError 400 for malformed portal headers."""
    if caller_role(conn) != "portal":
        return CANDIDATE
    headers = conn.headers
    raw_role = headers.get(ROLE_HEADER, "candidate").strip().lower()
    if raw_role not in ROLES:
        raise AgentError(
            400,
            "invalid_role",
            f"{ROLE_HEADER} must be one of {', '.join(ROLES)}, not {raw_role!r}",
        )
    role: Role = raw_role
    user_id = headers.get(USER_ID_HEADER, "").strip() or role
    if len(user_id) > MAX_USER_ID_CHARS or not user_id.isascii() or not user_id.isprintable():
        raise AgentError(
            400, "invalid_user", f"{USER_ID_HEADER} must be printable ASCII, at most 128 characters"
        )
    name = unquote(headers.get(USER_NAME_HEADER, ""), errors="replace").strip()
    name = "".join(ch for ch in name if ch.isprintable())[:MAX_NAME_CHARS] or role.title()
    return Identity(role=role, user_id=user_id, name=name, via_portal=True)
