"""Interviewer dashboard pages: current interviews and take-home tests."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
