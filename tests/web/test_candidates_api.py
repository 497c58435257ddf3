"""The public candidate API: passcode lookups, Start, live joins, the candidate's stream.

Candidates are anonymous clients from chosen IP addresses; staff create the interviews
through the staff API. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, Protocol

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from itsdangerous import TimestampSigner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from prequel.auth.candidate_throttle import WRONG_PASSWORDS_PER_IP, CandidateThrottle
from prequel.auth.throttle import open_limits_storage
from prequel.db.models import Event, Interview, Operation, Organization
from prequel.db.types import utcnow
from prequel.settings import CandidateSettings, Settings
from prequel.state import AppState
from prequel.web import candidate_session
from tests.support.factories import make_challenge
from tests.support.live import free_port

CANDIDATE_KEYS = {
    "id",
    "kind",
    "status",
    "end_reason",
    "candidate_name",
    "challenge_slug",
    "duration_minutes",
    "custom_instructions",
    "valid_until",
    "activated_at",
    "started_at",
    "auto_destroy_at",
    "workspace_url",
    "state",
    "message",
    "can_start",
    "challenge",
    "password",
}


class Candidate(Protocol):
    async def __call__(self, ip: str = ...) -> httpx.AsyncClient: ...


@pytest.fixture(autouse=True)
async def demo_challenge(db: AsyncSession, org: Organization) -> None:
    await make_challenge(db, org, slug="demo")
    await db.commit()


async def csrf_token_of_a_page(client: httpx.AsyncClient) -> str:
    """What a browser gets by opening any page: the session cookie and its CSRF token."""
    page = await client.get("/login")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert found, page.text
    return found.group(1)


@pytest.fixture
async def candidate(app: FastAPI) -> AsyncIterator[Candidate]:
    """Anonymous browsers, each from the IP address given, that opened a page first (so
    they send its CSRF token, as the candidate pages' scripts do)."""
    opened: list[httpx.AsyncClient] = []

    async def make(ip: str = "198.51.100.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(client)
        client.headers["X-CSRF-Token"] = await csrf_token_of_a_page(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


async def invite(staff: httpx.AsyncClient, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "take_home",
        "candidate_name": "Ada Lovelace",
        "candidate_email": "ada@example.com",
        "challenge": "demo",
        "valid_days": 3,
        "duration_minutes": 90,
        **extra,
    }
    response = await staff.post("/api/interviews", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def activate(
    client: httpx.AsyncClient, invitation: dict[str, Any], passcode: str | None = None
) -> httpx.Response:
    return await client.post(
        f"/api/interviews/{invitation['id']}/activate",
        json={"passcode": passcode or invitation["passcode"]},
    )


def granted(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any] | None:
    """The candidate grant inside the signed session cookie, verified with the secret key."""
    cookie = client.cookies.get("prequel_session")
    if cookie is None:
        return None
    signer = TimestampSigner(settings.secret_key.get_secret_value())
    session = json.loads(base64.b64decode(signer.unsign(cookie)))
    value = session.get(candidate_session.SESSION_KEY)
    return value if isinstance(value, dict) else None


# Looking up a passcode ----------------------------------------------------------------------


async def test_by_passcode_shows_only_the_candidates_own_view(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    mine = await invite(interviewer_client, custom_instructions="Read the README first.")
    other = await invite(
        interviewer_client, candidate_name="Grace Hopper", candidate_email="grace@navy.mil"
    )
    code = mine["passcode"]
    typed = f"{code[:4].lower()}-{code[4:]}"
    response = await (await candidate()).get(f"/api/interviews/by-passcode/{typed}")
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == CANDIDATE_KEYS
    assert page["id"] == mine["id"]
    assert (page["state"], page["can_start"]) == ("ready", True)
    assert "1 hour" not in page["message"] and "90 minutes" in page["message"]
    assert page["challenge"] == {"title": "Demo", "language": "python"}
    assert page["custom_instructions"] == "Read the README first."
    text = response.text
    for secret in ("ada@example.com", other["passcode"], "Grace", "grace@navy.mil", code):
        assert secret not in text


async def test_unknown_passcode_is_404_with_advice(candidate: Candidate) -> None:
    client = await candidate()
    for passcode in ("KMNPQRTU", "hello", "%20"):
        response = await client.get(f"/api/interviews/by-passcode/{passcode}")
        assert response.status_code == 404
        assert response.json()["error"]["message"].startswith("no take-home test has this")


async def test_lookups_are_throttled_per_ip_and_globally(
    app_state: AppState, candidate: Candidate
) -> None:
    app_state.candidate_throttle = CandidateThrottle(
        open_limits_storage("memory://"),
        CandidateSettings(lookups_per_ip_per_minute=2, lookups_global_per_minute=3),
    )
    one = await candidate("203.0.113.1")
    for _ in range(2):
        assert (await one.get("/api/interviews/by-passcode/KMNPQRTU")).status_code == 404
    blocked = await one.get("/api/interviews/by-passcode/KMNPQRTU")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "your network address" in blocked.json()["error"]["message"]
    two = await candidate("203.0.113.2")
    assert (await two.get("/api/interviews/by-passcode/KMNPQRTU")).status_code == 404
    everyone = await two.get("/api/interviews/by-passcode/KMNPQRTU")
    assert everyone.status_code == 429
    assert "right now" in everyone.json()["error"]["message"]


# Starting a take-home -----------------------------------------------------------------------


async def test_activation_starts_the_workspace_and_grants_the_session(
    interviewer_client: httpx.AsyncClient,
    candidate: Candidate,
    db: AsyncSession,
    settings: Settings,
) -> None:
    invitation = await invite(interviewer_client)
    browser = await candidate()
    response = await activate(browser, invitation)
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == CANDIDATE_KEYS
    assert (page["status"], page["state"]) == ("initializing", "starting")
    assert page["activated_at"] is not None

    operations = list(
        await db.scalars(select(Operation).where(Operation.interview_id == invitation["id"]))
    )
    assert [(op.type, op.status) for op in operations] == [("create", "pending")]
    updates = list(
        await db.scalars(
            select(Event).where(
                Event.interview_id == invitation["id"], Event.type == "interview_update"
            )
        )
    )
    assert {"staff", "candidate"} <= {event.audience for event in updates}
    assert {"activated", "initializing"} <= {event.payload["status"] for event in updates}

    grant = granted(browser, settings)
    assert grant is not None and grant["interview_id"] == invitation["id"]

    again = await activate(browser, invitation)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_started"
    assert "only once" in again.json()["error"]["message"]


async def test_reopening_the_link_after_start_restores_access(
    interviewer_client: httpx.AsyncClient, candidate: Candidate, settings: Settings
) -> None:
    invitation = await invite(interviewer_client)
    assert (await activate(await candidate(), invitation)).status_code == 200
    other_browser = await candidate("192.0.2.50")
    assert granted(other_browser, settings) is None
    page = await other_browser.get(f"/api/interviews/by-passcode/{invitation['passcode']}")
    assert page.json()["state"] == "starting"
    grant = granted(other_browser, settings)
    assert grant is not None and grant["interview_id"] == invitation["id"]


async def test_an_unstarted_lookup_grants_nothing(
    interviewer_client: httpx.AsyncClient, candidate: Candidate, settings: Settings
) -> None:
    invitation = await invite(interviewer_client)
    browser = await candidate()
    await browser.get(f"/api/interviews/by-passcode/{invitation['passcode']}")
    assert granted(browser, settings) is None


async def test_wrong_passcode_is_404(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    invitation = await invite(interviewer_client)
    other = await invite(interviewer_client, candidate_name="Grace Hopper")
    browser = await candidate()
    for passcode in (other["passcode"], "nonsense"):
        response = await activate(browser, invitation, passcode)
        assert response.status_code == 404
    unknown = await browser.post("/api/interviews/nope/activate", json={"passcode": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"].startswith("no take-home test has this")


async def test_expired_invitation_is_410_and_closed(
    interviewer_client: httpx.AsyncClient, candidate: Candidate, db: AsyncSession
) -> None:
    invitation = await invite(interviewer_client)
    row = await db.get(Interview, invitation["id"])
    assert row is not None
    row.valid_until = utcnow() - timedelta(seconds=1)
    await db.commit()
    browser = await candidate()
    page = (await browser.get(f"/api/interviews/by-passcode/{invitation['passcode']}")).json()
    assert (page["state"], page["can_start"]) == ("expired", False)

    response = await activate(browser, invitation)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "expired"
    assert "ask your interviewer for a new one" in response.json()["error"]["message"]
    await db.refresh(row)
    assert (row.status, row.end_reason) == ("destroyed", "expired")
    assert (await activate(browser, invitation)).status_code == 410


async def test_revoked_invitation_is_410(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    invitation = await invite(interviewer_client)
    revoked = await interviewer_client.post(f"/api/interviews/{invitation['id']}/destroy")
    assert revoked.status_code == 200
    browser = await candidate()
    response = await activate(browser, invitation)
    assert response.status_code == 410
    assert "withdrawn" in response.json()["error"]["message"]
    page = (await browser.get(f"/api/interviews/by-passcode/{invitation['passcode']}")).json()
    assert page["state"] == "revoked"


async def test_the_fourth_start_attempt_in_an_hour_is_429(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    invitation = await invite(interviewer_client)
    browser = await candidate("203.0.113.9")
    for _ in range(3):
        assert (await activate(browser, invitation, "KMNPQRTU")).status_code == 404
    blocked = await activate(browser, invitation)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 60
    assert "Start attempts" in blocked.json()["error"]["message"]
    # Another network address still may.
    assert (await activate(await candidate("203.0.113.10"), invitation)).status_code == 200


async def test_the_start_cap_is_429_and_changes_nothing(
    interviewer_client: httpx.AsyncClient,
    candidate: Candidate,
    app_state: AppState,
    db: AsyncSession,
) -> None:
    app_state.settings.workspaces.max_concurrent_starts = 1
    first = await invite(interviewer_client)
    second = await invite(interviewer_client, candidate_name="Grace Hopper")
    assert (await activate(await candidate("192.0.2.1"), first)).status_code == 200
    response = await activate(await candidate("192.0.2.2"), second)
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "try again" in response.json()["error"]["message"]
    row = await db.get(Interview, second["id"])
    assert row is not None and (row.status, row.activated_at) == ("invited", None)


# Joining a live interview -------------------------------------------------------------------


async def test_joining_a_live_interview(
    interviewer_client: httpx.AsyncClient, candidate: Candidate, settings: Settings
) -> None:
    created = await interviewer_client.post(
        "/api/interviews",
        json={
            "kind": "live",
            "candidate_name": "Alan Turing",
            "challenge": "demo",
            "duration_minutes": 60,
            "scheduled_at": (utcnow() + timedelta(hours=1)).isoformat(),
        },
    )
    assert created.status_code == 201
    interview = created.json()
    browser = await candidate()
    path = f"/api/interviews/{interview['id']}/join"

    wrong = await browser.post(path, json={"password": "aaaa-bbbb-cccc", "display_name": "Al"})
    assert wrong.status_code == 403
    assert "wrong workspace password" in wrong.json()["error"]["message"]
    assert granted(browser, settings) is None

    empty_name = await browser.post(
        path, json={"password": interview["password"], "display_name": "  "}
    )
    assert empty_name.status_code == 422
    assert empty_name.json()["error"]["details"][0]["field"] == "display_name"

    joined = await browser.post(
        path, json={"password": interview["password"], "display_name": "Alan T"}
    )
    assert joined.status_code == 200, joined.text
    assert set(joined.json()) == CANDIDATE_KEYS
    assert joined.json()["state"] == "scheduled"
    grant = granted(browser, settings)
    assert grant == {
        "interview_id": interview["id"],
        "display_name": "Alan T",
        "granted_at": grant["granted_at"] if grant else None,
    }
    detail = (await interviewer_client.get(f"/api/interviews/{interview['id']}")).json()
    assert detail["candidate_display_name"] == "Alan T"

    await interviewer_client.post(f"/api/interviews/{interview['id']}/destroy")
    ended = await browser.post(
        path, json={"password": interview["password"], "display_name": "Alan T"}
    )
    assert ended.status_code == 410
    assert "has ended" in ended.json()["error"]["message"]


async def live_interview(staff: httpx.AsyncClient) -> dict[str, Any]:
    created = await staff.post(
        "/api/interviews",
        json={
            "kind": "live",
            "candidate_name": "Alan Turing",
            "challenge": "demo",
            "duration_minutes": 60,
            "scheduled_at": (utcnow() + timedelta(hours=1)).isoformat(),
        },
    )
    assert created.status_code == 201, created.text
    interview: dict[str, Any] = created.json()
    return interview


async def test_a_live_join_needs_a_display_name(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    interview = await live_interview(interviewer_client)
    response = await (await candidate()).post(
        f"/api/interviews/{interview['id']}/join", json={"password": interview["password"]}
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "display_name"


async def test_an_unknown_id_or_unstarted_take_home_cannot_be_joined(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    browser = await candidate()
    unknown = await browser.post(
        "/api/interviews/nope/join", json={"password": "abcd-efgh-jkmn", "display_name": "Ada"}
    )
    assert unknown.status_code == 404
    assert "check it with your interviewer" in unknown.json()["error"]["message"]
    # A take-home has no workspace password until it is started.
    invitation = await invite(interviewer_client)
    response = await browser.post(
        f"/api/interviews/{invitation['id']}/join", json={"password": "abcd-efgh-jkmn"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_password"


async def test_a_take_home_password_is_shown_once_the_workspace_runs(
    interviewer_client: httpx.AsyncClient,
    candidate: Candidate,
    db: AsyncSession,
    settings: Settings,
) -> None:
    invitation = await invite(interviewer_client)
    started = await activate(await candidate(), invitation)
    assert started.json()["password"] is None
    row = await db.get(Interview, invitation["id"])
    assert row is not None and row.password_hash and row.password_encrypted
    row.status = "active"
    await db.commit()
    page = await (await candidate()).get(f"/api/interviews/by-passcode/{invitation['passcode']}")
    password = page.json()["password"]
    assert page.json()["state"] == "active" and password
    # Staff views of a take-home never carry it; the candidate's stream events neither.
    detail = (await interviewer_client.get(f"/api/interviews/{invitation['id']}")).json()
    assert password not in json.dumps(detail)

    elsewhere = await candidate("192.0.2.77")
    joined = await elsewhere.post(
        f"/api/interviews/{invitation['id']}/join", json={"password": password}
    )
    assert joined.status_code == 200, joined.text
    grant = granted(elsewhere, settings)
    assert grant is not None and grant["interview_id"] == invitation["id"]


async def test_wrong_passwords_are_throttled_per_ip(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    interview = await live_interview(interviewer_client)
    path = f"/api/interviews/{interview['id']}/join"
    guesser = await candidate("203.0.113.66")
    for _ in range(WRONG_PASSWORDS_PER_IP):
        wrong = await guesser.post(path, json={"password": "aaaa-bbbb-cccc", "display_name": "X"})
        assert wrong.status_code == 403
    right = {"password": interview["password"], "display_name": "Alan"}
    blocked = await guesser.post(path, json=right)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 60
    assert "too many wrong passwords" in blocked.json()["error"]["message"]
    # Right passwords do not count, and another address is not slowed down.
    assert (await (await candidate("203.0.113.67")).post(path, json=right)).status_code == 200


async def test_the_candidates_posts_need_the_csrf_token(
    interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    invitation = await invite(interviewer_client)
    interview = await live_interview(interviewer_client)
    browser = await candidate()
    del browser.headers["X-CSRF-Token"]
    for path, body in (
        (f"/api/interviews/{invitation['id']}/activate", {"passcode": invitation["passcode"]}),
        (
            f"/api/interviews/{interview['id']}/join",
            {"password": interview["password"], "display_name": "Alan"},
        ),
    ):
        response = await browser.post(path, json=body)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
        assert "X-CSRF-Token" in response.json()["error"]["message"]


# The candidate session ----------------------------------------------------------------------


async def test_a_grant_is_bound_to_one_interview_and_keeps_a_staff_login() -> None:
    async def grant(request: Request) -> JSONResponse:
        request.session["uid"] = "staff-user"
        candidate_session.grant(request, request.path_params["iid"], "Ada")
        return JSONResponse({})

    async def check(request: Request) -> JSONResponse:
        iid = request.path_params["iid"]
        return JSONResponse(
            {
                "access": candidate_session.has_access(request, iid),
                "name": candidate_session.display_name(request, iid),
                "uid": request.session.get("uid"),
            }
        )

    app = Starlette(
        routes=[Route("/grant/{iid}", grant), Route("/check/{iid}", check)],
        middleware=[Middleware(SessionMiddleware, secret_key="k", session_cookie="s")],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await client.get("/check/a")).json()["access"] is False
        await client.get("/grant/a")
        assert (await client.get("/check/a")).json() == {
            "access": True,
            "name": "Ada",
            "uid": "staff-user",
        }
        assert (await client.get("/check/b")).json()["access"] is False
        await client.get("/grant/b")
        assert (await client.get("/check/a")).json()["access"] is False
        assert (await client.get("/check/b")).json()["access"] is True


# The candidate's stream ---------------------------------------------------------------------


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn serving the already started app: in-process ASGI cannot stream."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    async with asyncio.timeout(10):
        while not running.started:  # noqa: ASYNC110 - uvicorn offers only a flag
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    await task


async def _next_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, Any]]:
    kind, data = "message", ""
    async with asyncio.timeout(10):
        async for line in lines:
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif line == "" and data:
                return kind, json.loads(data)
    raise AssertionError("the stream ended")


async def test_the_candidate_stream_carries_only_its_own_interview(
    server: str, interviewer_client: httpx.AsyncClient, candidate: Candidate
) -> None:
    mine = await invite(interviewer_client)
    other = await invite(interviewer_client, candidate_name="Grace Hopper")
    url = f"{server}/api/interviews/by-passcode/{mine['passcode']}/events"
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as reader,
        reader.stream("GET", url) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        kind, hello = await _next_event(lines)
        assert kind == "connection"
        assert hello["scope"] == {"audience": "candidate", "interview_id": mine["id"]}
        assert hello["interview"]["state"] == "ready"

        assert (await activate(await candidate("192.0.2.1"), other)).status_code == 200
        assert (await activate(await candidate("192.0.2.2"), mine)).status_code == 200
        statuses = []
        while "initializing" not in statuses:
            kind, data = await _next_event(lines)
            assert kind == "interview_update"
            assert data["id"] == mine["id"]
            assert "passcode" not in data and "candidate_email" not in data
            statuses.append(data["status"])
        assert statuses == ["activated", "initializing"]


async def test_the_candidate_stream_needs_a_real_passcode(candidate: Candidate) -> None:
    response = await (await candidate()).get("/api/interviews/by-passcode/KMNPQRTU/events")
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("no take-home test")


# Submitting a take-home early ---------------------------------------------------------------


async def _running(
    interviewer_client: httpx.AsyncClient, candidate: Candidate, db: AsyncSession
) -> tuple[dict[str, Any], httpx.AsyncClient]:
    """A started take-home whose workspace runs, and the browser that started it."""
    invitation = await invite(interviewer_client)
    browser = await candidate()
    assert (await activate(browser, invitation)).status_code == 200
    row = await db.get(Interview, invitation["id"])
    assert row is not None
    row.status = "active"
    await db.commit()
    return invitation, browser


async def test_submitting_ends_the_take_home_like_its_deadline(
    interviewer_client: httpx.AsyncClient, candidate: Candidate, db: AsyncSession
) -> None:
    invitation, browser = await _running(interviewer_client, candidate, db)
    response = await browser.post(f"/api/interviews/{invitation['id']}/submit")
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == CANDIDATE_KEYS
    assert (page["status"], page["end_reason"], page["state"]) == (
        "destroying",
        "submitted",
        "ending",
    )
    assert page["message"] == "You submitted your work. It is being saved."
    destroys = list(
        await db.scalars(
            select(Operation).where(
                Operation.interview_id == invitation["id"], Operation.type == "destroy"
            )
        )
    )
    assert [op.status for op in destroys] == ["pending"]
    # Once is enough: a second press says it is already ending.
    again = await browser.post(f"/api/interviews/{invitation['id']}/submit")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_ending"


async def test_submit_refusals(
    interviewer_client: httpx.AsyncClient, candidate: Candidate, db: AsyncSession
) -> None:
    invitation, browser = await _running(interviewer_client, candidate, db)
    path = f"/api/interviews/{invitation['id']}/submit"

    unknown = await browser.post("/api/interviews/nope/submit")
    assert unknown.status_code == 404
    # Another browser (no session for this test) cannot submit it, even with a CSRF token.
    stranger = await candidate("192.0.2.99")
    refused = await stranger.post(path)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_joined"
    # Without the page's CSRF token, the browser that holds it cannot either.
    token = browser.headers.pop("X-CSRF-Token")
    forged = await browser.post(path)
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    browser.headers["X-CSRF-Token"] = token

    # Not running yet: 409, nothing changes.
    row = await db.get(Interview, invitation["id"])
    assert row is not None
    row.status = "configuring"
    await db.commit()
    early = await browser.post(path)
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "not_ready"
    await db.refresh(row)
    assert (row.status, row.end_reason) == ("configuring", None)

    # A live interview cannot be submitted, even by its joined candidate.
    interview = await live_interview(interviewer_client)
    joiner = await candidate("192.0.2.100")
    joined = await joiner.post(
        f"/api/interviews/{interview['id']}/join",
        json={"password": interview["password"], "display_name": "Alan"},
    )
    assert joined.status_code == 200, joined.text
    live = await joiner.post(f"/api/interviews/{interview['id']}/submit")
    assert live.status_code == 409
    assert "only a take-home" in live.json()["error"]["message"]
