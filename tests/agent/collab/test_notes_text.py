"""GET /collab/notes/text: the portal copies the interviewers' private notes before the
workspace goes; nobody else can read them this way, and they survive an agent restart."""

from __future__ import annotations

import asyncio

from pycrdt import Text

from tests.agent.collab.conftest import StartCollab
from tests.agent.collab.yclient import staff_headers, yconnect
from tests.agent.conftest import RunningAgent

INTERVIEWER = staff_headers("interviewer", "u-ida", "Ida")


async def notes_text(agent: RunningAgent) -> str:
    async with agent.portal_client() as portal:
        response = await portal.get("/collab/notes/text")
    assert response.status_code == 200, response.text
    text: str = response.json()["text"]
    return text


async def test_the_portal_reads_the_notes_and_no_one_else_can(start_collab: StartCollab) -> None:
    agent = start_collab()
    assert await notes_text(agent) == ""
    async with yconnect(
        agent.socket_path, agent.portal_token or "", path="/collab/notes", headers=INTERVIEWER
    ) as notes:
        notes.doc["notes"] = Text("Strong on tests.\nAsk about concurrency.\n")
        await wait_for_text(agent, "Ask about concurrency")
    async with agent.client() as candidate:
        refused = await candidate.get("/collab/notes/text")
    assert refused.status_code == 403
    assert "concurrency" not in refused.text


async def wait_for_text(agent: RunningAgent, fragment: str) -> None:
    for _ in range(100):
        if fragment in await notes_text(agent):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the notes never said {fragment!r}")


async def test_the_notes_survive_an_agent_restart(start_collab: StartCollab) -> None:
    first = start_collab()
    async with yconnect(
        first.socket_path, first.portal_token or "", path="/collab/notes", headers=INTERVIEWER
    ) as notes:
        notes.doc["notes"] = Text("Kept across a restart.")
        await wait_for_text(first, "Kept across")
    assert first.stop() == 0
    second = start_collab(workspace=first.workspace, challenge=False)
    assert await notes_text(second) == "Kept across a restart."
