"""The workspace's recording (prequel.agent.recording): every event numbered on one timeline,
buffered on disk until the portal acknowledges it, with who did what."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Doc, Map, Text

from prequel.agent.collab.settings import STATE_DIR_ENV
from prequel.agent.recording.buffer import RecordingBuffer
from tests.agent.collab.conftest import StartCollab
from tests.agent.collab.yclient import staff_headers, wait_for, yconnect
from tests.agent.conftest import RunningAgent, StartAgent, fresh_uid
from tests.agent.wsclient import connect, receive_until, send

FILE = "rate_limiter.py"


async def events_of(agent: RunningAgent, after: int = 0, **params: Any) -> dict[str, Any]:
    async with agent.portal_client() as portal:
        response = await portal.get("/recording", params={"after": after, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def all_events(agent: RunningAgent) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await events_of(agent, limit=5000))["events"]
    return found


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


async def test_edits_chat_presence_and_files_are_recorded_with_their_authors(
    start_collab: StartCollab,
) -> None:
    agent = start_collab()
    headers = staff_headers("interviewer", "user-ida", "Ida")
    assert agent.portal_token is not None
    async with (
        yconnect(agent.socket_path, agent.token) as candidate,
        yconnect(agent.socket_path, agent.portal_token, headers=headers) as interviewer,
    ):
        candidate.insert(FILE, 0, "# candidate\n")
        await wait_for(lambda: (interviewer.text(FILE) or "").startswith("# candidate\n"))
        interviewer.files["notes.md"] = Text("hello\n")
        await wait_for(lambda: candidate.text("notes.md") == "hello\n")
        async with connect(agent.socket_path, "/collab/chat", agent.token) as chat:
            await receive_until(chat, "history")
            await send(chat, {"type": "send", "text": "hi there"})
            await receive_until(chat, "message")

    events = await all_events(agent)
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert all(isinstance(event["ts"], float) for event in events)
    updates = of_type(events, "doc.update")
    assert {event["author"]["role"] for event in updates} >= {"candidate", "interviewer", "system"}
    # Replaying the document updates gives the document as it is.
    doc: Doc[Any] = Doc()
    for event in updates:
        doc.apply_update(base64.b64decode(event["data"]["update"]))
    files = doc.get("files", type=Map)
    assert str(files[FILE]).startswith("# candidate\n")
    assert str(files["notes.md"]) == "hello\n"
    created = of_type(events, "file.create")
    assert {"path": "notes.md"} in [event["data"] for event in created]
    assert [e["author"]["id"] for e in created if e["data"]["path"] == "notes.md"] == ["user-ida"]
    messages = of_type(events, "chat.message")
    said = [(e["author"]["role"], e["data"]["text"]) for e in messages]
    assert said == [("candidate", "hi there")]
    joins = [(e["type"], e["author"]["role"]) for e in events if e["type"].startswith("presence")]
    assert ("presence.join", "candidate") in joins and ("presence.leave", "interviewer") in joins


async def test_the_terminal_runs_and_tests_are_recorded(start_agent: StartAgent) -> None:
    # Sandboxed as a uid of its own (the shell and runs need it); the default state folder.
    agent = start_agent(user=f"{(uid := fresh_uid())}:{uid}")
    async with connect(agent.socket_path, "/terminal", agent.token) as terminal:
        await send(terminal, {"type": "resize", "rows": 30, "cols": 100})
        await send(terminal, {"type": "input", "data": "echo rec-$((40+2))\r"})
        seen = ""
        deadline = time.monotonic() + 20
        while "rec-42" not in seen.replace("rec-$((40+2))", "") and time.monotonic() < deadline:
            seen += (await receive_until(terminal, "output"))[1]["data"]
    async with agent.client() as client:
        run = await client.post("/runs", json={"command": ["echo", "ran"], "stdin": "in\n"})
        assert run.status_code == 200, run.text
        tests = await client.post("/tests", json={"which": "visible"})
        assert tests.status_code == 200, tests.text
    await asyncio.sleep(0.2)  # coalesced output goes out within 50 ms

    events = await all_events(agent)
    kinds = [event["type"] for event in events]
    assert "terminal.resize" in kinds and "terminal.input" in kinds
    output = "".join(e["data"]["data"] for e in of_type(events, "terminal.output"))
    assert "rec-42" in output
    assert of_type(events, "terminal.input")[0]["author"]["role"] == "candidate"
    start = of_type(events, "run.start")[0]
    assert start["data"]["argv"] == ["echo", "ran"] and start["author"]["role"] == "candidate"
    run_id = start["data"]["run_id"]
    assert of_type(events, "run.input")[0]["data"] == {"run_id": run_id, "data": "in\n"}
    stdout = [
        e["data"]["data"] for e in of_type(events, "run.output") if e["data"]["run_id"] == run_id
    ]
    assert "".join(stdout) == "ran\n"
    assert of_type(events, "run.exit")[0]["data"]["reason"] == "exit"
    assert of_type(events, "tests.start")[0]["data"] == {"which": "visible"}
    results = of_type(events, "tests.result")
    assert results and all(e["data"]["outcome"] == "failed" for e in results)
    summary = of_type(events, "tests.summary")[-1]["data"]
    assert summary["status"] == "failed" and "stdout" not in summary


async def test_the_ide_adds_focus_and_paste_and_nothing_else(start_collab: StartCollab) -> None:
    agent = start_collab()
    async with agent.client() as candidate:
        lost = await candidate.post(
            "/recording/events", json={"type": "presence.focus", "data": {"state": "lost"}}
        )
        assert lost.status_code == 204
        paste = await candidate.post(
            "/recording/events",
            json={"type": "paste", "data": {"path": FILE, "size": 120, "source": "clipboard"}},
        )
        assert paste.status_code == 204
        for bad in (
            {"type": "chat.message", "data": {"text": "forged"}},
            {"type": "paste", "data": {"size": -1}},
            {"type": "presence.focus", "data": {"state": "asleep"}},
        ):
            refused = await candidate.post("/recording/events", json=bad)
            assert refused.status_code == 400, bad
            assert refused.json()["error"]["code"] == "invalid_input"
        # The recording itself is the portal's to read.
        forbidden = await candidate.get("/recording")
        assert forbidden.status_code == 403
    events = await all_events(agent)
    assert [(e["type"], e["author"]["role"], e["data"]) for e in events] == [
        ("presence.focus", "candidate", {"state": "lost"}),
        ("paste", "candidate", {"path": FILE, "size": 120, "source": "clipboard"}),
    ]


async def test_reading_acknowledges_and_a_killed_agent_loses_nothing_unacknowledged(
    start_collab: StartCollab,
) -> None:
    first = start_collab()
    async with first.client() as candidate:
        for index in range(5):
            await candidate.post(
                "/recording/events",
                json={"type": "paste", "data": {"path": None, "size": index}},
            )
    assert [e["seq"] for e in (await events_of(first))["events"]] == [1, 2, 3, 4, 5]
    # Asking after 3 acknowledges 1-3: they are gone from the buffer.
    after_three = await events_of(first, after=3)
    assert [e["seq"] for e in after_three["events"]] == [4, 5]
    assert (await events_of(first, after=0))["first_available"] == 4
    await asyncio.sleep(1.5)  # the buffer reaches the disk once a second
    first.stop(signal.SIGKILL)

    second = start_collab(workspace=first.workspace, challenge=False)
    again = await events_of(second, after=3)
    assert [e["seq"] for e in again["events"]] == [4, 5]
    async with second.client() as candidate:
        await candidate.post(
            "/recording/events", json={"type": "paste", "data": {"path": None, "size": 9}}
        )
    # Numbering continues after the highest number ever given, never reusing one.
    assert [e["seq"] for e in (await events_of(second, after=5))["events"]] == [6]


async def test_a_long_poll_returns_by_count_or_after_gathering(start_collab: StartCollab) -> None:
    agent = start_collab()

    async def paste_later(count: int, delay: float) -> None:
        await asyncio.sleep(delay)
        async with agent.client() as candidate:
            for _ in range(count):
                await candidate.post(
                    "/recording/events", json={"type": "paste", "data": {"path": None, "size": 1}}
                )

    started = time.monotonic()
    quiet = await events_of(agent, wait=0.5)
    assert quiet["events"] == [] and time.monotonic() - started >= 0.45
    # By count: three events are enough when limit is 3.
    started = time.monotonic()
    reader = asyncio.create_task(events_of(agent, wait=5, limit=3))
    await paste_later(3, 0.2)
    by_count = await reader
    assert len(by_count["events"]) == 3 and time.monotonic() - started < 1.5
    # By time: the first event starts at most a second of gathering.
    started = time.monotonic()
    reader = asyncio.create_task(events_of(agent, after=3, wait=5, limit=100))
    await paste_later(2, 0.2)
    by_time = await reader
    elapsed = time.monotonic() - started
    assert len(by_time["events"]) == 2 and 1.0 <= elapsed < 2.5


def test_a_torn_last_line_is_cut_and_numbering_continues(tmp_path: Path) -> None:
    folder = tmp_path / "recording"
    buffer = RecordingBuffer(folder)
    buffer.open()
    for index in range(3):
        buffer.append({"ts": 1.0, "author": {}, "type": "paste", "data": {"size": index}})
    buffer.close()
    segment = next(folder.glob("seg-*.jsonl"))
    with segment.open("ab") as handle:
        handle.write(b'{"seq": 4, "ts": 1.0, "type": "pa')  # the agent died mid-write
    again = RecordingBuffer(folder)
    again.open()
    assert [e["seq"] for e in again.events] == [1, 2, 3]
    assert segment.read_bytes().endswith(b"}\n")
    assert again.append({"ts": 2.0, "author": {}, "type": "paste", "data": {}})["seq"] == 4
    again.acknowledge(4)
    again.close()
    # Everything acknowledged and pruned: numbering still continues.
    third = RecordingBuffer(folder)
    third.open()
    assert (
        third.events == []
        and third.append({"ts": 3.0, "author": {}, "type": "x", "data": {}})["seq"] == 5
    )
    third.close()
    assert json.loads((folder / "acked").read_text()) == 4


async def test_the_recording_is_refused_cleanly_when_it_cannot_be_stored(
    start_agent: StartAgent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unsafe = tmp_path / "open-state"
    unsafe.mkdir()
    os.chmod(unsafe, 0o777)  # noqa: S103 - open to others: the agent refuses it
    monkeypatch.setenv(STATE_DIR_ENV, str(unsafe))
    agent = start_agent(user=f"{(uid := fresh_uid())}:{uid}")
    async with agent.portal_client() as portal:
        response = await portal.get("/recording")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "recording_unavailable"
    # Everything else works as before.
    async with agent.client() as client:
        run = await client.post("/runs", json={"command": ["true"]})
    assert run.status_code == 200 and run.json()["reason"] == "exit"
    assert "recording is off" in agent.log()


async def test_recording_switched_off_records_nothing(
    start_collab: StartCollab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREQUEL_AGENT_RECORDING", "off")
    agent = start_collab()
    async with agent.client() as client:
        run = await client.post("/runs", json={"command": ["true"]})
    assert run.status_code == 200
    async with agent.portal_client() as portal:
        response = await portal.get("/recording")
    assert response.status_code == 503
    assert "switched off" in response.json()["error"]["message"]
