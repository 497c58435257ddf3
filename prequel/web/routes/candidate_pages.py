"""Candidate pages: the take-home link, the live join page and the workspace page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
