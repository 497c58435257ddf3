"""Static analysis of a candidate's final files, for the report.

Every candidate is judged by the same rules: ruff runs with `--isolated`, so a configuration
file the candidate left in the workspace cannot switch checks off, and with one fixed rule
set. Only reading is involved (ruff parses, `node --check` parses): nothing the candidate
wrote is executed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RUFF_RULES = "E4,E7,E9,F,B,UP"
MAX_FINDINGS = 500
SKIPPED_DIRS = frozenset({".venv", "venv", "node_modules", "__pycache__", ".git"})
PYTHON = ("python", "py")
JAVASCRIPT = ("javascript", "js", "typescript", "ts", "node")
JS_SUFFIXES = (".js", ".mjs", ".cjs")
NODE_LOCATION = re.compile(r":(\d+)\s*$")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int | None
    column: int | None
    code: str
    message: str


@dataclass(frozen=True)
class AnalysisReport:
    tool: str
    status: str  # ok | skipped | error
    findings: list[Finding]
    files_checked: int
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "findings": [asdict(finding) for finding in self.findings]}


def source_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).parts
        if any(part.startswith(".") or part in SKIPPED_DIRS for part in relative[:-1]):
            continue
        if path.is_file() and not path.is_symlink() and path.suffix in suffixes:
            found.append(path)
    return found


async def _run(argv: list[str], cwd: Path, limit_seconds: float) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), limit_seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def _capped(findings: list[Finding]) -> tuple[list[Finding], str | None]:
    if len(findings) <= MAX_FINDINGS:
        return findings, None
    return findings[:MAX_FINDINGS], f"{len(findings) - MAX_FINDINGS} more findings not listed"


def _ruff_code(code: object) -> str:
    # Syntax errors come without a rule (older ruff) or as "invalid-syntax" (newer).
    return "syntax" if not code or code == "invalid-syntax" else str(code)


def _relative(folder: Path, name: str) -> str:
    try:
        return Path(name).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(name).name


async def _ruff(folder: Path, files: list[Path], limit_seconds: float) -> AnalysisReport:
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        ruff = str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return AnalysisReport("ruff", "skipped", [], 0, "ruff is not installed on this server")
    argv = [
        ruff, "check", "--isolated", "--no-cache", "--output-format", "json",
        "--select", RUFF_RULES, "--exit-zero", "--target-version", "py312",
        *[str(path) for path in files],
    ]  # fmt: skip
    try:
        code, out, err = await _run(argv, folder, limit_seconds)
    except TimeoutError:
        return AnalysisReport(
            "ruff", "error", [], len(files), f"ruff took over {limit_seconds:g} s"
        )
    try:
        raw = json.loads(out or "[]")
    except json.JSONDecodeError:
        return AnalysisReport(
            "ruff", "error", [], len(files), (err or out)[-500:] or f"exit {code}"
        )
    findings = [
        Finding(
            path=_relative(folder, str(item.get("filename", ""))),
            line=(item.get("location") or {}).get("row"),
            column=(item.get("location") or {}).get("column"),
            code=_ruff_code(item.get("code")),
            message=str(item.get("message", "")),
        )
        for item in raw
        if isinstance(item, dict)
    ]
    listed, more = _capped(findings)
    return AnalysisReport("ruff", "ok", listed, len(files), more)


async def _node(folder: Path, files: list[Path], limit_seconds: float) -> AnalysisReport:
    node = shutil.which("node")
    tool = "node --check"
    if node is None:
        return AnalysisReport(tool, "skipped", [], 0, "node is not installed on this server")
    findings: list[Finding] = []
    for path in files:
        try:
            code, _out, err = await _run([node, "--check", str(path)], folder, limit_seconds)
        except TimeoutError:
            return AnalysisReport(
                tool, "error", findings, len(files), f"node took over {limit_seconds:g} s"
            )
        if code == 0:
            continue
        lines = err.strip().splitlines()
        where = NODE_LOCATION.search(lines[0]) if lines else None
        message = next((line for line in lines if "Error" in line), lines[-1] if lines else "")
        findings.append(
            Finding(
                path=path.relative_to(folder).as_posix(),
                line=int(where.group(1)) if where else None,
                column=None,
                code="syntax",
                message=message.strip(),
            )
        )
    listed, more = _capped(findings)
    return AnalysisReport(tool, "ok", listed, len(files), more)


async def analyze(folder: Path, language: str, *, limit_seconds: float = 60.0) -> AnalysisReport:
    """Findings for the files of the challenge's language in `folder`. Never raises."""
    language = language.strip().lower()
    try:
        if language in PYTHON:
            files = source_files(folder, (".py",))
            if not files:
                return AnalysisReport("ruff", "skipped", [], 0, "no Python files to check")
            return await _ruff(folder, files, limit_seconds)
        if language in JAVASCRIPT:
            files = source_files(folder, JS_SUFFIXES)
            if not files:
                detail = (
                    "TypeScript is not checked yet"
                    if source_files(folder, (".ts", ".tsx"))
                    else "no JavaScript files to check"
                )
                return AnalysisReport("node --check", "skipped", [], 0, detail)
            return await _node(folder, files, limit_seconds)
    except OSError as exc:
        return AnalysisReport("none", "error", [], 0, f"the analysis could not run: {exc}")
    return AnalysisReport("none", "skipped", [], 0, f"no static analysis for {language} yet")
