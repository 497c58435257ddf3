"""Staff API for recordings: exports (docs/recording-format.md) and the replay page's data."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from prequel.recording import exports
from prequel.recording.replay import seq_at_time, state_at, timeline
from prequel.web.deps import DbSession, StateDep, ViewerPrincipal
from prequel.web.errors import ApiError
from prequel.web.interview_support import interview_or_404

router = APIRouter(prefix="/api/interviews", tags=["recording"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such interview in your organization."}
}


def _filename(name: str, interview_id: str, suffix: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "candidate"
    return f"{slug}-{interview_id[:8]}{suffix}"


@router.get("/{interview_id}/recording.jsonl", responses=NOT_FOUND)
async def export_recording(
    interview_id: str, db: DbSession, state: StateDep, principal: ViewerPrincipal
) -> StreamingResponse:
    """The whole recording as JSON lines: a header line, then every event in order
    (`seq`, `ts`, `author`, `type`, `data`). The format is in docs/recording-format.md."""
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    header = {
        "interview_id": interview.id,
        "kind": interview.kind,
        "candidate": interview.candidate_name,
        "challenge": interview.challenge_slug,
        "status": interview.status,
    }
    name = _filename(interview.candidate_name, interview.id, "-recording.jsonl")
    return StreamingResponse(
        exports.jsonl(state.sessions, interview.id, header),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{interview_id}/terminal.cast", responses=NOT_FOUND)
async def export_terminal(
    interview_id: str, db: DbSession, state: StateDep, principal: ViewerPrincipal
) -> StreamingResponse:
    """The shared terminal as an asciicast v2 file (`asciinema play file.cast`)."""
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    title = f"{interview.candidate_name}: {interview.challenge_slug}"
    name = _filename(interview.candidate_name, interview.id, "-terminal.cast")
    return StreamingResponse(
        exports.asciicast(state.sessions, interview.id, title),
        media_type="application/x-asciicast",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/{interview_id}/replay/timeline", responses=NOT_FOUND)
async def replay_timeline(
    interview_id: str, db: DbSession, principal: ViewerPrincipal
) -> dict[str, Any]:
    """The recording's span (`start_ts`, `end_ts`, `count`, `last_seq`) and its markers:
    runs, test results, chat, pastes, focus changes, people joining and leaving, file
    changes, each with `seq`, `ts`, `type`, `author` and a `label`."""
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    return await timeline(db, interview.id)


@router.get(
    "/{interview_id}/replay/state",
    responses={**NOT_FOUND, 400: {"description": "Neither or both of seq and ts."}},
)
async def replay_state(
    interview_id: str,
    db: DbSession,
    principal: ViewerPrincipal,
    seq: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    ts: Annotated[float | None, Query(ge=0, le=1e11)] = None,
) -> dict[str, Any]:
    """The workspace as it was after event `seq`, or at time `ts` (seconds since the epoch,
    the last event at or before it): every file, where the last edit landed
    (`last_change`), the terminal screen, the chat so far, the latest test run and run,
    and who was there."""
    if (seq is None) == (ts is None):
        raise ApiError(400, "give exactly one of 'seq' (an event number) or 'ts' (a time)")
    interview = await interview_or_404(db, principal.organization.id, interview_id)
    target = seq if seq is not None else await seq_at_time(db, interview.id, float(ts or 0))
    return await state_at(db, interview.id, target)
