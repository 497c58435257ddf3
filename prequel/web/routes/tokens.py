"""API tokens for the current user: create (shown once), list, revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from prequel.auth.accounts import create_api_token
from prequel.db.models import ApiToken
from prequel.db.types import utcnow
from prequel.web.deps import CurrentPrincipal, DbSession, SettingsDep
from prequel.web.errors import ApiError

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    name: str = Field(default="API token", min_length=1, max_length=200)
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Omit for the configured default."
    )


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@router.get("")
async def list_tokens(principal: CurrentPrincipal, db: DbSession) -> dict[str, Any]:
    rows = await db.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == principal.user.id)
        .order_by(ApiToken.created_at.desc())
    )
    return {"tokens": [token_json(t) for t in rows]}


@router.post("", status_code=201)
async def create_token(
    body: TokenCreate, principal: CurrentPrincipal, db: DbSession, settings: SettingsDep
) -> dict[str, Any]:
    """The token appears in this response only; Prequel keeps just its SHA-256."""
    days = body.expires_in_days or settings.auth.token_default_days
    token, plaintext = await create_api_token(
        db, principal.user, name=body.name, expires_in=timedelta(days=days)
    )
    return {**token_json(token), "token": plaintext}


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: str, principal: CurrentPrincipal, db: DbSession) -> Response:
    token = await db.get(ApiToken, token_id)
    if token is None or token.user_id != principal.user.id:
        raise ApiError(404, f"no API token {token_id} among yours")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return Response(status_code=204)
