"""The collector against a real portal and a real workspace: every event the agent records
reaches the database exactly once, through a portal killed and restarted mid-session, and
what the end adds (the hidden tests) is drained before the workspace goes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.jobs.test_crash_recovery import start_take_home
from tests.jobs.test_take_home_flow import wait_status
from tests.support.ide import workspace_folder
from tests.support.portal_process import PortalProcess, running_portal


@contextmanager
def agent(portal: PortalProcess, interview_id: str) -> Iterator[httpx.Client]:
    folder = workspace_folder(portal, interview_id)
    endpoint = json.loads((folder / "owner.json").read_text())["endpoint"]
    token = (folder / "portal.token").read_text().strip()
    transport = httpx.HTTPTransport(uds=endpoint.removeprefix("unix:"))
    with httpx.Client(
        transport=transport,
        base_url="http://agent",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        yield client


def run(client: httpx.Client, label: str) -> None:
    response = client.post("/runs", json={"command": ["echo", label]})
    assert response.status_code == 200, response.text
    assert response.json()["stdout"] == f"{label}\n"


def stored(portal: PortalProcess, interview_id: str) -> list[tuple[int, str, str]]:
    with sqlite3.connect(portal.data_dir / "prequel.db") as conn:
        rows = conn.execute(
            "SELECT seq, type, data FROM recording_events WHERE interview_id = ? ORDER BY seq",
            (interview_id,),
        ).fetchall()
    return [(int(seq), str(kind), str(data)) for seq, kind, data in rows]


def wait_for_outputs(portal: PortalProcess, interview_id: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sum(kind == "run.output" for _, kind, _ in stored(portal, interview_id)) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} run outputs were collected")


@pytest.fixture
def portal() -> Iterator[PortalProcess]:
    # Interview minutes of a second: the 60-minute take-home outlasts the test.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="1") as process:
        yield process


def test_a_killed_portal_loses_and_duplicates_nothing(portal: PortalProcess) -> None:
    with portal.client() as api:
        interview_id = start_take_home(api, portal, minutes=60)
        wait_status(api, interview_id, "active", timeout=60)
        with agent(portal, interview_id) as client:
            for n in range(10):
                run(client, f"before-{n}")
            wait_for_outputs(portal, interview_id, 10)  # collected while the portal runs
            portal.kill()
            for n in range(10):
                run(client, f"while-down-{n}")
            # The agent kept them: nothing was acknowledged while the portal was down.
            held = client.get("/recording", params={"after": 0, "limit": 5000}).json()
            assert any("while-down-9" in json.dumps(e["data"]) for e in held["events"])
            portal.start()
            for n in range(10):
                run(client, f"after-{n}")
            wait_for_outputs(portal, interview_id, 30)
        assert api.post(f"/api/interviews/{interview_id}/destroy").status_code == 200
        wait_status(api, interview_id, "destroyed", timeout=120)

    events = stored(portal, interview_id)
    seqs = [seq for seq, _, _ in events]
    assert seqs == list(range(1, len(seqs) + 1)), "a gap: an event was lost"
    outputs = [data for _, kind, data in events if kind == "run.output"]
    labels = [json.loads(data)["data"].strip() for data in outputs]
    expected = [f"{phase}-{n}" for phase in ("before", "while-down", "after") for n in range(10)]
    assert [label for label in labels if label in expected] == expected  # once each, in order
    kinds = [kind for _, kind, _ in events]
    assert kinds.count("run.start") == 30
    # The hidden tests ran at the end, and the drain collected them before the destroy.
    summaries = [json.loads(data) for _, kind, data in events if kind == "tests.summary"]
    assert {summary["which"] for summary in summaries} >= {"hidden"}
    with portal.client() as api:
        timeline = api.get(f"/api/interviews/{interview_id}/replay/timeline").json()
    assert timeline["last_seq"] == len(seqs)
