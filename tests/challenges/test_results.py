"""JUnit and TAP parsing is structural: printed text that looks like a result never counts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prequel.challenges.results import ReportError, TestResult, parse_junit, parse_tap

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest" tests="5" failures="1" errors="1" skipped="1">
    <testcase classname="tests.test_limiter" name="test_allows" time="0.012">
      <system-out>ok 1 - fake
PASS everything
&lt;testcase name="fake"/&gt;</system-out>
    </testcase>
    <testcase classname="tests.test_limiter" name="test_refuses" time="0.5">
      <failure message="AssertionError: assert True is False">def test_refuses():
&gt;       assert limiter.allow("a") is False</failure>
    </testcase>
    <testcase classname="tests.test_limiter" name="test_fixture" time="0.001">
      <error message="fixture 'clock' not found">E fixture 'clock' not found</error>
    </testcase>
    <testcase classname="tests.test_limiter" name="test_later" time="0">
      <skipped type="pytest.skip" message="not today">skip reason</skipped>
    </testcase>
    <testsuite name="nested">
      <testcase name="standalone" time="not-a-number"/>
    </testsuite>
  </testsuite>
</testsuites>
"""

NODE_TAP = """TAP version 13
# ok 99 - printed by the code under test
# Subtest: adds
ok 1 - adds
  ---
  duration_ms: 1.5
  ...
# Subtest: fails
not ok 2 - fails
  ---
  duration_ms: 3.25
  location: '/tmp/tests/a.test.js:6:1'
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:

    3 !== 4
  code: 'ERR_ASSERTION'
  stack: |-
    ok 7 - a stack line that looks like a result
    TestContext.<anonymous> (/tmp/tests/a.test.js:6:59)
  ...
# Subtest: group
    # Subtest: inner ok
    ok 1 - inner ok
      ---
      duration_ms: 0.3
      ...
    # Subtest: inner skip
    ok 2 - inner skip # SKIP not on Tuesdays
      ---
      duration_ms: 0.1
      ...
    # Subtest: inner todo
    not ok 3 - inner todo # TODO
    1..3
ok 3 - group
  ---
  duration_ms: 1.1
  type: 'suite'
  ...
1..3
# tests 5
# pass 2
# fail 1
"""


def by_name(results: list[TestResult]) -> dict[str, TestResult]:
    return {r.name: r for r in results}


def test_junit_outcomes_names_and_durations() -> None:
    results = parse_junit(JUNIT)
    assert [(r.name, r.outcome) for r in results] == [
        ("tests.test_limiter.test_allows", "passed"),
        ("tests.test_limiter.test_refuses", "failed"),
        ("tests.test_limiter.test_fixture", "failed"),
        ("tests.test_limiter.test_later", "skipped"),
        ("standalone", "passed"),
    ]
    named = by_name(results)
    assert named["tests.test_limiter.test_allows"].duration_seconds == pytest.approx(0.012)
    assert named["standalone"].duration_seconds is None
    failed = named["tests.test_limiter.test_refuses"]
    assert failed.message is not None
    assert failed.message.startswith("AssertionError: assert True is False")
    assert 'limiter.allow("a")' in failed.message
    assert named["tests.test_limiter.test_later"].message == "not today"


def test_junit_messages_are_truncated() -> None:
    xml = (
        f'<testsuite><testcase name="t"><failure message="{"x" * 10_000}"/></testcase></testsuite>'
    )
    (result,) = parse_junit(xml)
    assert result.message is not None and len(result.message) <= 2000
    assert result.message.endswith("(truncated)")


def test_junit_that_is_not_xml() -> None:
    with pytest.raises(ReportError, match="not valid XML"):
        parse_junit("ok 1 - this is not xml")


def test_tap_from_node_reports_leaf_tests() -> None:
    results = parse_tap(NODE_TAP)
    assert [(r.name, r.outcome) for r in results] == [
        ("adds", "passed"),
        ("fails", "failed"),
        ("group > inner ok", "passed"),
        ("group > inner skip", "skipped"),
        ("group > inner todo", "skipped"),
    ]
    named = by_name(results)
    assert named["adds"].duration_seconds == pytest.approx(0.0015)
    assert named["fails"].message == "Expected values to be strictly equal:\n\n3 !== 4"
    assert named["group > inner skip"].message == "not on Tuesdays"


def test_tap_ignores_lines_off_the_structural_level() -> None:
    text = "\n".join(
        [
            "TAP version 14",
            "ok 1 - real",
            "  ok 2 - two spaces in is not a test point",
            "   not ok 3 - nor is three",
            "# ok 4 - a comment",
            "PASS all tests",
            "1..1",
        ]
    )
    assert parse_tap(text) == [TestResult("real", "passed")]


def test_tap_stray_yaml_start_cannot_swallow_later_results() -> None:
    text = "ok 1 - first\n  ---\n  junk: yes\nnot ok 2 - second\n1..2\n"
    assert [(r.name, r.outcome) for r in parse_tap(text)] == [
        ("first", "passed"),
        ("second", "failed"),
    ]


def test_tap_plan_mismatch_and_missing_plan_are_errors() -> None:
    injected = parse_tap("ok 1 - real\nok 2 - injected by a print\n1..1\n")
    assert injected[-1].outcome == "error" and "plan of 1" in (injected[-1].message or "")
    cut_short = parse_tap("ok 1 - a\nok 2 - b\n")
    assert cut_short[-1].outcome == "error" and "no plan" in (cut_short[-1].message or "")
    assert parse_tap("") == []


def test_tap_bail_out_and_failing_suite() -> None:
    results = parse_tap("ok 1 - a\nBail out! database is down\n1..1\n")
    assert results[-1] == TestResult("Bail out!", "error", None, "database is down")
    suite = "    ok 1 - child\nnot ok 1 - suite\n  ---\n  error: 'after hook failed'\n  ...\n1..1\n"
    assert [(r.name, r.outcome, r.message) for r in parse_tap(suite)] == [
        ("suite > child", "passed", None),
        ("suite", "error", "after hook failed"),
    ]


def test_tap_names_and_directives() -> None:
    text = "ok 1 - uses \\# in its name\nok 2\nnot ok 3 - later # skip flaky\n1..3\n"
    assert [(r.name, r.outcome) for r in parse_tap(text)] == [
        ("uses # in its name", "passed"),
        ("test 2", "passed"),
        ("later", "skipped"),
    ]


# Real runners: what the code under test prints must not become a result. ------------------

CLEAN_ENV = {
    "PATH": os.environ.get("PATH", os.defpath),
    "HOME": "/tmp",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def test_pytest_junit_ignores_printed_fake_results(tmp_path: Path) -> None:
    (tmp_path / "test_fake.py").write_text(
        "def test_prints_fakes():\n"
        "    print('ok 1 - fake')\n"
        "    print('PASS test_everything')\n"
        "    print('<testcase name=\"fake\"/>')\n"
        "    assert False\n"
    )
    report = tmp_path / "report.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            str(tmp_path),
        ],
        cwd=tmp_path,
        env=CLEAN_ENV,
        capture_output=True,
        check=False,
        timeout=60,
    )
    results = parse_junit(report.read_text())
    assert [(r.name, r.outcome) for r in results] == [("test_fake.test_prints_fakes", "failed")]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_tap_ignores_printed_fake_results(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "fake.test.js").write_text(
        "const test = require('node:test');\n"
        "const assert = require('node:assert/strict');\n"
        "console.log('ok 5 - printed at load time');\n"
        "test('prints fakes', () => {\n"
        "  console.log('ok 6 - fake');\n"
        "  process.stdout.write('ok 7 - written to stdout\\n1..7\\n');\n"
        "  assert.equal(1, 2);\n"
        "});\n"
    )
    completed = subprocess.run(
        ["node", "--test", "--test-reporter=tap", str(tests)],
        cwd=tmp_path,
        env=CLEAN_ENV,
        capture_output=True,
        check=False,
        timeout=60,
        text=True,
    )
    results = parse_tap(completed.stdout)
    assert [(r.name, r.outcome) for r in results] == [("prints fakes", "failed")]


def test_tap_nested_injection_breaks_the_subtest_plan() -> None:
    text = "    ok 1 - a\n    ok 2 - printed\n    1..1\nok 1 - suite\n1..1\n"
    results = parse_tap(text)
    assert [(r.name, r.outcome) for r in results] == [
        ("suite > a", "passed"),
        ("suite > printed", "passed"),
        ("suite > TAP plan", "error"),
    ]


def test_tap_unclosed_subtests_in_a_finished_stream_are_an_error() -> None:
    results = parse_tap("ok 1 - real\n    ok 1 - printed after the last test\n1..1\n")
    assert [(r.name, r.outcome) for r in results] == [
        ("real", "passed"),
        ("TAP structure", "error"),
    ]
    # A run cut short keeps what it reported, and says it was cut short.
    partial = parse_tap("# Subtest: suite\n    ok 1 - a\n    not ok 2 - b\n")
    assert [(r.name, r.outcome) for r in partial] == [
        ("a", "passed"),
        ("b", "failed"),
        ("TAP plan", "error"),
    ]
