"""Team members of the caller's organization (admins manage them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from prequel.auth.accounts import AccountError, DuplicateEmail, create_user
from prequel.db.models import Membership, User
from prequel.domain.roles import Role
from prequel.web.deps import AdminPrincipal, DbSession, ViewerPrincipal
from prequel.web.errors import ApiError

router = APIRouter(prefix="/api/users", tags=["users"])


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)
    role: Role = Role.INTERVIEWER


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


@router.get("")
async def list_members(principal: ViewerPrincipal, db: DbSession) -> dict[str, Any]:
    rows = await db.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.org_id == principal.organization.id)
        .order_by(User.created_at)
    )
    return {"users": [member_json(user, role) for user, role in rows.all()]}


@router.post("", status_code=201)
async def add_member(body: UserCreate, principal: AdminPrincipal, db: DbSession) -> dict[str, Any]:
    if body.role is Role.OWNER and principal.role is not Role.OWNER:
        raise ApiError(403, "only an owner can add another owner")
    try:
        user = await create_user(
            db,
            organization=principal.organization,
            email=body.email,
            name=body.name,
            password=body.password,
            role=body.role,
        )
    except DuplicateEmail as exc:
        raise ApiError(409, str(exc), code="duplicate_email") from exc
    except AccountError as exc:
        raise ApiError(422, str(exc)) from exc
    return member_json(user, body.role.value)
