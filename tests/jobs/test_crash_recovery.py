"""SIGKILL `prequel serve` mid-lifecycle, restart it, and check nothing is lost or orphaned."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from tests.jobs.test_take_home_flow import handle_of, wait_status
from tests.support.candidates import candidate_client
from tests.support.portal_process import PortalProcess, agent_processes


def start_take_home(api: httpx.Client, portal: PortalProcess, minutes: int = 60) -> str:
    created = api.post(
        "/api/interviews",
        json={
            "kind": "take_home",
            "candidate_name": "Alan Turing",
            "challenge": "rate-limiter",
            "valid_days": 1,
            "duration_minutes": minutes,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    with candidate_client(portal.url) as candidate:
        activated = candidate.post(
            f"/api/interviews/{body['id']}/activate", json={"passcode": body["passcode"]}
        )
    assert activated.status_code == 200, activated.text
    return str(body["id"])


def db_status(portal: PortalProcess, interview_id: str) -> str:
    with sqlite3.connect(portal.data_dir / "prequel.db") as conn:
        row = conn.execute("SELECT status FROM interviews WHERE id = ?", (interview_id,)).fetchone()
    return str(row[0])


def workspace_dirs(data_dir: Path) -> list[Path]:
    return list((data_dir / "workspaces").glob("pq-*"))


def assert_clean_end(portal: PortalProcess, api: httpx.Client, interview_id: str) -> None:
    final = wait_status(api, interview_id, "destroyed", timeout=60)
    assert final["archive"] is not None and final["archive"]["size"] > 0
    assert api.get(f"/api/interviews/{interview_id}/archive").status_code == 200
    deadline = time.monotonic() + 10
    while agent_processes(portal.data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert agent_processes(portal.data_dir) == []
    assert workspace_dirs(portal.data_dir) == []


def test_killed_while_initializing(portal: PortalProcess) -> None:
    with portal.client() as api:
        interview_id = start_take_home(api, portal)
        portal.kill()  # right after activation: the create job is queued or just started
        assert db_status(portal, interview_id) in ("initializing", "configuring", "active")
        portal.start()
        wait_status(api, interview_id, "active", timeout=60)
        # One agent for the one workspace: the retried create adopted, never doubled.
        assert len(agent_processes(portal.data_dir)) == 1
        assert len(workspace_dirs(portal.data_dir)) == 1
        assert api.post(f"/api/interviews/{interview_id}/destroy").status_code == 200
        assert_clean_end(portal, api, interview_id)


def test_killed_while_active(portal: PortalProcess) -> None:
    with portal.client() as api:
        interview_id = start_take_home(api, portal, minutes=150)  # 15 s here
        wait_status(api, interview_id, "active")
        before = handle_of(portal, interview_id)
        portal.kill()
        # The agent outlives the portal: the candidate keeps working through a restart.
        assert agent_processes(portal.data_dir) == [before.pid]
        portal.start()
        time.sleep(3)  # at least one reconciliation pass
        assert db_status(portal, interview_id) == "active"
        assert handle_of(portal, interview_id).pid == before.pid
        final = wait_status(api, interview_id, "destroyed", timeout=60)  # time is up
        assert final["end_reason"] == "time_up"
        assert_clean_end(portal, api, interview_id)


def test_killed_while_destroying(portal: PortalProcess) -> None:
    with portal.client() as api:
        interview_id = start_take_home(api, portal)
        wait_status(api, interview_id, "active")
        assert api.post(f"/api/interviews/{interview_id}/destroy").status_code == 200
        portal.kill()
        assert db_status(portal, interview_id) in ("destroying", "destroyed")
        portal.start()
        final = wait_status(api, interview_id, "destroyed", timeout=60)
        assert final["end_reason"] == "revoked"
        assert_clean_end(portal, api, interview_id)
