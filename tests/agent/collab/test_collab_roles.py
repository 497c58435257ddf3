"""Roles: observe mode, spectators, private notes, and who may claim a role at all."""

from __future__ import annotations

import asyncio

import pytest
from pycrdt import Text
from websockets.exceptions import InvalidStatus

from tests.agent.collab.conftest import read_file
from tests.agent.collab.yclient import raw_connect, staff_headers, wait_for, yconnect
from tests.agent.conftest import RunningAgent

FILE = "rate_limiter.py"
INTERVIEWER = staff_headers("interviewer", "u-ida", "Ida Ünterviewer")
SPECTATOR = staff_headers("spectator", "u-sam", "Sam")
CANDIDATE_VIA_PORTAL = staff_headers("candidate", "c-1", "Cleo")


async def _set_mode(agent: RunningAgent, mode: str) -> None:
    async with agent.portal_client() as portal:
        response = await portal.post("/collab/mode", json={"mode": mode})
    assert response.status_code == 200, response.text
    assert response.json() == {"mode": mode}


async def test_joining_client_receives_everyones_awareness(collab: RunningAgent) -> None:
    async with (
        yconnect(collab.socket_path, collab.token) as alice,
        yconnect(collab.socket_path, collab.portal_token or "", headers=INTERVIEWER) as ida,
    ):
        alice.set_awareness({"user": {"name": "alice"}, "cursor": {"anchor": 3}})
        ida.set_awareness({"user": {"name": "ida"}})
        await wait_for(lambda: alice.doc.client_id in ida.awareness.states, what="relay")
        await wait_for(lambda: ida.doc.client_id in alice.awareness.states, what="relay")
        async with yconnect(collab.socket_path, collab.token) as late:
            # Right on joining, before anyone moves again.
            await wait_for(
                lambda: {alice.doc.client_id, ida.doc.client_id} <= set(late.awareness.states),
                seconds=2,
                what="existing awareness on join",
            )
            state = late.awareness.states[alice.doc.client_id]
            assert state["cursor"] == {"anchor": 3}
            # The agent stamps who each state belongs to, from the connection.
            assert state["prequel"]["role"] == "candidate"
            assert late.awareness.states[ida.doc.client_id]["prequel"] == {
                "id": "u-ida",
                "name": "Ida Ünterviewer",
                "role": "interviewer",
            }
        # Someone who leaves is removed from everyone's awareness.
        await wait_for(lambda: late.doc.client_id not in alice.awareness.states, what="leave")


async def test_observe_mode_rejects_candidate_edits_on_the_server(collab: RunningAgent) -> None:
    token = collab.portal_token or ""
    async with (
        yconnect(collab.socket_path, collab.token) as candidate,
        yconnect(collab.socket_path, token, headers=INTERVIEWER) as ida,
    ):
        hello = candidate.notice("hello")
        assert hello is not None and hello["writable"] is True and hello["mode"] == "edit"
        original = read_file(collab, FILE)
        # Only the portal may switch the mode.
        async with collab.client() as workspace_client:
            refused = await workspace_client.post("/collab/mode", json={"mode": "observe"})
        assert refused.status_code == 403
        await _set_mode(collab, "observe")
        await wait_for(lambda: candidate.notice("mode") is not None, what="mode notice")
        assert candidate.notice("mode") == {"type": "mode", "mode": "observe", "writable": False}
        assert ida.notice("mode") == {"type": "mode", "mode": "observe", "writable": True}

        # A candidate that edits anyway (a modified client) is refused by the server.
        candidate.insert(FILE, 0, "# candidate sneaks in\n")
        await wait_for(lambda: candidate.closed.is_set(), what="candidate closed")
        assert candidate.close_code == 4412
        rejected = candidate.notice("rejected")
        assert rejected is not None and rejected["reason"] == "read_only"
        await asyncio.sleep(1.2)
        assert ida.text(FILE) == original
        assert read_file(collab, FILE) == original

        # The interviewer's edits still apply, and reach the disk.
        ida.insert(FILE, 0, "# interviewer note\n")
        await wait_for(lambda: read_file(collab, FILE).startswith("# interviewer note\n"))
        async with yconnect(collab.socket_path, collab.token) as again:
            assert again.notice("hello") is not None
            assert again.notice("hello")["writable"] is False  # type: ignore[index]
            assert again.text(FILE) == "# interviewer note\n" + original

        await _set_mode(collab, "edit")
        async with yconnect(collab.socket_path, collab.token) as back:
            back.insert(FILE, 0, "# candidate again\n")
            await wait_for(lambda: (ida.text(FILE) or "").startswith("# candidate again\n"))


async def test_spectators_are_invisible_to_candidates(collab: RunningAgent) -> None:
    token = collab.portal_token or ""
    async with (
        yconnect(collab.socket_path, collab.token) as candidate,
        yconnect(collab.socket_path, token, headers=INTERVIEWER) as ida,
    ):
        async with yconnect(collab.socket_path, token, headers=SPECTATOR) as sam:
            hello = sam.notice("hello")
            assert hello is not None and hello["writable"] is False
            sam.set_awareness({"user": {"name": "sam"}, "cursor": {"anchor": 1}})
            candidate.set_awareness({"user": {"name": "cleo"}})
            await wait_for(lambda: sam.doc.client_id in ida.awareness.states, what="staff see")
            await wait_for(lambda: candidate.doc.client_id in sam.awareness.states)
            for i in range(3):
                sam.set_awareness({"user": {"name": "sam"}, "cursor": {"anchor": i}})
            await asyncio.sleep(0.5)
            # A spectator cannot edit either.
            sam.insert(FILE, 0, "# spectator\n")
            await wait_for(lambda: sam.closed.is_set(), what="spectator refused")
            assert sam.close_code == 4412
        await asyncio.sleep(0.3)
        assert sam.doc.client_id not in candidate.awareness_ids
        assert sam.doc.client_id not in candidate.awareness.states
        assert "# spectator" not in (ida.text(FILE) or "")


async def test_notes_never_reach_a_candidate_socket(collab: RunningAgent) -> None:
    token = collab.portal_token or ""
    secret = "SECRET-weak-on-concurrency-7f3a"
    async with (
        yconnect(collab.socket_path, collab.token) as candidate,
        yconnect(collab.socket_path, token, headers=CANDIDATE_VIA_PORTAL) as portal_candidate,
        raw_connect(collab.socket_path, "/collab/chat", collab.token) as chat,
    ):
        async with yconnect(
            collab.socket_path, token, path="/collab/notes", headers=INTERVIEWER
        ) as notes:
            notes.doc["notes"] = Text(f"# Notes\n{secret}\n")
            async with yconnect(
                collab.socket_path, token, path="/collab/notes", headers=SPECTATOR
            ) as reader:
                await wait_for(lambda: secret in str(reader.doc.get("notes", type=Text)))
                # Spectators read the notes but cannot change them.
                reader.doc.get("notes", type=Text).insert(0, "spectator was here ")
                await wait_for(lambda: reader.closed.is_set(), what="spectator refused")
            # Candidates cannot join the notes room, with either token.
            for who, headers in (
                (collab.token, {"X-Prequel-Role": "interviewer"}),
                (token, CANDIDATE_VIA_PORTAL),
            ):
                async with yconnect(
                    collab.socket_path,
                    who,
                    path="/collab/notes",
                    headers=headers,
                    wait_synced=False,
                ) as intruder:
                    await wait_for(lambda: intruder.closed.is_set(), what="refused")
                    assert intruder.close_code == 4403
                    assert intruder.raw == []
            await asyncio.sleep(1.2)
        chat_bytes = b""
        while True:
            try:
                async with asyncio.timeout(0.2):
                    frame = await chat.recv()
            except TimeoutError:
                break
            chat_bytes += frame.encode() if isinstance(frame, str) else frame
        seen = b"".join(candidate.raw) + b"".join(portal_candidate.raw) + chat_bytes
        assert candidate.raw and portal_candidate.raw
        assert secret.encode() not in seen
    # Nor are they in the workspace (files, hence the archive and the sandbox).
    for path in collab.workspace.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


async def test_the_workspace_token_cannot_claim_a_role(collab: RunningAgent) -> None:
    async with yconnect(collab.socket_path, collab.token, headers=INTERVIEWER) as claimer:
        hello = claimer.notice("hello")
        assert hello is not None
        assert hello["user"] == {"id": "candidate", "name": "Candidate", "role": "candidate"}
        await _set_mode(collab, "observe")
        await wait_for(lambda: claimer.notice("mode") is not None)
        assert claimer.notice("mode")["writable"] is False  # type: ignore[index]
        claimer.insert(FILE, 0, "# I am the interviewer, honest\n")
        await wait_for(lambda: claimer.closed.is_set())
        assert claimer.close_code == 4412
    async with raw_connect(
        collab.socket_path,
        "/collab/doc",
        collab.portal_token or "",
        {"X-Prequel-Role": "admin"},
    ) as bad:
        async with asyncio.timeout(5):
            await bad.wait_closed()
        assert bad.close_code == 4400


async def test_everything_needs_a_token(collab: RunningAgent) -> None:
    async with collab.anonymous_client() as anonymous:
        assert (await anonymous.get("/collab/mode")).status_code == 401
        assert (await anonymous.get("/collab/status")).status_code == 401
    async with collab.client() as workspace_client:
        assert (await workspace_client.get("/collab/mode")).json() == {"mode": "edit"}
        assert (await workspace_client.get("/collab/status")).status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        async with raw_connect(collab.socket_path, "/collab/doc", "not-the-token"):
            pass
    assert refused.value.response.status_code == 401
