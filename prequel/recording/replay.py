"""Replay queries: the timeline (its span and the moments worth jumping to) and the state of
the workspace at any point, for the replay page and the report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import RecordingEvent
from prequel.recording.snapshots import apply_events, nearest_snapshot

MARKER_TYPES = (
    "run.start",
    "run.exit",
    "tests.summary",
    "chat.message",
    "paste",
    "presence.focus",
    "presence.join",
    "presence.leave",
    "file.create",
    "file.delete",
    "file.rename",
    "ai.request",
    "ai.response",
)
MAX_MARKERS = 5000
CHAT_LIMIT = 500
RUN_OUTPUT_CHARS = 20_000

E = RecordingEvent


def marker_label(kind: str, data: dict[str, Any], author: str) -> str:
    """A short sentence for the timeline and the report."""
    if kind == "run.start":
        return f"{author} ran {data.get('file') or ' '.join(map(str, data.get('argv') or []))}"
    if kind == "run.exit":
        return f"run ended: {data.get('reason', '')} (exit {data.get('exit_code')})"
    if kind == "tests.summary":
        which = "hidden tests" if data.get("which") == "hidden" else "tests"
        return f"{which}: {data.get('passed', 0)}/{data.get('total', 0)} passed"
    if kind == "chat.message":
        text = str(data.get("text", ""))
        return f"{author}: {text[:80]}{'…' if len(text) > 80 else ''}"
    if kind == "paste":
        return f"{author} pasted {data.get('size', 0)} characters into {data.get('path') or '?'}"
    if kind == "presence.focus":
        return f"{author} {'left the tab' if data.get('state') == 'lost' else 'came back'}"
    if kind == "presence.join":
        return f"{author} joined"
    if kind == "presence.leave":
        return f"{author} left"
    if kind == "file.rename":
        return f"renamed {data.get('from')} to {data.get('to')}"
    if kind in ("file.create", "file.delete"):
        return f"{'created' if kind == 'file.create' else 'deleted'} {data.get('path')}"
    return kind


def _event(row: RecordingEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "ts": row.ts,
        "type": row.type,
        "author": {"id": row.author_id, "name": row.author_name, "role": row.author_role},
        "data": row.data,
    }


async def timeline(db: AsyncSession, interview_id: str) -> dict[str, Any]:
    first_ts, last_ts, count, last_seq = (
        await db.execute(
            select(func.min(E.ts), func.max(E.ts), func.count(), func.max(E.seq)).where(
                E.interview_id == interview_id
            )
        )
    ).one()
    rows = await db.scalars(
        select(E)
        .where(E.interview_id == interview_id, E.type.in_(MARKER_TYPES))
        .order_by(E.seq)
        .limit(MAX_MARKERS)
    )
    markers = [
        {
            "seq": row.seq,
            "ts": row.ts,
            "type": row.type,
            "author": row.author_name,
            "role": row.author_role,
            "label": marker_label(row.type, row.data or {}, row.author_name),
        }
        for row in rows
    ]
    return {
        "start_ts": first_ts,
        "end_ts": last_ts,
        "count": int(count or 0),
        "last_seq": int(last_seq or 0),
        "markers": markers,
    }


async def seq_at_time(db: AsyncSession, interview_id: str, ts: float) -> int:
    found = await db.scalar(
        select(func.max(E.seq)).where(E.interview_id == interview_id, E.ts <= ts)
    )
    return int(found or 0)


async def _typed(
    db: AsyncSession, interview_id: str, types: tuple[str, ...], after: int, until: int
) -> list[RecordingEvent]:
    rows = await db.scalars(
        select(E)
        .where(
            E.interview_id == interview_id,
            E.type.in_(types),
            E.seq > after,
            E.seq <= until,
        )
        .order_by(E.seq)
    )
    return list(rows)


async def _last(
    db: AsyncSession, interview_id: str, kind: str, until: int
) -> RecordingEvent | None:
    return await db.scalar(
        select(E)
        .where(E.interview_id == interview_id, E.type == kind, E.seq <= until)
        .order_by(E.seq.desc())
        .limit(1)
    )


async def _chat(db: AsyncSession, interview_id: str, until: int) -> list[dict[str, Any]]:
    rows = await db.scalars(
        select(E)
        .where(E.interview_id == interview_id, E.type == "chat.message", E.seq <= until)
        .order_by(E.seq.desc())
        .limit(CHAT_LIMIT)
    )
    return [
        {
            "seq": r.seq,
            "ts": r.ts,
            "author": r.author_name,
            "role": r.author_role,
            "text": str((r.data or {}).get("text", "")),
        }
        for r in reversed(list(rows))
    ]


async def _tests(db: AsyncSession, interview_id: str, until: int) -> dict[str, Any] | None:
    start = await _last(db, interview_id, "tests.start", until)
    if start is None:
        return None
    rows = await _typed(db, interview_id, ("tests.result", "tests.summary"), start.seq, until)
    summary = next((r.data for r in rows if r.type == "tests.summary"), None)
    return {
        "seq": start.seq,
        "ts": start.ts,
        "which": (start.data or {}).get("which", "visible"),
        "by": start.author_name,
        "running": summary is None,
        "summary": summary,
        "results": [r.data for r in rows if r.type == "tests.result"],
    }


async def _run(db: AsyncSession, interview_id: str, until: int) -> dict[str, Any] | None:
    start = await _last(db, interview_id, "run.start", until)
    if start is None:
        return None
    run_id = (start.data or {}).get("run_id")
    rows = await _typed(db, interview_id, ("run.output", "run.exit"), start.seq, until)
    mine = [r for r in rows if (r.data or {}).get("run_id") == run_id]
    output = "".join(str(r.data.get("data", "")) for r in mine if r.type == "run.output")
    exit_event = next((r.data for r in mine if r.type == "run.exit"), None)
    return {
        "seq": start.seq,
        "by": start.author_name,
        "file": (start.data or {}).get("file"),
        "argv": (start.data or {}).get("argv"),
        "output": output[-RUN_OUTPUT_CHARS:],
        "truncated": len(output) > RUN_OUTPUT_CHARS,
        "exit": exit_event,
    }


async def _presence(db: AsyncSession, interview_id: str, until: int) -> dict[str, Any]:
    rows = await _typed(
        db, interview_id, ("presence.join", "presence.leave", "presence.focus"), 0, until
    )
    present: dict[str, dict[str, Any]] = {}
    away = False
    for row in rows:
        if row.type == "presence.join":
            person = present.setdefault(
                row.author_id, {"name": row.author_name, "role": row.author_role, "count": 0}
            )
            person["count"] += 1
        elif row.type == "presence.leave" and row.author_id in present:
            present[row.author_id]["count"] -= 1
            if present[row.author_id]["count"] <= 0:
                del present[row.author_id]
        elif row.type == "presence.focus":
            away = (row.data or {}).get("state") == "lost"
    return {
        "people": [{"name": p["name"], "role": p["role"]} for p in present.values()],
        "candidate_away": away,
    }


async def state_at(db: AsyncSession, interview_id: str, seq: int) -> dict[str, Any]:
    """Everything the replay page shows at event `seq` (0: before the first event)."""
    state = await nearest_snapshot(db, interview_id, seq)
    await apply_events(db, interview_id, state, seq)
    current = await db.get(E, (interview_id, state.seq)) if state.seq else None
    return {
        "seq": state.seq,
        "ts": state.ts,
        "event": _event(current) if current is not None else None,
        "files": state.file_texts(),
        "last_change": state.last_change,
        "terminal": state.terminal.view(),
        "chat": await _chat(db, interview_id, state.seq),
        "tests": await _tests(db, interview_id, state.seq),
        "run": await _run(db, interview_id, state.seq),
        "presence": await _presence(db, interview_id, state.seq),
    }
