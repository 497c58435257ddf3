"""Everything the report shows, in one dictionary for the API and the page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import AnalysisReport, GradingRun, Interview, Organization
from prequel.interviews.grading import staff_results
from prequel.interviews.timeline import interview_timeline
from prequel.recording.replay import timeline as recording_timeline
from prequel.reports.facts import recording_facts
from prequel.reports.scorecards import scorecard_view, scorecards_of
from prequel.reports.scores import Span, build_scores
from prequel.reports.settings import RATINGS, RECOMMENDATIONS, report_settings

MOMENT_TYPES = ("tests.summary", "paste", "presence.focus", "chat.message")
MAX_MOMENTS = 40


async def _span(db: AsyncSession, interview: Interview) -> Span:
    entries = await interview_timeline(db, interview)
    active = next((entry.at for entry in entries if entry.status == "active"), None)
    ended = next(
        (entry.at for entry in entries if entry.status in ("destroying", "destroyed")), None
    )
    return Span(active, ended, interview.duration_minutes)


def _analysis_view(report: AnalysisReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "tool": report.tool,
        "status": report.status,
        "files_checked": report.files_checked,
        "findings": report.findings,
        "detail": report.detail,
    }


async def build_report(db: AsyncSession, interview: Interview, org: Organization) -> dict[str, Any]:
    settings = report_settings(org)
    runs = {
        run.suite: run
        for run in await db.scalars(
            select(GradingRun).where(GradingRun.interview_id == interview.id)
        )
    }
    analysis = await db.get(AnalysisReport, interview.id)
    facts = await recording_facts(db, interview.id)
    recording = await recording_timeline(db, interview.id)
    moments = [{"seq": m.seq, "ts": m.ts, "label": m.label} for m in facts.moments] + [
        {"seq": m["seq"], "ts": m["ts"], "label": m["label"]}
        for m in recording["markers"]
        if m["type"] in MOMENT_TYPES
    ]
    moments.sort(key=lambda moment: moment["seq"])
    criteria = settings.criteria
    return {
        "interview_id": interview.id,
        "scores": build_scores(await _span(db, interview), runs, analysis, facts, settings.weights),
        "tests": await staff_results(db, interview),
        "analysis": _analysis_view(analysis),
        "recording": {
            "events": recording["count"],
            "start_ts": recording["start_ts"],
            "end_ts": recording["end_ts"],
        },
        "moments": moments[:MAX_MOMENTS],
        "more_moments": max(0, len(moments) - MAX_MOMENTS),
        "criteria": [criterion.model_dump() for criterion in criteria],
        "ratings": {str(value): label for value, label in RATINGS.items()},
        "recommendations": RECOMMENDATIONS,
        "scorecards": [
            scorecard_view(card, criteria) for card in await scorecards_of(db, interview.id)
        ],
        "private_notes": interview.private_notes,
    }
