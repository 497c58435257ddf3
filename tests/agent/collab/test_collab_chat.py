"""The chat: stored by the agent, stamped with who sent it, replayed to whoever joins."""

from __future__ import annotations

import json

from tests.agent.collab.conftest import StartCollab
from tests.agent.collab.yclient import chat_receive, raw_connect, staff_headers


async def test_history_reaches_a_client_that_joins_later(start_collab: StartCollab) -> None:
    agent = start_collab()
    portal = agent.portal_token or ""
    ida = staff_headers("interviewer", "u-ida", "Ida")
    async with raw_connect(agent.socket_path, "/collab/chat", agent.token) as cleo:
        assert (await chat_receive(cleo))["type"] == "hello"
        assert (await chat_receive(cleo)) == {"type": "history", "messages": []}
        # A forged author is ignored: the agent says who sent it.
        await cleo.send(json.dumps({"type": "send", "text": "Hi, ready!", "user": {"id": "x"}}))
        first = await chat_receive(cleo)
        assert first["type"] == "message"
        assert first["message"]["user"] == {
            "id": "candidate",
            "name": "Candidate",
            "role": "candidate",
        }
        async with raw_connect(agent.socket_path, "/collab/chat", portal, ida) as interviewer:
            await chat_receive(interviewer)
            history = await chat_receive(interviewer)
            assert [m["text"] for m in history["messages"]] == ["Hi, ready!"]
            await interviewer.send(json.dumps({"type": "send", "text": "Welcome ✨"}))
            echoed = await chat_receive(cleo)
            assert echoed["message"]["text"] == "Welcome ✨"
            assert echoed["message"]["user"]["role"] == "interviewer"
        await cleo.send(json.dumps({"type": "send", "text": ""}))
        assert (await chat_receive(cleo))["code"] == "invalid_input"

    spectator = staff_headers("spectator", "u-sam", "Sam")
    async with raw_connect(agent.socket_path, "/collab/chat", portal, spectator) as sam:
        hello = await chat_receive(sam)
        assert hello["can_send"] is False
        history = await chat_receive(sam)
        assert [m["text"] for m in history["messages"]] == ["Hi, ready!", "Welcome ✨"]
        await sam.send(json.dumps({"type": "send", "text": "I should not be seen"}))
        assert (await chat_receive(sam))["code"] == "read_only"

    # Stored by the agent: a restart keeps it, and ?after= gives only what was missed.
    workspace = agent.workspace
    assert agent.stop() == 0
    again = start_collab(workspace=workspace, challenge=False)
    async with raw_connect(again.socket_path, "/collab/chat?after=1", again.token) as late:
        await chat_receive(late)
        history = await chat_receive(late)
        assert [m["text"] for m in history["messages"]] == ["Welcome ✨"]
