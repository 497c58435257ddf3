"""Who is on the other end of a collaboration socket, and what that role may do.

The portal proxies the browser's WebSocket to the agent with the **portal token** and says
who the person is in three headers. They are believed only on portal-token connections:

- `X-Prequel-Role`: `candidate`, `interviewer` or `spectator` (absent: `candidate`);
- `X-Prequel-User-Id`: a stable id (at most 128 printable ASCII characters);
- `X-Prequel-User-Name`: the display name, percent-encoded UTF-8 (headers are Latin-1).

A connection with the workspace token is always the candidate, whatever headers it sends.

`write_refusal` applies the same roles to the file API and the terminal: spectators never
change the workspace, and the candidate does not while the interviewer observes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from starlette.requests import HTTPConnection

from prequel.agent.auth import caller_role
from prequel.agent.collab.settings import CollabSettings
from prequel.agent.errors import AgentError
from prequel.agent.state import agent_state

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


OBSERVE_ONLY_MESSAGE = (
    "the interviewer is observing: the workspace is read-only for you until they hand the pen back"
)
SPECTATOR_MESSAGE = "spectators watch only; they cannot change the workspace"
STORED_MODE_KEY = "stored_collab_mode"


def current_mode(conn: HTTPConnection) -> str:
    """`edit` or `observe`: the running collaboration service's mode, else the stored one.

    Only the service changes the mode (POST /collab/mode starts it), so while it is not
    running the stored file cannot change and is read once.
    """
    state: Any = conn.app.state
    service = getattr(state, "collab", None)
    if service is not None:
        mode: str = service.mode
        return mode
    stored: str | None = getattr(state, STORED_MODE_KEY, None)
    if stored is None:
        stored = _read_stored_mode(conn)
        setattr(state, STORED_MODE_KEY, stored)
    return stored


def _read_stored_mode(conn: HTTPConnection) -> str:
    try:
        settings = CollabSettings.from_env(agent_state(conn).config.workspace)
        stored = json.loads((settings.state_dir / "mode.json").read_text("utf-8"))
    except (OSError, ValueError):
        return "edit"
    return "observe" if isinstance(stored, dict) and stored.get("mode") == "observe" else "edit"


def write_refusal(conn: HTTPConnection) -> AgentError | None:
    """Why this caller may not change the workspace now (403), or None when it may."""
    identity = identity_of(conn)
    if identity.role == "spectator":
        return AgentError(403, "read_only", SPECTATOR_MESSAGE)
    if identity.role == "candidate" and current_mode(conn) == "observe":
        return AgentError(403, "observe_only", OBSERVE_ONLY_MESSAGE)
    return None
