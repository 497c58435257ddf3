"""Static analysis of a candidate's final files, for the report.

Every candidate is judged by the same rules: ruff runs with `--isolated` and one fixed rule
set, so a configuration file the candidate left in the workspace cannot switch checks off,
and it is given the file list itself (not the folder), so a candidate's `.gitignore` or
`.ignore` cannot hide files either. The analysis is static: ruff and `node --check` only
parse, nothing the candidate wrote is executed, and nothing from the candidate's own runs
(tests, terminal) is taken into account.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

RUFF_RULES = "E4,E7,E9,F,B,UP"
RUFF_TARGET = "py312"
MAX_FINDINGS = 500
TAIL_CHARS = 500
SKIPPED_DIRS = frozenset({".venv", "venv", "node_modules", "__pycache__"})
PYTHON = frozenset({"python", "py"})
JAVASCRIPT = frozenset({"javascript", "js", "typescript", "ts", "node"})
PYTHON_SUFFIXES = (".py", ".pyi")
JS_SUFFIXES = (".js", ".mjs", ".cjs")
TS_SUFFIXES = (".ts", ".tsx", ".mts", ".cts")
NODE_TOOL = "node --check"
# node --check prints "FILE:LINE", then the source line, a caret, and "SyntaxError: ...".
NODE_SYNTAX_ERROR = re.compile(r"^SyntaxError: .*$", re.MULTILINE)


class ToolFailed(Exception):
    """The tool ran but did not do its job; the message is for the report."""


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the analysed folder, posix
    line: int | None
    column: int | None
    code: str  # the rule, e.g. "F401", or "syntax"
    message: str


@dataclass(frozen=True)
class AnalysisReport:
    tool: str  # ruff | node --check | none
    status: str  # ok (ran; findings may be empty) | skipped (nothing to check) | error
    findings: list[Finding]
    files_checked: int
    detail: str | None = None  # a sentence for skipped/error, or how many findings were cut

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# One tool's whole check, started under the time limit.
Check = Callable[[], Awaitable[list[Finding]]]


def source_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files with these suffixes, sorted, outside hidden folders, virtualenvs and
    node_modules; symlinks are left out (they may point outside the candidate's work)."""
    found: list[Path] = []
    for root, dirs, names in os.walk(folder):  # never follows symlinked folders
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(names):
            path = Path(root, name)
            if path.suffix in suffixes and not path.is_symlink():
                found.append(path)
    return found


async def _run(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await process.communicate()
    except BaseException:
        # Timed out or cancelled: the tool must not outlive the analysis.
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def _tail(text: str) -> str:
    return text.strip()[-TAIL_CHARS:]


def _capped(findings: list[Finding], notes: list[str]) -> tuple[list[Finding], str | None]:
    if len(findings) > MAX_FINDINGS:
        notes = [*notes, f"{len(findings) - MAX_FINDINGS} more findings not listed"]
    return findings[:MAX_FINDINGS], "; ".join(notes) or None


def _relative(folder: Path, name: str) -> str:
    try:  # ruff names the files as it was given them: absolute, under the folder
        return Path(name).relative_to(folder).as_posix()
    except ValueError:
        return Path(name).name


def _ruff_code(code: object) -> str:
    # Syntax errors come without a rule (older ruff) or as "invalid-syntax" (newer).
    return "syntax" if not code or code == "invalid-syntax" else str(code)


def _ruff_finding(folder: Path, item: dict[str, Any]) -> Finding:
    location = item.get("location") or {}
    return Finding(
        path=_relative(folder, str(item.get("filename", ""))),
        line=location.get("row"),
        column=location.get("column"),
        code=_ruff_code(item.get("code")),
        message=str(item.get("message", "")),
    )


def _ruff_bin() -> str | None:
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return None


async def _ruff(ruff: str, folder: Path, files: list[Path]) -> list[Finding]:
    argv = [
        ruff, "check", "--isolated", "--no-cache", "--output-format", "json",
        "--select", RUFF_RULES, "--exit-zero", "--target-version", RUFF_TARGET,
        "--", *[str(path) for path in files],
    ]  # fmt: skip
    code, out, err = await _run(argv, folder)
    try:
        raw = json.loads(out)
    except json.JSONDecodeError:
        raw = None
    # With --exit-zero, any other exit code means ruff itself failed: never report "clean".
    if code != 0 or not isinstance(raw, list):
        raise ToolFailed(f"ruff failed (exit {code}): {_tail(err or out)}")
    return [_ruff_finding(folder, item) for item in raw if isinstance(item, dict)]


async def _node_check(node: str, folder: Path, path: Path) -> Finding | None:
    code, _out, err = await _run([node, "--check", str(path)], folder)
    if code == 0:
        return None
    syntax_error = NODE_SYNTAX_ERROR.search(err)
    if syntax_error is None:  # not a parse error: node itself failed
        raise ToolFailed(f"node failed on {path.relative_to(folder)}: {_tail(err)}")
    # Anchored on the file's own name: a warning printed first cannot pass for the location.
    where = re.search(rf"^{re.escape(str(path))}:(\d+)\s*$", err, re.MULTILINE)
    return Finding(
        path=path.relative_to(folder).as_posix(),
        line=int(where.group(1)) if where else None,
        column=None,
        code="syntax",
        message=syntax_error.group(0).strip(),
    )


async def _node(node: str, folder: Path, files: list[Path]) -> list[Finding]:
    # One file at a time: node's start-up is short, and a failure stops cleanly.
    findings: list[Finding] = []
    for path in files:
        finding = await _node_check(node, folder, path)
        if finding is not None:
            findings.append(finding)
    return findings


def _skipped(tool: str, detail: str) -> AnalysisReport:
    return AnalysisReport(tool, "skipped", [], 0, detail)


async def _python(folder: Path, seconds: float) -> AnalysisReport:
    files = await asyncio.to_thread(source_files, folder, PYTHON_SUFFIXES)
    if not files:
        return _skipped("ruff", "no Python files to check")
    ruff = _ruff_bin()
    if ruff is None:
        return _skipped("ruff", "ruff is not installed on this server")
    return await _report("ruff", partial(_ruff, ruff, folder, files), len(files), [], seconds)


async def _javascript(folder: Path, seconds: float) -> AnalysisReport:
    files = await asyncio.to_thread(source_files, folder, JS_SUFFIXES)
    typescript = len(await asyncio.to_thread(source_files, folder, TS_SUFFIXES))
    if not files:
        if typescript:
            return _skipped(NODE_TOOL, "TypeScript files are not checked yet")
        return _skipped(NODE_TOOL, "no JavaScript files to check")
    node = shutil.which("node")
    if node is None:
        return _skipped(NODE_TOOL, "node is not installed on this server")
    notes = [f"{typescript} TypeScript files not checked"] if typescript else []
    check = partial(_node, node, folder, files)
    return await _report(NODE_TOOL, check, len(files), notes, seconds)


async def _report(
    tool: str, check: Check, files: int, notes: list[str], seconds: float
) -> AnalysisReport:
    """Run one tool's check under the time limit and turn its outcome into a report."""
    try:
        async with asyncio.timeout(seconds):
            findings = await check()
    except TimeoutError:
        return AnalysisReport(tool, "error", [], files, f"{tool} took over {seconds:g} s")
    except ToolFailed as failure:
        return AnalysisReport(tool, "error", [], files, str(failure))
    listed, detail = _capped(findings, notes)
    return AnalysisReport(tool, "ok", listed, files, detail)


async def analyze(
    folder: Path,
    language: str,
    *,
    # A parameter rather than the caller's asyncio.timeout: the tools are killed either way,
    # and the time limit becomes a clear "error" report instead of an exception.
    timeout: float = 60.0,  # noqa: ASYNC109
) -> AnalysisReport:
    """Findings for the files of the challenge's language in `folder`. Never raises."""
    name = str(language or "").strip().lower()
    try:
        # Absolute, because the tools run with the folder as their working directory.
        folder = Path(await asyncio.to_thread(os.path.realpath, folder))
        if name in PYTHON:
            return await _python(folder, timeout)
        if name in JAVASCRIPT:
            return await _javascript(folder, timeout)
    except (OSError, ValueError, TypeError) as exc:  # a bad or unreadable folder
        return AnalysisReport("none", "error", [], 0, f"the analysis could not run: {exc}")
    return _skipped("none", f"no static analysis for {name or 'this language'} yet")
