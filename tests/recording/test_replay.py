"""Replay from the database: stored events, snapshots, the state at any point, the timeline
and the exports, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview, Organization, RecordingSnapshot
from prequel.recording import snapshots
from prequel.recording.replay import seq_at_time, state_at, timeline
from prequel.recording.store import rows_of, store_rows
from tests.recording.scripted import CANDIDATE, INTERVIEWER, SYSTEM, ScriptedSession
from tests.support.factories import make_challenge, make_interview


def scripted() -> ScriptedSession:
    session = ScriptedSession()
    session.create("main.py", "def add(a, b):\n    pass\n")
    session.add(CANDIDATE, "presence.join", {"room": "doc"})
    session.type("main.py", "# first try\n", at=0)
    session.terminal("$ python main.py\r\n")
    session.add(
        CANDIDATE, "run.start", {"run_id": "r1", "argv": ["python", "main.py"], "file": "main.py"}
    )
    session.add(SYSTEM, "run.output", {"run_id": "r1", "stream": "stdout", "data": "hello\n"})
    session.add(SYSTEM, "run.exit", {"run_id": "r1", "reason": "exited", "exit_code": 0})
    session.say(INTERVIEWER, "How is it going?")
    session.add(CANDIDATE, "paste", {"path": "main.py", "size": 42, "source": "clipboard"})
    session.add(CANDIDATE, "presence.focus", {"state": "lost"})
    session.add(CANDIDATE, "presence.focus", {"state": "regained"})
    session.add(CANDIDATE, "tests.start", {"which": "visible"})
    session.add(
        SYSTEM, "tests.result", {"which": "visible", "name": "test_add", "outcome": "failed"}
    )
    session.add(
        SYSTEM, "tests.summary", {"which": "visible", "status": "failed", "total": 1, "passed": 0}
    )
    session.type("main.py", "    return a + b\n")
    session.say(CANDIDATE, "Done, I think")
    session.terminal("hello\r\n$ ")
    return session


@pytest.fixture
async def interview(db: AsyncSession, org: Organization) -> Interview:
    challenge = await make_challenge(db, org)
    found = await make_interview(db, org, challenge, status="active")
    await db.commit()
    return found


async def store(db: AsyncSession, interview_id: str, session: ScriptedSession) -> None:
    rows, problems = rows_of(interview_id, session.events)
    assert problems == []
    await store_rows(db, rows)
    await db.commit()


async def test_a_batch_stored_twice_is_stored_once(db: AsyncSession, interview: Interview) -> None:
    session = scripted()
    await store(db, interview.id, session)
    await store(db, interview.id, session)  # a retried poll, a second worker
    rows, _ = rows_of(interview.id, session.events[:5])
    await store_rows(db, rows)
    await db.commit()
    assert (await timeline(db, interview.id))["count"] == len(session.events)


def test_malformed_events_are_left_out_with_a_reason() -> None:
    rows, problems = rows_of("i", [{"seq": 1, "ts": 1.0, "type": "x"}, {"seq": "2"}, "junk"])
    assert [row["seq"] for row in rows] == [1]
    assert rows[0]["author_id"] == "system"
    assert len(problems) == 2 and "seq" in problems[0]


@pytest.mark.parametrize("snapshot_every", [3, 10_000])
async def test_the_state_at_every_point_is_what_was_true_then(
    db: AsyncSession,
    app: FastAPI,
    interview: Interview,
    snapshot_every: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", snapshot_every)
    session = scripted()
    await store(db, interview.id, session)
    writer = snapshots.SnapshotWriter(app.state.prequel.sessions, interview.id)
    await writer.catch_up(final=True)
    count = await db.scalar(
        select(func.count()).where(RecordingSnapshot.interview_id == interview.id)
    )
    assert count == (len(session.events) // 3 + 1 if snapshot_every == 3 else 1)
    for seq in range(0, len(session.events) + 1):
        state = await state_at(db, interview.id, seq)
        truth = session.truth[seq - 1] if seq else {"files": {}, "chat": []}
        assert state["files"] == truth["files"], seq
        assert [m["text"] for m in state["chat"]] == truth["chat"], seq


async def test_what_moves_with_the_scrubber(db: AsyncSession, interview: Interview) -> None:
    session = scripted()
    await store(db, interview.id, session)
    kinds = [event["type"] for event in session.events]
    before_tests = kinds.index("tests.start")
    state = await state_at(db, interview.id, before_tests)
    assert state["tests"] is None
    assert state["run"]["output"] == "hello\n" and state["run"]["exit"]["exit_code"] == 0
    assert state["terminal"]["lines"][0] == "$ python main.py"
    assert state["presence"]["people"] == [{"name": "Grace Hopper", "role": "candidate"}]
    running = await state_at(db, interview.id, before_tests + 2)
    assert running["tests"]["running"] is True
    assert [r["name"] for r in running["tests"]["results"]] == ["test_add"]
    final = await state_at(db, interview.id, len(session.events))
    assert final["tests"]["summary"]["status"] == "failed"
    assert final["terminal"]["lines"][:2] == ["$ python main.py", "hello"]
    assert final["last_change"]["path"] == "main.py"
    assert final["files"]["main.py"].endswith("    return a + b\n")
    away = await state_at(db, interview.id, kinds.index("presence.focus") + 1)
    assert away["presence"]["candidate_away"] is True


async def test_the_timeline_and_seeking_by_time(db: AsyncSession, interview: Interview) -> None:
    session = scripted()
    await store(db, interview.id, session)
    found = await timeline(db, interview.id)
    assert found["start_ts"] == session.events[0]["ts"]
    assert found["last_seq"] == len(session.events)
    labels = [m["label"] for m in found["markers"]]
    assert "Grace Hopper ran main.py" in labels
    assert "Ada Interviewer: How is it going?" in labels
    assert "tests: 0/1 passed" in labels
    assert "Grace Hopper pasted 42 characters into main.py" in labels
    assert "Grace Hopper left the tab" in labels
    assert not any(m["type"] == "doc.update" for m in found["markers"])
    assert await seq_at_time(db, interview.id, session.events[4]["ts"] + 0.1) == 5
    assert await seq_at_time(db, interview.id, 0) == 0


async def test_the_api_exports_and_replays(
    db: AsyncSession, interview: Interview, admin_client: httpx.AsyncClient
) -> None:
    session = scripted()
    await store(db, interview.id, session)
    base = f"/api/interviews/{interview.id}"
    exported = await admin_client.get(f"{base}/recording.jsonl")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert lines[0]["format"] == "prequel-recording" and lines[0]["interview_id"] == interview.id
    assert [line["seq"] for line in lines[1:]] == list(range(1, len(session.events) + 1))
    assert lines[1:] == session.events
    cast = (await admin_client.get(f"{base}/terminal.cast")).text.splitlines()
    header = json.loads(cast[0])
    assert header["version"] == 2 and (header["width"], header["height"]) == (80, 24)
    frames = [json.loads(line) for line in cast[1:]]
    assert [frame[1:] for frame in frames] == [["o", "$ python main.py\r\n"], ["o", "hello\r\n$ "]]
    assert frames[0][0] == 0 and frames[1][0] > 0
    timeline_body = (await admin_client.get(f"{base}/replay/timeline")).json()
    assert timeline_body["count"] == len(session.events)
    by_seq = (await admin_client.get(f"{base}/replay/state", params={"seq": 3})).json()
    by_ts = (
        await admin_client.get(f"{base}/replay/state", params={"ts": session.events[2]["ts"]})
    ).json()
    assert by_seq["seq"] == by_ts["seq"] == 3 and by_seq["files"] == by_ts["files"]
    for params in ({}, {"seq": 1, "ts": 1}, {"seq": -1}, {"seq": "x"}):
        refused = await admin_client.get(f"{base}/replay/state", params=params)
        assert refused.status_code in (400, 422), params
        assert refused.json()["error"]["message"], params
    missing = await admin_client.get("/api/interviews/nope/replay/timeline")
    assert missing.status_code == 404


async def test_an_empty_recording_exports_cleanly(
    interview: Interview, admin_client: httpx.AsyncClient
) -> None:
    base = f"/api/interviews/{interview.id}"
    cast = (await admin_client.get(f"{base}/terminal.cast")).text.splitlines()
    assert len(cast) == 1 and json.loads(cast[0])["version"] == 2
    lines = (await admin_client.get(f"{base}/recording.jsonl")).text.splitlines()
    assert len(lines) == 1
    state = (await admin_client.get(f"{base}/replay/state", params={"seq": 0})).json()
    assert state["files"] == {} and state["chat"] == [] and state["event"] is None
