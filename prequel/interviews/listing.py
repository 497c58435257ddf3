"""The staff list of interviews: filters, text search and keyset pagination.

Pages are cut by (created_at, id), newest first, never by OFFSET: a page costs the same on
row 10,000 as on row 1, and rows created while someone pages through the list neither
repeat nor vanish between pages. The cursor is the last row's key, opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview
from prequel.domain.interviews import EndReason, InterviewKind, InterviewStatus
from prequel.interviews.errors import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY = 200


@dataclass(frozen=True)
class Page:
    items: list[Interview]
    next_cursor: str | None


def encode_cursor(interview: Interview) -> str:
    key = [interview.created_at.astimezone(UTC).isoformat(), interview.id]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    invalid = InvalidInput(
        "cursor is not one this API returned; pass next_cursor from the previous page "
        "unchanged, or leave it out for the first page",
        field="cursor",
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, interview_id = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None or not isinstance(interview_id, str) or len(interview_id) > 64:
            raise ValueError("not a cursor")
        return moment.astimezone(UTC), interview_id
    except (binascii.Error, ValueError, TypeError, OverflowError, RecursionError):
        raise invalid from None


Choice = TypeVar("Choice", bound=StrEnum)


def _parse_choices(
    values: Sequence[str], choices: type[Choice], what: str, field: str
) -> list[Choice]:
    """Repeated (?x=a&x=b) or comma-separated (?x=a,b) values of one enum."""
    parsed: list[Choice] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            try:
                parsed.append(choices(name))
            except ValueError:
                allowed = ", ".join(choice.value for choice in choices)
                raise InvalidInput(
                    f"unknown {what} {part.strip()!r}; use one of {allowed}", field=field
                ) from None
    return parsed


def parse_statuses(values: Sequence[str]) -> list[InterviewStatus]:
    return _parse_choices(values, InterviewStatus, "status", "status")


def parse_end_reasons(values: Sequence[str]) -> list[EndReason]:
    return _parse_choices(values, EndReason, "end reason", "end_reason")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def build_query(
    org_id: str,
    *,
    kind: InterviewKind | None = None,
    statuses: Sequence[InterviewStatus] = (),
    q: str | None = None,
    after: tuple[datetime, str] | None = None,
    end_reasons: Sequence[EndReason] = (),
    ended_after: datetime | None = None,
    ended_before: datetime | None = None,
) -> Select[Interview]:
    query = select(Interview).where(Interview.org_id == org_id)
    if kind is not None:
        query = query.where(Interview.kind == kind.value)
    if statuses:
        query = query.where(Interview.status.in_(sorted({s.value for s in statuses})))
    if end_reasons:
        query = query.where(Interview.end_reason.in_(sorted({r.value for r in end_reasons})))
    if ended_after is not None:
        query = query.where(Interview.destroyed_at >= ended_after)
    if ended_before is not None:
        query = query.where(Interview.destroyed_at < ended_before)
    text = (q or "").strip().lower()
    if text:
        pattern = f"%{_escape_like(text)}%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        Interview.candidate_name,
                        Interview.candidate_email,
                        Interview.challenge_slug,
                    )
                )
            )
        )
    if after is not None:
        created, interview_id = after
        query = query.where(
            or_(
                Interview.created_at < created,
                and_(Interview.created_at == created, Interview.id < interview_id),
            )
        )
    return query.order_by(Interview.created_at.desc(), Interview.id.desc())


async def list_interviews(
    db: AsyncSession,
    org_id: str,
    *,
    kind: InterviewKind | None = None,
    statuses: Sequence[InterviewStatus] = (),
    q: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    end_reasons: Sequence[EndReason] = (),
    ended_after: datetime | None = None,
    ended_before: datetime | None = None,
) -> Page:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}; got {limit}", field="limit")
    if q is not None and len(q) > MAX_QUERY:
        raise InvalidInput(f"q must be at most {MAX_QUERY} characters", field="q")
    after = decode_cursor(cursor) if cursor else None
    if ended_after is not None and ended_before is not None and ended_after >= ended_before:
        raise InvalidInput("ended_after must be before ended_before", field="ended_after")
    query = build_query(
        org_id,
        kind=kind,
        statuses=statuses,
        q=q,
        after=after,
        end_reasons=end_reasons,
        ended_after=ended_after,
        ended_before=ended_before,
    )
    rows = list(await db.scalars(query.limit(limit + 1)))
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(items[-1]) if more and items else None)
