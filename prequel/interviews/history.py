"""The History list: ended interviews and take-homes, filtered, a page at a time.

History holds interviews whose status is `destroyed`, whatever the reason (time up, ended,
revoked, expired, or failed: a failed interview is destroyed with reason `failed` once its
workspace is cleaned up). An interview in `error` is still being retried and stays on the
Interviews tab until then.

The filters come from a plain GET form, so they arrive as strings. Dates are calendar days
in the viewer's time zone (the page sends it as `tz`); they become UTC instants here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview
from prequel.domain.interviews import EndReason, InterviewKind, InterviewStatus
from prequel.interviews import listing
from prequel.interviews.errors import InvalidInput

PAGE_SIZE = 50
KIND_LABELS = {
    InterviewKind.LIVE.value: "Live interview",
    InterviewKind.TAKE_HOME.value: "Take-home",
}


@dataclass(frozen=True)
class HistoryFilters:
    q: str = ""
    kind: str = ""
    end_reason: str = ""
    ended_from: str = ""
    ended_to: str = ""
    tz: str = "UTC"

    @property
    def active(self) -> bool:
        return any((self.q, self.kind, self.end_reason, self.ended_from, self.ended_to))

    def query_params(self) -> dict[str, str]:
        """The filters as query parameters (for the pagination links), empty ones left out."""
        values = {
            "q": self.q,
            "kind": self.kind,
            "end_reason": self.end_reason,
            "ended_from": self.ended_from,
            "ended_to": self.ended_to,
        }
        params = {name: value for name, value in values.items() if value}
        if params and self.tz != "UTC":
            params["tz"] = self.tz
        return params


def viewer_zone(name: str) -> tzinfo:
    """The viewer's IANA time zone; UTC when it is missing or not a zone name."""
    if not name or len(name) > 64:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value[:40]!r} is not a date like 2030-01-31", field=field) from None


def ended_range(filters: HistoryFilters) -> tuple[datetime | None, datetime | None]:
    """[start of ended_from, start of the day after ended_to) in the viewer's zone, as UTC."""
    zone = viewer_zone(filters.tz)
    first = _day(filters.ended_from, "ended_from")
    last = _day(filters.ended_to, "ended_to")
    after = datetime.combine(first, time(), zone).astimezone(UTC) if first else None
    before = (
        datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC) if last else None
    )
    if after and before and after >= before:
        raise InvalidInput(
            "the 'Ended from' day must not be after the 'Ended to' day", field="ended_to"
        )
    return after, before


def _kind(value: str) -> InterviewKind | None:
    if not value:
        return None
    try:
        return InterviewKind(value)
    except ValueError:
        raise InvalidInput(
            f"unknown kind {value[:40]!r}; use live or take_home", field="kind"
        ) from None


def _reasons(value: str) -> list[EndReason]:
    return listing.parse_end_reasons([value]) if value else []


async def history_page(
    db: AsyncSession, org_id: str, filters: HistoryFilters, cursor: str | None
) -> listing.Page:
    """One page of ended interviews, newest first. InvalidInput names the bad filter."""
    if len(filters.q) > listing.MAX_QUERY:
        raise InvalidInput(f"search at most {listing.MAX_QUERY} characters", field="q")
    after, before = ended_range(filters)
    return await listing.list_interviews(
        db,
        org_id,
        kind=_kind(filters.kind),
        statuses=[InterviewStatus.DESTROYED],
        q=filters.q or None,
        cursor=cursor or None,
        limit=PAGE_SIZE,
        end_reasons=_reasons(filters.end_reason),
        ended_after=after,
        ended_before=before,
    )


# Rows -------------------------------------------------------------------------------------


def format_minutes(minutes: int) -> str:
    """45 -> "45 min", 60 -> "1 h", 135 -> "2 h 15 min"."""
    hours, rest = divmod(max(0, minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@dataclass(frozen=True)
class HistoryRow:
    interview: Interview

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.interview.kind, self.interview.kind)

    @property
    def ended_at(self) -> datetime | None:
        return self.interview.destroyed_at or self.interview.completed_at

    @property
    def actual_minutes(self) -> int | None:
        """Minutes from the workspace being ready to the end; None if it never started."""
        started, ended = self.interview.started_at, self.ended_at
        if started is None or ended is None:
            return None
        return max(0, round((ended - started).total_seconds() / 60))

    @property
    def planned(self) -> str:
        return format_minutes(self.interview.duration_minutes)

    @property
    def actual(self) -> str | None:
        minutes = self.actual_minutes
        return format_minutes(minutes) if minutes is not None else None
