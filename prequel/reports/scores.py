"""The report's figures, each with its value, a readable form and how it was computed, and a
weighted overall score whose weights are shown. Nothing here is a judgement the interviewer
cannot check: every figure comes from the recording, the grading runs or the static analysis."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prequel.db.models import AnalysisReport, GradingRun
from prequel.reports.facts import Moment, RecordingFacts
from prequel.reports.settings import WEIGHT_LABELS

POINTS_PER_FINDING = 10


@dataclass(frozen=True)
class Span:
    """When the workspace was open for work, from the status timeline."""

    active_at: datetime | None
    ended_at: datetime | None
    allowed_minutes: int


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _moment(moment: Moment | None) -> dict[str, Any] | None:
    return None if moment is None else {"seq": moment.seq, "ts": moment.ts, "label": moment.label}


def figure(
    key: str,
    label: str,
    value: float | int | None,
    display: str,
    how: str,
    moment: Moment | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "value": value,
        "display": display,
        "how": how,
        "moment": _moment(moment),
    }


def _tests(key: str, label: str, run: GradingRun | None, hidden: bool) -> dict[str, Any]:
    how = (
        f"The {'hidden' if hidden else 'visible'} tests, run by the portal against the final "
        "files when the interview ended: tests passed ÷ tests run, from the test runner's "
        "structured report (never from what the code prints)."
    )
    if run is None or run.total == 0:
        why = "not run (no tests, or the workspace was gone)" if run is None else "no tests ran"
        return figure(key, label, None, why, how)
    rate = run.passed / run.total
    return figure(
        key, label, round(rate * 100, 1), f"{run.passed} of {run.total} passed ({rate:.0%})", how
    )


def _time_used(span: Span) -> dict[str, Any]:
    how = (
        "From the workspace becoming active to the interview ending (submitted, time up or "
        f"ended by the interviewer), from the status timeline; {span.allowed_minutes} min "
        "were allowed."
    )
    if span.active_at is None or span.ended_at is None:
        return figure("time_used", "Time used", None, "not ended yet", how)
    seconds = max(0.0, (span.ended_at - span.active_at).total_seconds())
    return figure(
        "time_used",
        "Time used",
        round(seconds),
        f"{duration(seconds)} of {span.allowed_minutes} min",
        how,
    )


def _analysis(report: AnalysisReport | None) -> dict[str, Any]:
    if report is None:
        return figure(
            "static_analysis",
            "Static analysis",
            None,
            "not analysed",
            "The final files are analysed when the interview ends.",
        )
    how = (
        f"{report.tool} on the final files, with the same rules for every candidate "
        "(the candidate's own configuration is ignored)."
        if report.status == "ok"
        else (report.detail or "The analysis did not run.")
    )
    if report.status != "ok":
        return figure("static_analysis", "Static analysis", None, report.status, how)
    codes = Counter(str(finding.get("code")) for finding in report.findings or [])
    common = ", ".join(f"{code}: {count}" for code, count in codes.most_common(4))
    count = len(report.findings or [])
    files = report.files_checked
    shown = f"{count} finding{'s' if count != 1 else ''} in {files} file{'s' if files != 1 else ''}"
    return figure(
        "static_analysis",
        "Static analysis",
        count,
        f"{shown}{f' ({common})' if common else ''}",
        how,
    )


def activity_figures(facts: RecordingFacts) -> list[dict[str, Any]]:
    start = facts.first_ts
    first_pass = facts.first_pass
    since_start = (
        duration(first_pass.ts - start) if first_pass is not None and start is not None else None
    )
    return [
        figure(
            "runs",
            "Runs",
            facts.runs,
            str(facts.runs),
            "Times someone pressed Run (run.start events by the candidate or the interviewer).",
        ),
        figure(
            "test_runs",
            "Test runs",
            facts.test_runs,
            str(facts.test_runs),
            "Times someone ran the tests (tests.start events by a person; the portal's runs at "
            "the end are not counted).",
        ),
        figure(
            "time_to_first_pass",
            "Time to first passing test",
            round(first_pass.ts - start) if first_pass and start is not None else None,
            since_start or "no test passed during the session",
            "From the first recorded event (the workspace opening) to the first test reported "
            "passed in a test run someone started.",
            first_pass,
        ),
        figure(
            "paste_volume",
            "Paste volume",
            facts.paste_chars,
            f"{facts.paste_chars} characters in {facts.paste_count} "
            f"paste{'s' if facts.paste_count != 1 else ''}"
            + (f" (largest {facts.largest_paste_chars})" if facts.paste_count else ""),
            "The sizes of the candidate's pastes into the editor, as the IDE reported them.",
            facts.largest_paste,
        ),
        figure(
            "tab_away",
            "Time away from the tab",
            round(facts.away_seconds),
            f"{duration(facts.away_seconds)} over {facts.away_count} "
            f"time{'s' if facts.away_count != 1 else ''}",
            "The candidate's IDE tab lost focus to another tab or window, summed until it "
            "regained focus (or until the recording ends).",
        ),
    ]


def overall(figures: dict[str, dict[str, Any]], weights: dict[str, int]) -> dict[str, Any]:
    """The weighted mean of the parts that have data, each part 0 to 100."""
    parts: list[dict[str, Any]] = []
    hidden, visible, analysis = (
        figures["hidden_tests"],
        figures["visible_tests"],
        figures["static_analysis"],
    )
    values = {
        "hidden_tests": hidden["value"],
        "visible_tests": visible["value"],
        "static_analysis": (
            max(0, 100 - POINTS_PER_FINDING * analysis["value"])
            if analysis["value"] is not None
            else None
        ),
    }
    for key, weight in weights.items():
        value = values.get(key)
        parts.append(
            {
                "key": key,
                "label": WEIGHT_LABELS[key],
                "weight": weight,
                "value": value,
                "used": value is not None and weight > 0,
            }
        )
    used = [part for part in parts if part["used"]]
    total_weight = sum(part["weight"] for part in used)
    score = (
        round(sum(part["weight"] * part["value"] for part in used) / total_weight, 1)
        if total_weight
        else None
    )
    how = (
        "The weighted mean of the parts with data: tests as the percentage passed, static "
        f"analysis as 100 minus {POINTS_PER_FINDING} per finding (not below 0). Parts without "
        "data are left out and the weights of the others rescaled. Admins set the weights in "
        "Settings → Reports."
    )
    return {"score": score, "parts": parts, "how": how}


def build_scores(
    span: Span,
    runs: dict[str, GradingRun],
    analysis: AnalysisReport | None,
    facts: RecordingFacts,
    weights: dict[str, int],
) -> dict[str, Any]:
    figures = [
        _tests("visible_tests", "Visible tests", runs.get("visible"), hidden=False),
        _tests("hidden_tests", "Hidden tests", runs.get("hidden"), hidden=True),
        _time_used(span),
        *activity_figures(facts),
        _analysis(analysis),
    ]
    by_key = {item["key"]: item for item in figures}
    return {"figures": figures, "overall": overall(by_key, weights)}
