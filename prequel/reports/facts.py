"""Facts read from an interview's recording: how the candidate worked, in numbers.

Only what the recording shows is counted, so every figure can be checked on the replay page.
The portal's own test runs at the end (the hidden suite, and the visible one it reruns) are
authored by the portal, not by a person, and are left out of the candidate's counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import RecordingEvent

PEOPLE = ("candidate", "interviewer")
FACT_TYPES = ("run.start", "tests.start", "tests.result", "paste", "presence.focus")
E = RecordingEvent


@dataclass
class Moment:
    seq: int
    ts: float
    label: str


@dataclass
class RecordingFacts:
    events: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    runs: int = 0
    test_runs: int = 0
    first_pass: Moment | None = None
    paste_count: int = 0
    paste_chars: int = 0
    largest_paste: Moment | None = None
    largest_paste_chars: int = 0
    away_seconds: float = 0.0
    away_count: int = 0
    moments: list[Moment] = field(default_factory=list)


async def _span(db: AsyncSession, interview_id: str, facts: RecordingFacts) -> None:
    first, last, count = (
        await db.execute(
            select(func.min(E.ts), func.max(E.ts), func.count()).where(
                E.interview_id == interview_id
            )
        )
    ).one()
    facts.first_ts, facts.last_ts, facts.events = first, last, int(count or 0)


async def recording_facts(db: AsyncSession, interview_id: str) -> RecordingFacts:
    facts = RecordingFacts()
    await _span(db, interview_id, facts)
    rows = await db.execute(
        select(E.seq, E.ts, E.type, E.author_role, E.author_name, E.data)
        .where(E.interview_id == interview_id, E.type.in_(FACT_TYPES))
        .order_by(E.seq)
    )
    by_person = False  # whether the test run in progress was started by a person
    away_since: float | None = None
    for seq, ts, kind, role, name, data in rows:
        data = data or {}
        if kind == "run.start" and role in PEOPLE:
            facts.runs += 1
        elif kind == "tests.start":
            by_person = role in PEOPLE
            if by_person:
                facts.test_runs += 1
                facts.moments.append(Moment(seq, ts, f"{name} ran the tests"))
        elif kind == "tests.result" and by_person and data.get("outcome") == "passed":
            if facts.first_pass is None:
                facts.first_pass = Moment(seq, ts, f"first passing test: {data.get('name')}")
                facts.moments.append(facts.first_pass)
        elif kind == "paste" and role == "candidate":
            found = data.get("size")
            size = found if isinstance(found, int) and not isinstance(found, bool) else 0
            facts.paste_count += 1
            facts.paste_chars += size
            if facts.largest_paste is None or size > facts.largest_paste_chars:
                facts.largest_paste = Moment(seq, ts, f"largest paste: {size} characters")
                facts.largest_paste_chars = size
        elif kind == "presence.focus" and role == "candidate":
            if data.get("state") == "lost" and away_since is None:
                away_since = ts
                facts.away_count += 1
            elif data.get("state") == "regained" and away_since is not None:
                facts.away_seconds += max(0.0, ts - away_since)
                away_since = None
    if away_since is not None and facts.last_ts is not None:
        facts.away_seconds += max(0.0, facts.last_ts - away_since)
    if facts.largest_paste is not None:
        facts.moments.append(facts.largest_paste)
    facts.moments.sort(key=lambda moment: moment.seq)
    return facts
