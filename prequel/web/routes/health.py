"""Liveness and readiness for load balancers and `prequel serve --get /health`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from prequel import __version__
from prequel.web.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(state: StateDep) -> dict[str, Any]:
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {
        "status": "ok",
        "version": __version__,
        "database": state.engine.dialect.name,
        "storage": state.blobs.name,
    }
