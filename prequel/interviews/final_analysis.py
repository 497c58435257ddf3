"""Static analysis on end: the saved archive's text files, checked with the challenge's
language's analyser (prequel.interviews.static_analysis), stored for the report.

Runs after the work is safely archived, from the archive itself (the workspace is gone by
then), and is best effort like grading: a failure is one warning in the operation log."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio.to_thread

from prequel.db.models import AnalysisReport, Challenge, Interview
from prequel.interviews import archive_files
from prequel.interviews.archive_files import SavedTexts
from prequel.interviews.static_analysis import analyze
from prequel.jobs.context import WorkerContext

MAX_FILES = 2000
MAX_BYTES = 20 * 1024 * 1024

Log = Callable[..., Awaitable[None]]


def _write(folder: Path, saved: SavedTexts) -> None:
    for text in saved.files:
        # Paths from the archive were checked by archive_files.safe_path (no "..", absolute).
        target = folder / text.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.text, encoding="utf-8")


async def analyze_final_work(ctx: WorkerContext, interview_id: str, log: Log) -> None:
    try:
        async with ctx.sessions() as db:
            interview = await db.get(Interview, interview_id)
            if interview is None or not interview.history_key:
                return
            challenge = await db.get(Challenge, interview.challenge_id)
            if await db.get(AnalysisReport, interview_id) is not None:
                return  # a retried destroy
        language = challenge.language if challenge is not None else ""
        saved = await archive_files.read_saved_texts(
            ctx.blobs, interview.history_key, max_files=MAX_FILES, max_bytes=MAX_BYTES
        )
        spool = ctx.settings.data_dir / "tmp"
        spool.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="analysis-", dir=spool))
        try:
            await anyio.to_thread.run_sync(_write, folder, saved)
            report = await analyze(folder, language)
        finally:
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))
        async with ctx.sessions() as db:
            db.add(
                AnalysisReport(
                    interview_id=interview_id,
                    tool=report.tool,
                    status=report.status,
                    files_checked=report.files_checked,
                    findings=report.as_dict()["findings"],
                    detail=report.detail,
                )
            )
            await db.commit()
        if report.status == "ok":
            await log(f"static analysis ({report.tool}): {len(report.findings)} findings")
        else:
            await log(
                f"static analysis {report.status}: {report.detail}",
                "warning" if report.status == "error" else "info",
            )
    except Exception as exc:  # never fails the destroy
        await log(f"static analysis failed and was skipped: {type(exc).__name__}: {exc}", "warning")
