"""History pages: ended interviews, one interview's detail, the saved work's files."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
