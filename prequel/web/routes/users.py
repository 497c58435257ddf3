"""Team members of the caller's organization: list, add, change role, remove.

The rules live in prequel/auth/membership.py; this module maps them onto HTTP.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from prequel.auth import membership
from prequel.auth.accounts import DuplicateEmail
from prequel.db.models import Membership, User
from prequel.domain.roles import Role
from prequel.web.deps import AdminPrincipal, DbSession, ViewerPrincipal
from prequel.web.errors import ApiError

router = APIRouter(prefix="/api/users", tags=["users"])


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "example": {"error": {"code": "forbidden", "message": "why, in words"}}
            }
        },
    }


MEMBER_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _error("You may not do this: managing members needs admin; owners need an owner."),
    404: _error("No such member in your organization."),
    409: _error(
        "Code `last_owner`: this is the organization's last owner; make someone else owner first."
    ),
}


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = Role.INTERVIEWER


class RoleChange(BaseModel):
    role: Role = Field(description="The member's new role in your organization.")


def member_json(user: User, role: str) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": role,
        "is_active": user.is_active,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    }


def _api_error(exc: membership.MembershipError) -> ApiError:
    message = str(exc)
    if isinstance(exc, membership.MemberNotFound):
        return ApiError(404, message)
    if isinstance(exc, membership.NotAllowed):
        return ApiError(403, message)
    if isinstance(exc, membership.LastOwner):
        return ApiError(409, message, code="last_owner")
    if isinstance(exc, membership.MemberInputInvalid):
        return ApiError(422, message, details=[{"field": exc.field, "message": message}])
    return ApiError(400, message)


@router.get("")
async def list_members(principal: ViewerPrincipal, db: DbSession) -> dict[str, Any]:
    """Every member of your organization, oldest first, with their role."""
    rows = await db.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == principal.organization.id)
        .order_by(User.created_at)
    )
    return {"users": [member_json(user, role) for user, role in rows.all()]}


@router.post("", status_code=201, responses=MEMBER_ERRORS)
async def add_member(body: UserCreate, principal: AdminPrincipal, db: DbSession) -> dict[str, Any]:
    """Add a member with an initial password. Only an owner adds owners. An email that
    belonged to a removed member (now in no organization) is reactivated."""
    try:
        user = await membership.add_member(
            db,
            organization=principal.organization,
            actor_role=principal.role,
            email=body.email,
            name=body.name,
            password=body.password,
            role=body.role,
        )
    except DuplicateEmail as exc:
        message = str(exc)
        raise ApiError(
            409, message, code="duplicate_email", details=[{"field": "email", "message": message}]
        ) from exc
    except membership.MembershipError as exc:
        raise _api_error(exc) from exc
    return member_json(user, body.role.value)


@router.patch("/{user_id}", responses=MEMBER_ERRORS)
async def change_member_role(
    user_id: str, body: RoleChange, principal: AdminPrincipal, db: DbSession
) -> dict[str, Any]:
    """Change a member's role. Only an owner makes someone an owner or changes an owner's
    role; the last owner cannot be demoted (409 `last_owner`)."""
    try:
        changed = await membership.change_role(
            db,
            org_id=principal.organization.id,
            actor_id=principal.user.id,
            user_id=user_id,
            role=body.role,
        )
    except membership.MembershipError as exc:
        raise _api_error(exc) from exc
    user = await db.get(User, changed.user_id)
    assert user is not None  # the membership's foreign key holds it
    return member_json(user, changed.role)


@router.delete("/{user_id}", responses=MEMBER_ERRORS)
async def remove_member(user_id: str, principal: AdminPrincipal, db: DbSession) -> dict[str, Any]:
    """Remove a member from your organization. Someone left in no organization is
    deactivated and their API tokens revoked, so their sessions and tokens stop working;
    their interviews and history stay. The last owner cannot be removed (409 `last_owner`)."""
    try:
        removal = await membership.remove_member(
            db, org_id=principal.organization.id, actor_id=principal.user.id, user_id=user_id
        )
    except membership.MembershipError as exc:
        raise _api_error(exc) from exc
    return {"id": removal.user.id, "removed": True, "deactivated": removal.deactivated}
