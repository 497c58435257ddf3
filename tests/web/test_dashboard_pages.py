"""The dashboard pages (/interviews, /take-homes) as the server renders them: who may see them,
what each tab lists, the data the page script starts from, and escaping."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Organization
from prequel.interviews.credentials import issue_password
from prequel.settings import Settings
from prequel.web.security_headers import CONTENT_SECURITY_POLICY
from tests.support.factories import make_challenge, make_interview

HTML = {"accept": "text/html"}
SCRIPT_NAME = "<script>alert('pwned')</script> Ada"
DATA_BLOCK = re.compile(
    r'<script type="application/json" id="dashboard-data">(.*?)</script>', re.DOTALL
)


@pytest.fixture
async def challenge(db: AsyncSession, org: Organization) -> Challenge:
    made = await make_challenge(db, org, slug="demo")
    await db.commit()
    return made


def page_data(page: httpx.Response) -> dict[str, Any]:
    """The JSON the page script renders its rows from."""
    match = DATA_BLOCK.search(page.text)
    assert match, "no dashboard data block in the page"
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def names(data: dict[str, Any]) -> set[str]:
    return {row["candidate_name"] for row in data["rows"]}


@pytest.mark.parametrize("path", ["/interviews", "/take-homes"])
async def test_anonymous_visitors_are_sent_to_log_in(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2F{path[1:]}"


@pytest.mark.parametrize("path", ["/interviews", "/take-homes"])
async def test_viewers_see_the_tab_without_create_or_end(
    viewer_client: httpx.AsyncClient, challenge: Challenge, path: str
) -> None:
    page = await viewer_client.get(path, headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-frame-options"] == "DENY"
    data = page_data(page)
    assert data["can_manage"] is False
    assert 'id="create-live-dialog"' not in page.text
    assert "data-open-create" not in page.text
    assert 'id="logs-dialog"' in page.text
    assert "/static/js/pages/dashboard.js" in page.text
    # The page's own inline code would be refused by the CSP: there is none.
    assert " style=" not in page.text and " onclick=" not in page.text


async def test_interviewers_get_the_create_dialogs_with_the_challenges(
    interviewer_client: httpx.AsyncClient, challenge: Challenge
) -> None:
    page = await interviewer_client.get("/interviews", headers=HTML)
    assert page.status_code == 200
    assert 'aria-current="page">Interviews</a>' in page.text
    data = page_data(page)
    assert data["can_manage"] is True
    assert data["kind"] == "live"
    assert data["challenges"] == [
        {
            "slug": "demo",
            "title": "Demo",
            "difficulty": "easy",
            "language": "python",
            "time_estimate_minutes": 30,
        }
    ]
    assert isinstance(data["last_event_id"], int)
    for dialog in ("create-live-dialog", "create-take-home-dialog", "logs-dialog"):
        assert f'id="{dialog}"' in page.text
    # Every control in the create forms has a label.
    assert '<input type="radio" name="challenge" value="demo">' in page.text
    assert page.text.count('<select name="duration_minutes">') == 2
    assert '<option value="30">30 min</option>' in page.text
    assert '<option value="480">8 h</option>' in page.text
    assert '<option value="90">1 h 30 min</option>' in page.text


async def test_each_tab_lists_only_its_kind_and_only_what_has_not_ended(
    viewer_client: httpx.AsyncClient, db: AsyncSession, org: Organization, challenge: Challenge
) -> None:
    live: dict[str, Any] = {"kind": "live", "valid_until": None}
    await make_interview(
        db, org, challenge, candidate_name="Live Scheduled", status="scheduled", **live
    )
    await make_interview(db, org, challenge, candidate_name="Live Error", status="error", **live)
    await make_interview(
        db, org, challenge, candidate_name="Live Ended", status="destroyed", **live
    )
    await make_interview(db, org, challenge, candidate_name="Home Invited", passcode="AAAA3333")
    await make_interview(
        db, org, challenge, candidate_name="Home Starting", status="activated", passcode="CCCC4444"
    )
    await make_interview(
        db, org, challenge, candidate_name="Home Revoked", status="destroyed", passcode="DDDD6666"
    )
    await db.commit()

    interviews = page_data(await viewer_client.get("/interviews", headers=HTML))
    assert names(interviews) == {"Live Scheduled", "Live Error"}
    assert "destroyed" not in interviews["statuses"]
    take_homes = page_data(await viewer_client.get("/take-homes", headers=HTML))
    assert names(take_homes) == {"Home Invited", "Home Starting"}
    assert take_homes["kind"] == "take_home"
    invited = next(row for row in take_homes["rows"] if row["candidate_name"] == "Home Invited")
    assert invited["candidate_url"].endswith("/take-home/AAAA3333")


async def test_the_password_is_in_the_page_only_once_the_workspace_is_active(
    viewer_client: httpx.AsyncClient,
    db: AsyncSession,
    org: Organization,
    challenge: Challenge,
    settings: Settings,
) -> None:
    secret = settings.secret_key.get_secret_value()
    active, waiting = issue_password(secret), issue_password(secret)
    for name, status, issued in (("Running", "active", active), ("Later", "scheduled", waiting)):
        await make_interview(
            db,
            org,
            challenge,
            kind="live",
            valid_until=None,
            candidate_name=name,
            status=status,
            password_hash=issued.hash,
            password_encrypted=issued.encrypted,
        )
    await db.commit()
    page = await viewer_client.get("/interviews", headers=HTML)
    rows = {row["candidate_name"]: row for row in page_data(page)["rows"]}
    assert rows["Running"]["password"] == active.plain
    assert "password" not in rows["Later"]
    assert waiting.plain not in page.text


async def test_a_script_in_the_candidate_name_stays_inert(
    interviewer_client: httpx.AsyncClient, challenge: Challenge
) -> None:
    for kind, extra in (
        ("live", {"duration_minutes": 60}),
        (
            "take_home",
            {"valid_days": 3, "duration_minutes": 60, "custom_instructions": SCRIPT_NAME},
        ),
    ):
        created = await interviewer_client.post(
            "/api/interviews",
            json={"kind": kind, "candidate_name": SCRIPT_NAME, "challenge": "demo", **extra},
        )
        assert created.status_code == 201, created.text
    for path in ("/interviews", "/take-homes"):
        page = await interviewer_client.get(path, headers=HTML)
        assert "<script>alert" not in page.text
        # The name travels only inside the JSON block, with <, > and ' escaped for HTML...
        assert (
            "\\u003cscript\\u003ealert(\\u0027pwned\\u0027)\\u003c/script\\u003e Ada" in page.text
        )
        # ...and comes out of it exactly as typed, for the script to set as text.
        assert names(page_data(page)) == {SCRIPT_NAME}


async def test_markdown_preview_renders_safely_for_interviewers(
    interviewer_client: httpx.AsyncClient,
) -> None:
    response = await interviewer_client.post(
        "/interviews/preview-markdown",
        json={
            "text": "# Hi\n\nUse **SQL**. <script>alert(1)</script> <img src=x onerror=alert(2)>"
        },
    )
    assert response.status_code == 200, response.text
    rendered = response.json()["html"]
    assert "<h1>Hi</h1>" in rendered and "<strong>SQL</strong>" in rendered
    assert "<script>" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


async def test_markdown_preview_needs_the_csrf_header_and_a_text(
    interviewer_client: httpx.AsyncClient,
) -> None:
    refused = await interviewer_client.post(
        "/interviews/preview-markdown", json={"text": "x"}, headers={"X-CSRF-Token": "wrong"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf_failed"
    missing = await interviewer_client.post("/interviews/preview-markdown", json={"txt": "x"})
    assert missing.status_code == 422
    too_long = await interviewer_client.post(
        "/interviews/preview-markdown", json={"text": "x" * 20_001}
    )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"][0]["field"] == "custom_instructions"


async def test_markdown_preview_is_for_interviewers(
    client: httpx.AsyncClient, viewer_client: httpx.AsyncClient
) -> None:
    response = await viewer_client.post("/interviews/preview-markdown", json={"text": "x"})
    assert response.status_code == 403
    anonymous = await client.post("/interviews/preview-markdown", json={"text": "x"})
    assert anonymous.status_code == 401


async def test_a_long_tab_embeds_one_page_and_the_cursor_for_the_rest(
    viewer_client: httpx.AsyncClient, db: AsyncSession, org: Organization, challenge: Challenge
) -> None:
    for number in range(205):
        await make_interview(
            db,
            org,
            challenge,
            kind="live",
            valid_until=None,
            candidate_name=f"C{number}",
            status="scheduled",
        )
    await db.commit()
    data = page_data(await viewer_client.get("/interviews", headers=HTML))
    assert len(data["rows"]) == 200 and data["next_cursor"]
    # What "Show more" asks for: the same kind and statuses, after the cursor.
    more = await viewer_client.get(
        "/api/interviews",
        params={
            "kind": data["kind"],
            "status": ",".join(data["statuses"]),
            "cursor": data["next_cursor"],
            "limit": 100,
        },
    )
    assert more.status_code == 200, more.text
    rest = more.json()
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    assert names(data) | {row["candidate_name"] for row in rest["items"]} == {
        f"C{number}" for number in range(205)
    }
