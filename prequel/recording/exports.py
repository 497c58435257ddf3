"""Exports (docs/recording-format.md): the whole recording as JSON lines, and the terminal as
an asciicast v2 file that `asciinema play` and asciinema-player can show.

Both stream page by page with a session of their own, so a long recording is never held in
memory at once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from prequel.db.models import RecordingEvent
from prequel.recording.replay_state import DEFAULT_COLS, DEFAULT_ROWS

PAGE = 2000
FORMAT_VERSION = 1
E = RecordingEvent


def event_json(row: RecordingEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "ts": row.ts,
        "author": {"id": row.author_id, "name": row.author_name, "role": row.author_role},
        "type": row.type,
        "data": row.data,
    }


async def _pages(
    sessions: async_sessionmaker[AsyncSession], interview_id: str, types: tuple[str, ...] = ()
) -> AsyncIterator[list[RecordingEvent]]:
    after = 0
    while True:
        query = select(E).where(E.interview_id == interview_id, E.seq > after)
        if types:
            query = query.where(E.type.in_(types))
        async with sessions() as db:
            rows = list(await db.scalars(query.order_by(E.seq).limit(PAGE)))
        if not rows:
            return
        yield rows
        after = rows[-1].seq


def _line(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


async def jsonl(
    sessions: async_sessionmaker[AsyncSession], interview_id: str, header: dict[str, Any]
) -> AsyncIterator[bytes]:
    """A header line (`{"format": "prequel-recording", ...}`), then one event per line."""
    yield _line({"format": "prequel-recording", "version": FORMAT_VERSION, **header})
    async for rows in _pages(sessions, interview_id):
        yield b"".join(_line(event_json(row)) for row in rows)


async def asciicast(
    sessions: async_sessionmaker[AsyncSession], interview_id: str, title: str
) -> AsyncIterator[bytes]:
    """asciicast v2: a header, then `[seconds, "o", text]` for output and `[seconds, "r",
    "COLSxROWS"]` for resizes, timed from the first terminal event."""
    started: float | None = None
    async for rows in _pages(sessions, interview_id, ("terminal.output", "terminal.resize")):
        lines: list[bytes] = []
        for row in rows:
            data = row.data or {}
            if started is None:
                width, height = DEFAULT_COLS, DEFAULT_ROWS
                if row.type == "terminal.resize":
                    width, height = int(data.get("cols", width)), int(data.get("rows", height))
                started = row.ts
                header = {
                    "version": 2,
                    "width": width,
                    "height": height,
                    "timestamp": int(row.ts),
                    "title": title,
                }
                lines.append(_line(header))
                if row.type == "terminal.resize":
                    continue
            offset = round(row.ts - started, 6)
            if row.type == "terminal.output":
                lines.append(_line([offset, "o", str(data.get("data", ""))]))
            else:
                lines.append(_line([offset, "r", f"{data.get('cols')}x{data.get('rows')}"]))
        yield b"".join(lines)
    if started is None:  # no terminal activity: a valid, empty recording
        yield _line({"version": 2, "width": DEFAULT_COLS, "height": DEFAULT_ROWS, "title": title})
