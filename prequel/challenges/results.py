"""Structural parsers for test reports: JUnit XML and TAP (13/14, node's test runner).

Results come only from the report's structure, never from text that merely looks like a
result. In a JUnit report, whatever a test prints lands in <system-out> and is ignored. In TAP,
only test points at the structural level count: a line must sit at an indentation that is a
multiple of four, outside a YAML diagnostic block, and nested test points only count when
their parent test point closes them. Every level's plan ("1..N") must match the number of
test points at that level, or an "error" result says so.

Residual risk with TAP on stdout: a program that writes a well-formed TAP line straight to
the runner's stdout, at column 0 and between two real test points, still adds a test point.
The plan check catches that when the runner prints its plan last (node does): the count no
longer matches and an "error" result is added. node's runner (v20+) also runs each file in a
child process and turns the child's stray output into "# ..." comments, and tests.command may
send TAP to {report} instead of stdout (the sample JavaScript challenge does). The hidden-test
runner inside the sandbox (a later issue) reads results only from a report file or a
dedicated fd, never from the candidate's stdout.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Literal

Outcome = Literal["passed", "failed", "skipped", "error"]

MAX_MESSAGE_CHARS = 2000
MAX_REPORT_CHARS = 20 * 1024 * 1024


class ReportError(ValueError):
    """The report cannot be parsed at all; the message says why."""


@dataclass(frozen=True)
class TestResult:
    __test__ = False  # not a pytest test class, whatever its name

    name: str
    outcome: Outcome
    duration_seconds: float | None = None
    message: str | None = None


def truncate(text: str | None, limit: int = MAX_MESSAGE_CHARS) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    if len(text) <= limit:
        return text
    return text[: limit - 15].rstrip() + " … (truncated)"


# JUnit ----------------------------------------------------------------------------------


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.replace(",", ""))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def parse_junit(xml_text: str) -> list[TestResult]:
    """Every <testcase> in the report, in document order.

    A testcase with <failure> or <error> failed, one with <skipped> was skipped, any other
    passed. The name is "classname.name" (just "name" when classname is empty).
    """
    if len(xml_text) > MAX_REPORT_CHARS:
        raise ReportError(f"the JUnit report is larger than {MAX_REPORT_CHARS} characters")
    try:
        # The report is produced by a test run, not fetched from elsewhere; Python's expat
        # neither resolves external entities nor expands nested entity bombs (expat >= 2.4).
        root = ET.fromstring(xml_text)  # noqa: S314
    except ET.ParseError as exc:
        raise ReportError(f"the JUnit report is not valid XML: {exc}") from exc
    results: list[TestResult] = []
    for case in root.iter("testcase"):
        classname = (case.get("classname") or "").strip()
        name = (case.get("name") or "").strip() or "(unnamed test)"
        full_name = f"{classname}.{name}" if classname else name
        duration = _seconds(case.get("time"))
        outcome: Outcome = "passed"
        message: str | None = None
        for tag in ("failure", "error", "skipped"):
            element = case.find(tag)
            if element is None:
                continue
            outcome = "skipped" if tag == "skipped" else "failed"
            message = element.get("message") or element.text
            if tag != "skipped" and element.text and element.get("message"):
                message = f"{element.get('message')}\n{element.text}"
            break
        results.append(TestResult(full_name, outcome, duration, truncate(message)))
    return results


# TAP ------------------------------------------------------------------------------------

_TEST_POINT = re.compile(r"^(?P<ok>ok|not ok)\b[ \t]*(?P<number>\d+)?[ \t]*(?P<rest>.*)$")
_DIRECTIVE = re.compile(r"(?<!\\)#[ \t]*(?P<kind>skip|todo)\S*(?:[ \t]+(?P<reason>.*))?$", re.I)
_PLAN = re.compile(r"^1\.\.(?P<count>\d+)\b")
_BAIL_OUT = re.compile(r"^Bail out!(?P<reason>.*)$")
_YAML_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*):[ \t]*(?P<value>.*)$")
_BLOCK_SCALAR = frozenset({"|", "|-", "|+", ">", ">-", ">+"})


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@dataclass
class _Point:
    depth: int
    name: str
    ok: bool
    directive: str | None
    reason: str | None
    children: list[TestResult]
    duration: float | None = None
    message: str | None = None


def _split_description(rest: str) -> tuple[str, str | None, str | None]:
    directive = None
    reason = None
    match = _DIRECTIVE.search(rest)
    if match:
        directive = match.group("kind").lower()
        reason = (match.group("reason") or "").strip() or None
        rest = rest[: match.start()]
    rest = rest.strip()
    if rest.startswith("- "):
        rest = rest[2:]
    elif rest == "-":
        rest = ""
    name = rest.strip().replace("\\#", "#").replace("\\\\", "\\")
    return name, directive, reason


def _parse_yaml_block(lines: list[str]) -> tuple[float | None, str | None]:
    """The bits of a diagnostic block we use: duration_ms and an error message."""
    fields: dict[str, str] = {}
    base = min((_indent(line) for line in lines if line.strip()), default=0)
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        match = _YAML_KEY.match(line.strip()) if _indent(line) == base else None
        if not match:
            continue
        key, value = match.group("key"), match.group("value").strip()
        if value in _BLOCK_SCALAR:
            block: list[str] = []
            while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > base):
                block.append(lines[index].strip())
                index += 1
            value = "\n".join(block)
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1].replace("''", "'") if value[0] == "'" else value[1:-1]
        fields[key] = value
    duration: float | None = None
    try:
        duration = float(fields["duration_ms"]) / 1000.0
    except (KeyError, ValueError):
        duration = None
    return duration, fields.get("error") or fields.get("message")


def _leaf_results(point: _Point) -> list[TestResult]:
    """A test point's contribution: itself when it is a leaf, else its children prefixed
    with its name (plus an error when it failed though none of its children did)."""
    if not point.children:
        if point.directive in ("skip", "todo"):
            outcome: Outcome = "skipped"  # a TODO test is not expected to pass yet
        else:
            outcome = "passed" if point.ok else "failed"
        message = point.message if outcome == "failed" else point.reason
        return [TestResult(point.name, outcome, point.duration, truncate(message))]
    prefix = f"{point.name} > " if point.name else ""
    results = [replace(child, name=prefix + child.name) for child in point.children]
    failed = any(r.outcome in ("failed", "error") for r in results)
    if not point.ok and point.directive is None and not failed:
        message = point.message or "the suite failed although every test in it passed"
        results.append(TestResult(point.name, "error", point.duration, truncate(message)))
    return results


class _TapParser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.index = 0
        # Results per depth that wait for their parent test point to close them.
        self.pending: dict[int, list[TestResult]] = {}
        self.open: _Point | None = None
        # Test points and plans seen per depth since their parent last closed.
        self.points: dict[int, int] = {}
        self.plans: dict[int, int] = {}

    def close_open_point(self) -> None:
        if self.open is not None:
            self.pending.setdefault(self.open.depth, []).extend(_leaf_results(self.open))
            self.open = None

    def read_yaml_block(self, indent: int) -> list[str]:
        """Lines up to the closing '...'; a less-indented line also ends the block (and is
        read again as TAP), so a stray '---' cannot swallow the rest of the stream."""
        block: list[str] = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if line.strip() and _indent(line) < indent:
                break
            self.index += 1
            if line.strip() == "..." and _indent(line) == indent:
                break
            block.append(line)
        return block

    def plan_problem(self, depth: int, where: str) -> TestResult | None:
        """An error when the test points at depth disagree with that level's plan."""
        points, plan = self.points.pop(depth, 0), self.plans.pop(depth, None)
        if plan is None and (depth > 0 or not points):
            return None  # subtests may omit their plan; an empty stream is just empty
        if plan == points:
            return None
        expected = "no plan line" if plan is None else f"a plan of {plan}"
        return TestResult(
            "TAP plan",
            "error",
            None,
            f"{where} had {points} test points but {expected}; the run was cut short or "
            "its output was tampered with",
        )

    def handle_test_point(self, depth: int, match: re.Match[str]) -> None:
        self.close_open_point()
        name, directive, reason = _split_description(match.group("rest"))
        name = name or f"test {match.group('number') or '?'}"
        children = self.pending.pop(depth + 1, [])
        # Anything deeper than one level below was never closed by its parent: keep it.
        for deeper in sorted(d for d in self.pending if d > depth + 1):
            children.extend(self.pending.pop(deeper))
        for deeper in sorted(d for d in self.points if d > depth):
            if problem := self.plan_problem(deeper, f"the subtests of {name!r}"):
                children.append(problem)
        self.open = _Point(depth, name, match.group("ok") == "ok", directive, reason, children)
        self.points[depth] = self.points.get(depth, 0) + 1

    def run(self) -> list[TestResult]:
        while self.index < len(self.lines):
            raw = self.lines[self.index]
            self.index += 1
            stripped = raw.lstrip(" ")
            indent = _indent(raw)
            if stripped == "---" and self.open is not None and indent == self.open.depth * 4 + 2:
                block = self.read_yaml_block(indent)
                self.open.duration, self.open.message = _parse_yaml_block(block)
                continue
            if indent % 4 != 0:
                continue
            depth = indent // 4
            if match := _TEST_POINT.match(stripped):
                self.handle_test_point(depth, match)
            elif bail := _BAIL_OUT.match(stripped):
                self.close_open_point()
                reason = bail.group("reason").strip() or "the test run bailed out"
                self.pending.setdefault(depth, []).append(
                    TestResult("Bail out!", "error", None, truncate(reason))
                )
            elif plan := _PLAN.match(stripped):
                self.plans[depth] = int(plan.group("count"))
        self.close_open_point()
        complete = 0 in self.plans
        results = self.pending.pop(0, [])
        problem = self.plan_problem(0, "the TAP stream")
        unclosed = [r for depth in sorted(self.pending) for r in self.pending[depth]]
        if unclosed and complete:
            # A finished stream closes every subtest, so these were printed, not reported.
            problem = problem or TestResult(
                "TAP structure",
                "error",
                None,
                f"{len(unclosed)} indented test points were never closed by a parent test "
                "point; the output was tampered with",
            )
        elif unclosed:
            results.extend(unclosed)  # a run cut short: keep what it reported
            problem = problem or TestResult(
                "TAP plan",
                "error",
                None,
                "the TAP stream ended inside a subtest; the run was cut short",
            )
        return [*results, problem] if problem else results


def parse_tap(text: str) -> list[TestResult]:
    """Leaf test results of a TAP 13/14 stream (subtests indented by four spaces).

    Nested tests are named "parent > child". A test-point count that disagrees with its
    level's plan adds an "error" result, so a truncated or tampered stream never looks like
    a clean pass.
    """
    if len(text) > MAX_REPORT_CHARS:
        raise ReportError(f"the TAP output is larger than {MAX_REPORT_CHARS} characters")
    return _TapParser([line.rstrip("\r") for line in text.splitlines()]).run()
