"""Storing collected events: once each, whatever retries or restarts deliver twice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Base, RecordingEvent

# Keeps one INSERT under SQLite's limit on bound parameters (8 columns per row).
ROWS_PER_INSERT = 500
NAME_LIMIT, ID_LIMIT, ROLE_LIMIT, TYPE_LIMIT = 200, 64, 20, 32


class BadEvent(ValueError):
    """An agent sent something that is not a recording event."""


def _text(value: object, limit: int, default: str) -> str:
    return str(value)[:limit] if value is not None else default


def event_row(interview_id: str, event: object) -> dict[str, Any]:
    """The row for one event as the agent sends it (`{seq, ts, author, type, data}`)."""
    if not isinstance(event, dict):
        raise BadEvent("an event is not a JSON object")
    seq, ts, kind = event.get("seq"), event.get("ts"), event.get("type")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise BadEvent(f"an event has no valid seq: {seq!r}")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        raise BadEvent(f"event {seq} has no valid ts")
    if not isinstance(kind, str) or not kind:
        raise BadEvent(f"event {seq} has no type")
    found = event.get("author")
    author: dict[str, Any] = found if isinstance(found, dict) else {}
    data = event.get("data")
    return {
        "interview_id": interview_id,
        "seq": seq,
        "ts": float(ts),
        "type": kind[:TYPE_LIMIT],
        "author_id": _text(author.get("id"), ID_LIMIT, "system"),
        "author_name": _text(author.get("name"), NAME_LIMIT, "System"),
        "author_role": _text(author.get("role"), ROLE_LIMIT, "system"),
        "data": data if isinstance(data, dict) else {},
    }


async def insert_ignoring_duplicates(
    db: AsyncSession, model: type[Base], rows: Sequence[dict[str, Any]]
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on the primary key, on SQLite and PostgreSQL."""
    if not rows:
        return
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = list(rows[start : start + ROWS_PER_INSERT])
        await db.execute(insert(model).values(chunk).on_conflict_do_nothing())


def rows_of(interview_id: str, events: Sequence[object]) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows for a batch, and why any event in it was left out."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for event in events:
        try:
            rows.append(event_row(interview_id, event))
        except BadEvent as exc:
            problems.append(str(exc))
    return rows, problems


async def store_rows(db: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert a batch (the caller commits). Returns the highest seq in it, 0 for none."""
    await insert_ignoring_duplicates(db, RecordingEvent, rows)
    return max((int(row["seq"]) for row in rows), default=0)


async def last_stored_seq(db: AsyncSession, interview_id: str) -> int:
    found = await db.scalar(
        select(func.max(RecordingEvent.seq)).where(RecordingEvent.interview_id == interview_id)
    )
    return int(found or 0)
