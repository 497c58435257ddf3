"""Team and settings pages.

Both pages render everything on the server; their scripts (static/js/pages/team.js and
settings.js) take over the same rows from the JSON page data and re-render them after each
change made through the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.engine import make_url

from prequel import __version__
from prequel.auth.accounts import Principal
from prequel.db.models import ApiToken, Membership, User
from prequel.db.types import utcnow
from prequel.domain.roles import Role
from prequel.reports.settings import WEIGHT_LABELS, report_settings
from prequel.settings import Settings
from prequel.web.deps import DbSession, StateDep, ViewerPrincipal
from prequel.web.routes.tokens import token_json
from prequel.web.routes.users import member_json

router = APIRouter(include_in_schema=False)

ROLE_DESCRIPTIONS = {
    Role.OWNER: "Everything an admin can do, plus managing owners.",
    Role.ADMIN: "Adds and removes members, changes roles and uploads challenges.",
    Role.INTERVIEWER: "Creates and runs interviews and take-home tests.",
    Role.VIEWER: "Reads interviews, history, challenges and the team.",
}
TOKEN_DAY_CHOICES = (7, 30, 90, 365)


# The same rule as static/js/pages/team.js lockReason(); prequel/auth/membership.py enforces it.
def lock_reason(viewer: Role, member_role: Role, owner_count: int) -> str | None:
    """Why the viewer cannot change this member from the page, or None if they can."""
    if member_role is Role.OWNER and viewer is not Role.OWNER:
        return "Only an owner can change or remove an owner."
    if member_role is Role.OWNER and owner_count <= 1:
        return "The only owner. Make someone else owner first."
    return None


def assignable_roles(viewer: Role) -> list[Role]:
    """Roles the viewer may give: admins give any role below owner."""
    return [role for role in Role if viewer is Role.OWNER or role is not Role.OWNER]


@dataclass(frozen=True)
class MemberRow:
    user: User
    role: Role
    lock: str | None
    is_self: bool


@router.get("/team")
async def team_page(
    request: Request, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    rows = (
        await db.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == principal.organization.id)
            .order_by(User.created_at)
        )
    ).all()
    owner_count = sum(1 for _user, role in rows if role == Role.OWNER.value)
    can_manage = principal.role.at_least(Role.ADMIN)
    members = [
        MemberRow(
            user=user,
            role=Role(role),
            lock=lock_reason(principal.role, Role(role), owner_count),
            is_self=user.id == principal.user.id,
        )
        for user, role in rows
    ]
    page_data = {
        "viewer": {"id": principal.user.id, "role": principal.role.value},
        "can_manage": can_manage,
        "roles": [role.value for role in assignable_roles(principal.role)],
        "members": [member_json(user, role) for user, role in rows],
    }
    return state.templates.TemplateResponse(
        request,
        "team/team.html",
        {
            "organization": principal.organization,
            "members": members,
            "can_manage": can_manage,
            "assignable_roles": assignable_roles(principal.role),
            "role_descriptions": ROLE_DESCRIPTIONS,
            "page_data": jsonable_encoder(page_data),
        },
    )


def server_facts(settings: Settings) -> dict[str, str]:
    """What an admin wants to know about this server; never a secret or a database URL."""
    database = make_url(settings.database_url).get_backend_name()
    return {
        "Version": __version__,
        "Public URL": settings.public_url,
        "Environment": settings.env,
        "Database": {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(database, database),
        "Blob storage": settings.storage.backend,
        "Event bus": settings.events.backend,
        "Workspaces": settings.workspaces.backend,
        "Worker": "inside this server" if settings.worker.embedded else "separate processes",
        "Sandbox": "unsafe: rlimits only, no bubblewrap"
        if settings.unsafe_sandbox
        else "bubblewrap",
    }


def _token_days(settings: Settings) -> tuple[list[int], int]:
    default = settings.auth.token_default_days
    return sorted({*TOKEN_DAY_CHOICES, default}), default


async def _tokens(db: DbSession, principal: Principal) -> list[dict[str, Any]]:
    rows = await db.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == principal.user.id)
        .order_by(ApiToken.created_at.desc())
    )
    now = utcnow()
    return [{**token_json(token), "state": token_state(token, now)} for token in rows]


def token_state(token: ApiToken, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


@router.get("/settings")
async def settings_page(
    request: Request, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    settings = state.settings
    tokens = await _tokens(db, principal)
    day_choices, default_days = _token_days(settings)
    return state.templates.TemplateResponse(
        request,
        "settings/settings.html",
        {
            "user": principal.user,
            "role": principal.role,
            "organization": principal.organization,
            "is_admin": principal.role.at_least(Role.ADMIN),
            "tokens": tokens,
            "token_day_choices": day_choices,
            "token_default_days": default_days,
            "server_facts": server_facts(settings),
            "unsafe_sandbox": settings.unsafe_sandbox,
            "report_settings": report_settings(principal.organization),
            "weight_labels": WEIGHT_LABELS,
            "page_data": jsonable_encoder({"tokens": tokens}),
        },
    )
