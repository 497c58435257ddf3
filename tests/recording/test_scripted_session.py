"""A scripted session through a real portal and a real workspace: the candidate types, runs,
tests, chats and pastes; the interviewer chats. After the end, the replay at each of those
moments shows the files, the terminal and the chat as they were then, and the report counts
what happened."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Text

from tests.agent.collab.yclient import YClient, raw_connect, staff_headers, yconnect
from tests.jobs.test_crash_recovery import start_take_home
from tests.jobs.test_take_home_flow import wait_status
from tests.support.ide import workspace_folder
from tests.support.portal_process import PortalProcess, running_portal

MAIN = "rate_limiter.py"
NOTES = "Private: good instincts on edge cases."


@pytest.fixture
def portal() -> Iterator[PortalProcess]:
    # Interview minutes of two seconds: the 60-minute take-home outlasts the script.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="2") as process:
        yield process


class Workspace:
    def __init__(self, portal: PortalProcess, interview_id: str) -> None:
        folder = workspace_folder(portal, interview_id)
        self.socket = Path(json.loads((folder / "owner.json").read_text())["endpoint"][5:])
        self.candidate_token = (folder / "agent.token").read_text().strip()
        self.portal_token = (folder / "portal.token").read_text().strip()

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(self.socket)),
            base_url="http://agent",
            headers={"Authorization": f"Bearer {self.candidate_token}"},
            timeout=60,
        )


async def settle() -> float:
    """Let the agent record what just happened, then note the moment."""
    await asyncio.sleep(0.4)
    moment = time.time()
    await asyncio.sleep(0.4)
    return moment


async def type_text(doc: YClient, path: str, text: str, at: int) -> None:
    for offset, char in enumerate(text):
        doc.insert(path, at + offset, char)
        await asyncio.sleep(0.01)


async def script(ws: Workspace) -> list[dict[str, Any]]:
    """Runs the session; returns what was true at each noted moment."""
    moments: list[dict[str, Any]] = []
    chat: list[str] = []
    ida = staff_headers("interviewer", "u-ida", "Ida Interviewer")
    async with (
        yconnect(ws.socket, ws.candidate_token) as doc,
        raw_connect(ws.socket, "/collab/chat", ws.candidate_token) as candidate_chat,
        raw_connect(ws.socket, "/collab/chat", ws.portal_token, ida) as interviewer_chat,
        raw_connect(ws.socket, "/terminal", ws.candidate_token) as terminal,
        yconnect(ws.socket, ws.portal_token, path="/collab/notes", headers=ida) as notes,
        ws.http() as http,
    ):

        def note(name: str, moment: float, **extra: Any) -> None:
            files = {path: doc.text(path) for path in doc.files.keys()}  # noqa: SIM118
            moments.append(
                {"name": name, "ts": moment, "files": files, "chat": list(chat), **extra}
            )

        notes.doc["notes"] = Text(NOTES)
        note("start", await settle())
        await type_text(doc, MAIN, "# typed in the replay test\n", 0)
        note("typed", await settle())
        await terminal.send(json.dumps({"type": "input", "data": "echo replay-$((6*7))\r"}))
        note("terminal", await settle(), terminal="replay-42")
        run = await http.post("/runs", json={"file": MAIN})
        assert run.status_code == 200, run.text
        tests = await http.post("/tests", json={"which": "visible"})
        assert tests.status_code == 200, tests.text
        note("tested", await settle(), tests=tests.json()["summary"])
        for sender, text in (
            (candidate_chat, "Is the limit per user?"),
            (interviewer_chat, "Yes."),
        ):
            await sender.send(json.dumps({"type": "send", "text": text}))
            chat.append(text)
        note("chatted", await settle())
        pasted = await http.post(
            "/recording/events",
            json={"type": "paste", "data": {"path": MAIN, "size": 27, "source": "clipboard"}},
        )
        assert pasted.status_code == 204, pasted.text
        await type_text(doc, MAIN, "# the end\n", len(doc.text(MAIN) or ""))
        note("end", await settle())
    return moments


def replay_at(api: httpx.Client, interview_id: str, ts: float) -> dict[str, Any]:
    response = api.get(f"/api/interviews/{interview_id}/replay/state", params={"ts": ts})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_replay_shows_each_moment_as_it_was(portal: PortalProcess) -> None:
    with portal.client() as api:
        interview_id = start_take_home(api, portal, minutes=60)
        wait_status(api, interview_id, "active", timeout=60)
        moments = asyncio.run(script(Workspace(portal, interview_id)))
        assert api.post(f"/api/interviews/{interview_id}/destroy").status_code == 200
        wait_status(api, interview_id, "destroyed", timeout=180)

        for moment in moments:
            state = replay_at(api, interview_id, moment["ts"])
            assert state["files"] == moment["files"], moment["name"]
            assert [m["text"] for m in state["chat"]] == moment["chat"], moment["name"]
            screen = "\n".join(state["terminal"]["lines"])
            if "terminal" in moment or moment["name"] in ("tested", "chatted", "end"):
                assert "replay-42" in screen, moment["name"]
            else:
                assert "replay-42" not in screen, moment["name"]
        tested = replay_at(api, interview_id, moments[3]["ts"])
        assert tested["tests"]["summary"]["total"] == moments[3]["tests"]["total"]
        assert tested["run"]["file"] == MAIN and tested["run"]["exit"] is not None
        typed = replay_at(api, interview_id, moments[1]["ts"])
        assert typed["last_change"]["path"] == MAIN

        report = api.get(f"/api/interviews/{interview_id}/report").json()
        figures = {item["key"]: item for item in report["scores"]["figures"]}
        assert figures["runs"]["value"] == 1
        assert figures["test_runs"]["value"] == 1
        assert figures["paste_volume"]["value"] == 27
        assert figures["hidden_tests"]["value"] is not None  # graded at the end
        assert figures["time_used"]["value"] is not None
        assert report["private_notes"] == NOTES  # copied before the workspace went
        labels = [moment["label"] for moment in report["moments"]]
        assert any("pasted 27" in label or "largest paste: 27" in label for label in labels)
