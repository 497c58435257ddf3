"""The whole take-home flow through the API, with a real local workspace (seed 000)."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import tarfile
import time
from typing import Any

import httpx

from prequel.settings import load_settings
from prequel.workspaces.base import Handle
from prequel.workspaces.local import LocalProvisioner
from tests.support.candidates import candidate_client
from tests.support.portal_process import PortalProcess, agent_processes
from tests.support.sse_reader import SseReader


def handle_of(portal: PortalProcess, interview_id: str) -> Handle:
    with sqlite3.connect(portal.data_dir / "prequel.db") as conn:
        row = conn.execute(
            "SELECT backend, name, uid, endpoint, pid, pid_started FROM workspace_handles "
            "WHERE interview_id = ?",
            (interview_id,),
        ).fetchone()
    assert row is not None
    backend, name, uid, endpoint, pid, started = row
    return Handle(interview_id, backend, name, uid, endpoint, pid, started)


def wait_status(
    api: httpx.Client, interview_id: str, wanted: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = api.get(f"/api/interviews/{interview_id}").json()
        if body["status"] == wanted:
            return body
        time.sleep(0.1)
    raise AssertionError(f"status stayed {body.get('status')}, wanted {wanted}")


async def edit_through_agent(portal: PortalProcess, interview_id: str, text: str) -> None:
    settings = load_settings(data_dir=portal.data_dir, env="test")
    provisioner = LocalProvisioner(settings)
    async with provisioner.agent_client(handle_of(portal, interview_id)) as agent:
        response = await agent.put("/files/notes.md", json={"content": text})
        assert response.status_code in (200, 201), response.text


def test_take_home_from_invitation_to_saved_work(portal: PortalProcess) -> None:
    with portal.client() as api:
        created = api.post(
            "/api/interviews",
            json={
                "kind": "take_home",
                "candidate_name": "Grace Hopper",
                "challenge": "rate-limiter",
                "valid_days": 3,
                "duration_minutes": 60,
            },
        )
        assert created.status_code == 201, created.text
        interview = created.json()
        passcode, interview_id = interview["passcode"], interview["id"]
        assert interview["candidate_url"].endswith(f"/take-home/{passcode}")

        seen = httpx.get(f"{portal.url}/api/interviews/by-passcode/{passcode}", timeout=30)
        assert seen.status_code == 200 and seen.json()["status"] == "invited"
        stream = SseReader(f"{portal.url}/api/interviews/by-passcode/{passcode}/events")
        try:
            stream.wait_for(lambda e: e.type == "connection")
            with candidate_client(portal.url) as candidate:
                activated = candidate.post(
                    f"/api/interviews/{interview_id}/activate", json={"passcode": passcode}
                )
            assert activated.status_code == 200, activated.text
            stream.wait_for(lambda e: e.data.get("status") == "active", timeout=30)
            statuses = stream.statuses()
            for step in ("initializing", "configuring", "active"):
                assert step in statuses, statuses
            assert statuses.index("initializing") < statuses.index("configuring")
            assert statuses.index("configuring") < statuses.index("active")

            asyncio.run(edit_through_agent(portal, interview_id, "# my notes\nsliding window\n"))
            stream.wait_for(
                lambda e: e.type == "scheduler_event" and e.data.get("minutes_left") == 5,
                timeout=15,
            )
            done = stream.wait_for(lambda e: e.data.get("status") == "destroyed", timeout=30)
            assert done.data["end_reason"] == "time_up"
            # The candidate's stream never carries staff-only data.
            for event in stream.snapshot():
                assert "passcode" not in event.data and "password" not in event.data
        finally:
            stream.close()

        final = wait_status(api, interview_id, "destroyed")
        assert final["end_reason"] == "time_up"
        assert final["archive"]["size"] > 0
        saved = api.get(f"/api/interviews/{interview_id}/archive")
        assert saved.status_code == 200
        with tarfile.open(fileobj=io.BytesIO(saved.content), mode="r:gz") as tar:
            names = tar.getnames()
            notes = tar.extractfile(next(n for n in names if n.endswith("notes.md")))
            assert notes is not None and b"sliding window" in notes.read()
        assert any(name.endswith(".py") for name in names)  # the starter files were there
        operations = api.get(f"/api/interviews/{interview_id}/operations").json()["operations"]
        assert {op["type"]: op["status"] for op in operations} == {
            "create": "completed",
            "destroy": "completed",
        }
    assert agent_processes(portal.data_dir) == []
    assert not list((portal.data_dir / "workspaces").glob("pq-*"))
