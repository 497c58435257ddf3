"""The IDE page's configuration: what `/w/{id}/` hands the browser bundle while the workspace
is active (frontend/src/ide/config.ts reads it).

Only what this caller may know goes in: the submit button's URL for the take-home candidate,
the mode switch for interviewers. Everything the bundle then does goes through the portal's
proxy, which checks the caller again on every request (prequel.web.workspace_access).
"""

from __future__ import annotations

import hashlib
from typing import Any

from prequel.db.models import Challenge, Interview
from prequel.db.types import utcnow
from prequel.domain.interviews import InterviewKind
from prequel.web.workspace_access import WorkspaceCaller

# Cursor and presence colors: distinct, readable on white, and on the dark terminal too.
PALETTE = (
    "#2563eb",
    "#db2777",
    "#059669",
    "#d97706",
    "#7c3aed",
    "#dc2626",
    "#0891b2",
    "#65a30d",
)


def user_color(user_id: str) -> str:
    """The same person gets the same color in every session."""
    digest = hashlib.sha256(user_id.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def ide_config(
    interview: Interview,
    challenge: Challenge | None,
    caller: WorkspaceCaller,
    *,
    spectate: bool,
) -> dict[str, Any]:
    take_home = interview.kind == InterviewKind.TAKE_HOME.value
    title = challenge.title if challenge is not None else "Workspace"
    staff_home = "/take-homes" if take_home else "/interviews"
    return {
        "interviewId": interview.id,
        "user": {"name": caller.name, "color": user_color(caller.user_id)},
        "agentBase": f"/w/{interview.id}/agent",
        "role": caller.role,
        "spectate": spectate and caller.role == "spectator",
        "kind": interview.kind,
        "title": title,
        # Staff see whose session it is; the candidate knows.
        "candidateName": interview.candidate_name if caller.staff else None,
        "deadline": interview.auto_destroy_at.isoformat() if interview.auto_destroy_at else None,
        "serverNow": utcnow().isoformat(),
        "eventsUrl": f"/api/interviews/{interview.id}/workspace-events",
        "submitUrl": (
            f"/api/interviews/{interview.id}/submit"
            if take_home and caller.role == "candidate"
            else None
        ),
        "modeUrl": (
            f"/api/interviews/{interview.id}/collab-mode" if caller.role == "interviewer" else None
        ),
        "backUrl": staff_home if caller.staff else None,
    }
