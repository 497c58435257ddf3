"""The candidate pages rendered by the server: every state of the take-home link, the live
join page and the workspace page, their access rules, escaping, CSRF and security headers.

Interviews are created through the staff API where the flow allows it, and put in the later
states directly in the database (the worker does not run here). Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.candidate_throttle import CandidateThrottle
from prequel.auth.throttle import open_limits_storage
from prequel.db.models import Interview, Organization
from prequel.db.types import utcnow
from prequel.interviews.credentials import issue_password
from prequel.settings import CandidateSettings, Settings
from prequel.state import AppState
from prequel.web.security_headers import CONTENT_SECURITY_POLICY
from tests.support.factories import make_challenge

HTML = {"accept": "text/html"}
SECTION = re.compile(r'<section data-states="([^"]+)"[^>]*?( hidden)?>')
SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


@pytest.fixture(autouse=True)
async def demo_challenge(db: AsyncSession, org: Organization) -> None:
    await make_challenge(db, org, slug="demo")
    await db.commit()


@pytest.fixture
async def browser(app: FastAPI) -> Any:
    """An anonymous browser (no staff login)."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.20", 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=HTML
    ) as client:
        yield client


async def invite(staff: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "take_home",
        "candidate_name": "Ada Lovelace",
        "challenge": "demo",
        "valid_days": 3,
        "duration_minutes": 90,
        **extra,
    }
    response = await staff.post("/api/interviews", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def live(staff: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "live",
        "candidate_name": "Alan Turing",
        "challenge": "demo",
        "duration_minutes": 60,
        "scheduled_at": (utcnow() + timedelta(hours=2)).isoformat(),
        **extra,
    }
    response = await staff.post("/api/interviews", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def set_fields(db: AsyncSession, interview_id: str, **fields: Any) -> Interview:
    row = await db.get(Interview, interview_id, populate_existing=True)
    assert row is not None
    for name, value in fields.items():
        setattr(row, name, value)
    await db.commit()
    return row


def shown(html: str) -> list[str]:
    """The data-states of the sections the page shows (not hidden) before any script runs:
    "ready" for a section of that state alone, "ready starting active" for one shared."""
    return [states for states, hidden in SECTION.findall(html) if not hidden]


INSTRUCTIONS = "ready starting active"


IDE_CONFIG = re.compile(r'<script type="application/json" id="ide-config">(.*?)</script>', re.S)


def ide_config(html: str) -> dict[str, Any]:
    """The IDE page's configuration for the bundle (frontend/src/ide/config.ts)."""
    found = IDE_CONFIG.search(html)
    assert found, "not the IDE page"
    value: dict[str, Any] = json.loads(found.group(1))
    return value


def meta_token(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def assert_every_control_is_labelled(html: str) -> None:
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)
    visible = [c for c in controls if 'type="hidden"' not in c]
    assert visible, "no form controls"
    for control in visible:
        found = re.search(r'id="([^"]+)"', control)
        assert found, f"{control} has no id for a label"
        assert f'<label for="{found.group(1)}">' in html, f"{control} has no label"


def active_fields(settings: Settings) -> tuple[str, dict[str, Any]]:
    issued = issue_password(settings.secret_key.get_secret_value())
    now = utcnow()
    return issued.plain, {
        "status": "active",
        "activated_at": now - timedelta(minutes=2),
        "started_at": now - timedelta(minutes=1),
        "auto_destroy_at": now + timedelta(minutes=89),
        "password_hash": issued.hash,
        "password_encrypted": issued.encrypted,
    }


# The take-home link ---------------------------------------------------------------------------


async def test_an_unknown_passcode_is_a_404_page_with_advice(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/take-home/KMNPQRTU")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Take-home test not found" in response.text
    assert "No take-home test has this passcode; check the link you were sent." in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_an_invitation_shows_the_instructions_and_the_start_button(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    invitation = await invite(
        interviewer_client, custom_instructions="Use **only** the standard library."
    )
    response = await browser.get(f"/take-home/{invitation['passcode']}")
    assert response.status_code == 200, response.text
    html = response.text
    assert shown(html) == ["ready", INSTRUCTIONS, INSTRUCTIONS, "ready"]
    assert "Ready when you are" in html
    assert "You will have 90 minutes" in html
    assert "How it works" in html
    assert "The workspace is destroyed when the time is up." in html
    assert "Instructions from your interviewer" in html
    assert "Use <strong>only</strong> the standard library." in html
    assert "data-start" in html and "Start the test" in html
    assert 'href="/' not in html.split('id="main"')[1], "no links to staff pages"
    for header in ("content-security-policy", "x-content-type-options", "referrer-policy"):
        assert header in response.headers


async def test_the_page_holds_no_data_of_other_candidates_or_staff(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    mine = await invite(interviewer_client, candidate_email="ada@example.com")
    other = await invite(interviewer_client, candidate_name="Grace Hopper")
    html = (await browser.get(f"/take-home/{mine['passcode']}")).text
    for secret in ("ada@example.com", "Grace Hopper", other["passcode"], other["id"]):
        assert secret not in html
    assert 'class="nav"' not in html and "Log out" not in html


async def test_an_expired_invitation_says_so(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient, db: AsyncSession
) -> None:
    invitation = await invite(interviewer_client)
    await set_fields(db, invitation["id"], valid_until=utcnow() - timedelta(minutes=1))
    html = (await browser.get(f"/take-home/{invitation['passcode']}")).text
    assert shown(html) == ["expired"]
    assert "This invitation has expired" in html
    assert "Ask your interviewer for a new one." in html


async def test_a_starting_test_shows_its_progress(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient, db: AsyncSession
) -> None:
    invitation = await invite(interviewer_client)
    await set_fields(db, invitation["id"], status="configuring", activated_at=utcnow())
    html = (await browser.get(f"/take-home/{invitation['passcode']}")).text
    assert shown(html) == ["starting", INSTRUCTIONS]
    assert "Preparing your workspace" in html
    steps = re.findall(r'<li class="step step-(\w+)"', html)
    assert steps == ["done", "done", "current", "pending"]
    assert 'aria-current="step"' in html


async def test_a_ready_workspace_shows_link_password_and_countdown(
    interviewer_client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    db: AsyncSession,
    settings: Settings,
) -> None:
    invitation = await invite(interviewer_client, custom_instructions="Write tests first.")
    password, fields = active_fields(settings)
    row = await set_fields(db, invitation["id"], **fields)
    response = await browser.get(f"/take-home/{invitation['passcode']}")
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert shown(html) == ["active", INSTRUCTIONS, INSTRUCTIONS]
    assert "Your workspace is ready" in html
    assert f'href="/w/{invitation["id"]}/"' in html
    assert f'data-copy="{password}"' in html and f"<code>{password}</code>" in html
    assert f'data-countdown="{row.auto_destroy_at.isoformat()}"' in html  # type: ignore[union-attr]
    assert "Write tests first." in html and "How it works" in html
    # Opening the link of a started test grants this browser the workspace.
    workspace = await browser.get(f"/w/{invitation['id']}/")
    assert workspace.status_code == 200
    config = ide_config(workspace.text)
    assert config["role"] == "candidate" and config["kind"] == "take_home"
    assert config["submitUrl"] == f"/api/interviews/{invitation['id']}/submit"
    assert config["modeUrl"] is None and config["backUrl"] is None
    assert config["candidateName"] is None
    assert config["deadline"] == row.auto_destroy_at.isoformat()  # type: ignore[union-attr]
    # The instructions travel as server-rendered Markdown, moved into the IDE's panel.
    assert 'id="ide-instructions"' in workspace.text and "Write tests first." in workspace.text


async def test_a_failed_start_asks_to_contact_the_interviewer(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient, db: AsyncSession
) -> None:
    invitation = await invite(interviewer_client)
    await set_fields(db, invitation["id"], status="error", activated_at=utcnow())
    html = (await browser.get(f"/take-home/{invitation['passcode']}")).text
    assert shown(html) == ["failed"]
    assert "Your workspace could not be started" in html
    assert "contact your interviewer" in html


@pytest.mark.parametrize(
    ("end_reason", "started", "state", "words"),
    [
        ("time_up", True, "ended", "Time is up. Your work has been saved"),
        ("revoked", True, "revoked", "Your interviewer ended this take-home test. Your work"),
        ("revoked", False, "revoked", "withdrawn by your interviewer"),
    ],
)
async def test_an_ended_test_says_the_work_was_saved(
    interviewer_client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    db: AsyncSession,
    end_reason: str,
    started: bool,
    state: str,
    words: str,
) -> None:
    invitation = await invite(interviewer_client)
    await set_fields(
        db,
        invitation["id"],
        status="destroyed",
        end_reason=end_reason,
        activated_at=utcnow() if started else None,
        destroyed_at=utcnow(),
    )
    html = (await browser.get(f"/take-home/{invitation['passcode']}")).text
    assert shown(html) == [state]
    assert words in html


async def test_script_in_the_name_and_instructions_stays_inert(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    evil = "<script>alert(1)</script>"
    invitation = await invite(
        interviewer_client,
        candidate_name=f"Ada {evil}",
        custom_instructions=(
            f"Hello {evil}\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))"
        ),
    )
    response = await browser.get(f"/take-home/{invitation['passcode']}")
    html = response.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert 'href="javascript:' not in html
    assert "Ada &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    # The only script tags are ours: modules from /static and the inert JSON data block.
    for tag in SCRIPT_TAG.findall(html):
        ours = re.fullmatch(r'<script type="module" src="http://testserver/static/[^"]+">', tag)
        assert ours or tag == '<script type="application/json" id="take-home-data">', tag
    data = html.split('id="take-home-data">')[1].split("</script>")[0]
    assert "\\u003cscript\\u003e" in data
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_too_many_lookups_get_a_429_page(
    app_state: AppState, interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    app_state.candidate_throttle = CandidateThrottle(
        open_limits_storage("memory://"),
        CandidateSettings(lookups_per_ip_per_minute=1, lookups_global_per_minute=100),
    )
    invitation = await invite(interviewer_client)
    assert (await browser.get(f"/take-home/{invitation['passcode']}")).status_code == 200
    blocked = await browser.get(f"/take-home/{invitation['passcode']}")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many attempts" in blocked.text
    assert "Too many passcode lookups from your network address; try again in" in blocked.text


# CSRF on the candidate's POSTs ----------------------------------------------------------------


async def test_starting_needs_the_pages_csrf_token(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    invitation = await invite(interviewer_client)
    path = f"/api/interviews/{invitation['id']}/activate"
    body = {"passcode": invitation["passcode"]}
    refused = await browser.post(path, json=body)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "csrf_failed"
    assert "open the page you were sent" in error["message"]

    page = await browser.get(f"/take-home/{invitation['passcode']}")
    forged = await browser.post(path, json=body, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    started = await browser.post(path, json=body, headers={"X-CSRF-Token": meta_token(page.text)})
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "starting"


async def test_joining_needs_the_pages_csrf_token(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    interview = await live(interviewer_client)
    path = f"/api/interviews/{interview['id']}/join"
    body = {"password": interview["password"], "display_name": "Alan"}
    assert (await browser.post(path, json=body)).json()["error"]["code"] == "csrf_failed"
    page = await browser.get(f"/join/{interview['id']}")
    joined = await browser.post(path, json=body, headers={"X-CSRF-Token": meta_token(page.text)})
    assert joined.status_code == 200, joined.text


# The live join page ---------------------------------------------------------------------------


async def test_the_join_page_of_a_scheduled_interview(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    interview = await live(interviewer_client)
    response = await browser.get(f"/join/{interview['id']}")
    assert response.status_code == 200
    html = response.text
    assert "Join your interview" in html and "The interview starts at" in html
    assert 'type="text" name="display_name"' in html
    assert 'type="password" name="password"' in html
    assert 'name="csrf_token"' in html
    assert_every_control_is_labelled(html)
    assert "Alan Turing" not in html and interview["password"] not in html


async def test_the_join_page_of_unknown_and_ended_interviews(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient, db: AsyncSession
) -> None:
    invitation = await invite(interviewer_client)
    for interview_id in ("nope", invitation["id"]):
        response = await browser.get(f"/join/{interview_id}")
        assert response.status_code == 404
        assert "No live interview has this link" in response.text
    interview = await live(interviewer_client)
    await set_fields(db, interview["id"], status="destroyed", end_reason="ended_by_interviewer")
    html = (await browser.get(f"/join/{interview['id']}")).text
    assert "This interview has ended" in html and "Your work has been saved" in html
    assert "data-join-form" not in html


# The workspace page ---------------------------------------------------------------------------


async def test_the_workspace_refuses_browsers_without_access(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient, db: AsyncSession
) -> None:
    interview = await live(interviewer_client)
    to_join = await browser.get(f"/w/{interview['id']}/")
    assert to_join.status_code == 303
    assert to_join.headers["location"] == f"/join/{interview['id']}"

    invitation = await invite(interviewer_client)
    login = await browser.get(f"/w/{invitation['id']}/")
    assert login.status_code == 401
    assert "Your workspace is protected by a password." in login.text
    assert 'type="password" name="password"' in login.text
    assert_every_control_is_labelled(login.text)
    assert 'id="ide-config"' not in login.text

    missing = await browser.get("/w/nope/")
    assert missing.status_code == 404 and "No workspace has this link" in missing.text

    await set_fields(db, invitation["id"], status="destroyed", end_reason="revoked")
    over = await browser.get(f"/w/{invitation['id']}/")
    assert over.status_code == 410 and "withdrawn" in over.text


async def test_a_take_home_workspace_opens_with_its_password(
    interviewer_client: httpx.AsyncClient,
    browser: httpx.AsyncClient,
    db: AsyncSession,
    settings: Settings,
) -> None:
    invitation = await invite(interviewer_client)
    password, fields = active_fields(settings)
    await set_fields(db, invitation["id"], **fields)
    login = await browser.get(f"/w/{invitation['id']}/")
    token = {"X-CSRF-Token": meta_token(login.text)}
    path = f"/api/interviews/{invitation['id']}/join"
    wrong = await browser.post(path, json={"password": "aaaa-bbbb-cccc"}, headers=token)
    assert wrong.status_code == 403
    assert "shown on your take-home test's page" in wrong.json()["error"]["message"]
    right = await browser.post(path, json={"password": password.upper()}, headers=token)
    assert right.status_code == 200, right.text
    page = await browser.get(f"/w/{invitation['id']}/")
    assert page.status_code == 200
    # The IDE page; no workspace runs in this test, so its sockets would say "reconnecting".
    assert ide_config(page.text)["role"] == "candidate"
    assert page.headers["cache-control"] == "no-store"


async def test_staff_of_the_organization_may_open_the_workspace(
    interviewer_client: httpx.AsyncClient,
) -> None:
    interview = await live(interviewer_client)
    response = await interviewer_client.get(f"/w/{interview['id']}/", headers=HTML)
    assert response.status_code == 200
    assert "Your workspace is being prepared" in response.text
    assert "viewing as staff" in response.text
    assert f"/api/interviews/{interview['id']}/workspace-events" in response.text


async def test_staff_get_the_ide_as_interviewers_or_spectators(
    interviewer_client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    interview = await live(interviewer_client, candidate_name="Grace <b>Hopper</b>")
    _, fields = active_fields(settings)
    await set_fields(db, interview["id"], **fields)
    page = await interviewer_client.get(f"/w/{interview['id']}/", headers=HTML)
    assert page.status_code == 200
    config = ide_config(page.text)
    assert config["role"] == "interviewer" and config["spectate"] is False
    assert config["modeUrl"] == f"/api/interviews/{interview['id']}/collab-mode"
    assert config["submitUrl"] is None and config["backUrl"] == "/interviews"
    assert config["user"]["color"].startswith("#") and config["agentBase"].endswith("/agent")
    # The name is data for the bundle (textContent), escaped inside the JSON block.
    assert config["candidateName"] == "Grace <b>Hopper</b>" and "<b>Hopper" not in page.text

    quiet = await interviewer_client.get(f"/w/{interview['id']}/?as=spectator", headers=HTML)
    spectator = ide_config(quiet.text)
    assert spectator["role"] == "spectator" and spectator["spectate"] is True
    assert spectator["modeUrl"] is None


async def test_the_workspace_stream_needs_access(
    interviewer_client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    interview = await live(interviewer_client)
    response = await browser.get(f"/api/interviews/{interview['id']}/workspace-events")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_joined"
    missing = await browser.get("/api/interviews/nope/workspace-events")
    assert missing.status_code == 404
