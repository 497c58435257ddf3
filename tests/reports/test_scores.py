"""Figures from recorded facts, each with how it was computed, and the weighted overall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import AnalysisReport, GradingRun, Interview, Organization
from prequel.recording.store import rows_of, store_rows
from prequel.reports.facts import recording_facts
from prequel.reports.scores import Span, build_scores, duration
from prequel.reports.settings import DEFAULT_WEIGHTS
from tests.recording.scripted import CANDIDATE, INTERVIEWER, SYSTEM, ScriptedSession
from tests.support.factories import make_challenge, make_interview


@pytest.fixture
async def interview(db: AsyncSession, org: Organization) -> Interview:
    challenge = await make_challenge(db, org)
    found = await make_interview(db, org, challenge, status="destroyed")
    await db.commit()
    return found


def session() -> ScriptedSession:
    s = ScriptedSession()  # events every 0.5 s
    s.create("main.py", "")  # seq 1
    s.add(CANDIDATE, "run.start", {"run_id": "r1"})
    s.add(INTERVIEWER, "run.start", {"run_id": "r2"})
    s.add(SYSTEM, "run.start", {"run_id": "r3"})  # the portal's, not a person's
    s.add(CANDIDATE, "tests.start", {"which": "visible"})
    s.add(SYSTEM, "tests.result", {"name": "t1", "outcome": "failed"})
    s.add(CANDIDATE, "paste", {"path": "main.py", "size": 120, "source": "clipboard"})
    s.add(CANDIDATE, "presence.focus", {"state": "lost"})  # seq 8
    s.add(CANDIDATE, "presence.focus", {"state": "regained"})  # seq 9
    s.add(CANDIDATE, "paste", {"path": "main.py", "size": 30, "source": "unknown"})
    s.add(CANDIDATE, "tests.start", {"which": "visible"})
    s.add(
        SYSTEM, "tests.result", {"name": "t1", "outcome": "passed"}
    )  # seq 12, 5.5 s after the first event
    s.add(SYSTEM, "tests.start", {"which": "hidden"})  # the end's hidden run
    s.add(SYSTEM, "tests.result", {"name": "h1", "outcome": "passed"})
    s.add(CANDIDATE, "presence.focus", {"state": "lost"})  # seq 15, never regained
    s.add(SYSTEM, "terminal.output", {"data": "bye"})  # seq 16: the end
    return s


async def test_facts_count_people_not_the_portal(db: AsyncSession, interview: Interview) -> None:
    s = session()
    rows, _ = rows_of(interview.id, s.events)
    await store_rows(db, rows)
    await db.commit()
    facts = await recording_facts(db, interview.id)
    assert (facts.runs, facts.test_runs) == (2, 2)
    assert (facts.paste_count, facts.paste_chars, facts.largest_paste_chars) == (2, 150, 120)
    assert facts.first_pass is not None and facts.first_pass.seq == 12
    assert facts.away_count == 2
    assert facts.away_seconds == pytest.approx(0.5 + 0.5)  # 8 to 9, then 15 to the end

    span = Span(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 42, tzinfo=UTC), 60)
    runs = {
        "visible": GradingRun(suite="visible", status="passed", total=4, passed=4),
        "hidden": GradingRun(suite="hidden", status="failed", total=5, passed=4),
    }
    analysis = AnalysisReport(
        tool="ruff",
        status="ok",
        files_checked=2,
        findings=[{"code": "F401"}, {"code": "F401"}, {"code": "E711"}],
    )
    scores = build_scores(span, runs, analysis, facts, dict(DEFAULT_WEIGHTS))
    figures = {item["key"]: item for item in scores["figures"]}
    assert figures["visible_tests"]["value"] == 100.0
    assert figures["hidden_tests"]["display"] == "4 of 5 passed (80%)"
    assert figures["time_used"]["display"] == "42 min of 60 min"
    assert figures["time_to_first_pass"]["value"] == 6  # 5.5 s, rounded to even
    assert figures["time_to_first_pass"]["moment"]["seq"] == 12
    assert figures["paste_volume"]["display"] == "150 characters in 2 pastes (largest 120)"
    assert figures["static_analysis"]["display"] == "3 findings in 2 files (F401: 2, E711: 1)"
    assert all(item["how"] for item in scores["figures"])
    # 50 % hidden (80) + 30 % visible (100) + 20 % analysis (100 - 3 x 10 = 70)
    assert scores["overall"]["score"] == pytest.approx(0.5 * 80 + 0.3 * 100 + 0.2 * 70)


async def test_parts_without_data_are_left_out(db: AsyncSession, interview: Interview) -> None:
    facts = await recording_facts(db, interview.id)
    assert facts.events == 0 and facts.first_pass is None
    span = Span(None, None, 60)
    runs = {"visible": GradingRun(suite="visible", status="failed", total=4, passed=1)}
    scores = build_scores(
        span, runs, None, facts, {"hidden_tests": 50, "visible_tests": 30, "static_analysis": 20}
    )
    parts = {part["key"]: part for part in scores["overall"]["parts"]}
    assert not parts["hidden_tests"]["used"] and not parts["static_analysis"]["used"]
    assert scores["overall"]["score"] == 25.0  # only the visible tests count
    figures = {item["key"]: item for item in scores["figures"]}
    assert figures["time_used"]["value"] is None
    assert figures["time_to_first_pass"]["display"] == "no test passed during the session"
    nothing = build_scores(span, {}, None, facts, dict(DEFAULT_WEIGHTS))
    assert nothing["overall"]["score"] is None


def test_durations_read_like_a_person_wrote_them() -> None:
    assert duration(42) == "42 s"
    assert duration(60) == "1 min"
    assert duration(125) == "2 min 05 s"
    assert duration(timedelta(hours=1, minutes=3).total_seconds()) == "1 h 03 min"
