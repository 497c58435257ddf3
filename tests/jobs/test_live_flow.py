"""Live interviews, invitations and endings through the API with the real worker."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta

from tests.jobs.test_crash_recovery import assert_clean_end, db_status, start_take_home
from tests.jobs.test_take_home_flow import wait_status
from tests.support.candidates import candidate_client
from tests.support.portal_process import PortalProcess
from tests.support.sse_reader import SseReader


def test_scheduled_live_interview_provisions_five_minutes_early(portal: PortalProcess) -> None:
    scheduled_at = datetime.now(UTC) + timedelta(minutes=5, seconds=2)
    with portal.client() as api:
        created = api.post(
            "/api/interviews",
            json={
                "kind": "live",
                "candidate_name": "Edsger Dijkstra",
                "challenge": "event-scheduler",
                "duration_minutes": 30,
                "scheduled_at": scheduled_at.isoformat(),
            },
        )
        assert created.status_code == 201, created.text
        interview = created.json()
        assert interview["status"] == "scheduled"
        password = interview["password"]
        active = wait_status(api, interview["id"], "active", timeout=30)
        # Ready about five minutes before the slot, and the slot keeps its full length.
        started = datetime.fromisoformat(active["started_at"])
        assert started < scheduled_at - timedelta(minutes=4)
        ends = datetime.fromisoformat(active["auto_destroy_at"])
        assert abs((ends - scheduled_at).total_seconds() - 30 * 0.1) < 1
        assert active["access_url"].endswith(f"/w/{interview['id']}/")

        with candidate_client(portal.url) as candidate:
            joined = candidate.post(
                f"/api/interviews/{interview['id']}/join",
                json={"password": password, "display_name": "Edsger"},
            )
        assert joined.status_code == 200, joined.text

        ended = api.post(f"/api/interviews/{interview['id']}/destroy")
        assert ended.status_code == 200, ended.text
        final = wait_status(api, interview["id"], "destroyed", timeout=30)
        assert final["end_reason"] == "ended_by_interviewer"
        assert_clean_end(portal, api, interview["id"])


def test_unstarted_invitation_expires(portal: PortalProcess) -> None:
    with portal.client() as api:
        created = api.post(
            "/api/interviews",
            json={
                "kind": "take_home",
                "candidate_name": "Barbara Liskov",
                "challenge": "sql-top-customers",
                "valid_days": 1,
                "duration_minutes": 60,
            },
        ).json()
        soon = (datetime.now(UTC) + timedelta(seconds=1)).replace(tzinfo=None)
        with sqlite3.connect(portal.data_dir / "prequel.db") as conn:
            conn.execute(
                "UPDATE interviews SET valid_until = ? WHERE id = ?",
                (soon.isoformat(sep=" "), created["id"]),
            )
        final = wait_status(api, created["id"], "destroyed", timeout=15)
        assert final["end_reason"] == "expired"
        with candidate_client(portal.url) as candidate:
            refused = candidate.post(
                f"/api/interviews/{created['id']}/activate",
                json={"passcode": created["passcode"]},
            )
        assert refused.status_code == 410, refused.text
        assert "expired" in refused.json()["error"]["message"]


def test_revoked_while_the_candidate_works(portal: PortalProcess) -> None:
    with portal.client() as api:
        interview_id = start_take_home(api, portal, minutes=240)
        wait_status(api, interview_id, "active")
        staff = SseReader(f"{portal.url}/api/events", {"Authorization": f"Bearer {portal.token}"})
        try:
            staff.wait_for(lambda e: e.type == "connection")
            assert api.post(f"/api/interviews/{interview_id}/destroy").status_code == 200
            staff.wait_for(
                lambda e: (
                    e.type == "operation_update"
                    and e.data.get("type") == "destroy"
                    and e.data.get("status") == "completed"
                ),
                timeout=30,
            )
        finally:
            staff.close()
        final = wait_status(api, interview_id, "destroyed")
        assert final["end_reason"] == "revoked"
        assert_clean_end(portal, api, interview_id)
        again = api.post(f"/api/interviews/{interview_id}/destroy")
        assert again.status_code == 409
        assert db_status(portal, interview_id) == "destroyed"
        time.sleep(0)
