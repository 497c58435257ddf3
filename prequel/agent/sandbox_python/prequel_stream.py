"""pytest plugin loaded inside the sandbox: one JSON line per finished test, as it finishes.

JUnit XML arrives only when the whole session ends; this file lets the agent stream each
result live. It runs under the sandbox's own Python and pytest, so it imports nothing from
Prequel. The agent loads it with PYTEST_ADDOPTS="-p prequel_stream" and PYTHONPATH, and reads
the lines from the file named by PREQUEL_STREAM_REPORT (outside the candidate's workspace).
"""

from __future__ import annotations

import json
import os
from typing import Any

_MAX_MESSAGE = 2000
_reported: set[str] = set()


def _name(nodeid: str) -> str:
    # The same name JUnit XML gives a test: dotted module path, classes, then the function.
    path, _, rest = nodeid.partition("::")
    module = (path[:-3] if path.endswith(".py") else path).replace("/", ".")
    return ".".join([module, *rest.split("::")]) if rest else module


def _emit(record: dict[str, Any]) -> None:
    target = os.environ.get("PREQUEL_STREAM_REPORT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def _message(report: Any) -> str | None:
    text = getattr(report, "longreprtext", "") or ""
    return text[-_MAX_MESSAGE:] or None


def pytest_runtest_logreport(report: Any) -> None:
    outcome: str | None = None
    if report.when == "call":
        outcome = report.outcome  # passed | failed | skipped
    elif report.when == "setup" and report.outcome != "passed":
        outcome = "skipped" if report.outcome == "skipped" else "failed"
    elif report.when == "teardown" and report.outcome == "failed":
        outcome = "failed"
    if outcome is None:
        return
    name = _name(report.nodeid)
    if name in _reported and outcome != "failed":
        return
    _reported.add(name)
    output = "".join(content for _section, content in getattr(report, "sections", []))
    _emit(
        {
            "name": name,
            "outcome": outcome,
            "duration_seconds": round(float(getattr(report, "duration", 0.0)), 6),
            "message": _message(report) if outcome != "passed" else None,
            "output": output[-_MAX_MESSAGE:] or None,
        }
    )
