"""The staff interviews API through the full ASGI stack, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview, Operation, Organization
from prequel.db.types import utcnow
from prequel.domain.rules import PASSCODE_ALPHABET
from prequel.settings import Settings
from prequel.state import AppState
from prequel.storage.base import BlobStore
from tests.support.factories import make_challenge, make_interview

PASSCODE = re.compile(rf"^[{PASSCODE_ALPHABET}]{{8}}$")
PASSWORD = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$")


@pytest.fixture(autouse=True)
async def demo_challenge(db: AsyncSession, org: Organization) -> None:
    await make_challenge(db, org, slug="demo")
    await make_challenge(db, org, slug="two-sum")
    await db.commit()


def take_home(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "take_home",
        "candidate_name": "Ada Lovelace",
        "candidate_email": "ada@example.com",
        "challenge": "demo",
        "custom_instructions": "Use the standard library only.",
        "valid_days": 7,
        "duration_minutes": 120,
        **extra,
    }


def live(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "live",
        "candidate_name": "Alan Turing",
        "challenge": "demo",
        "duration_minutes": 60,
        **extra,
    }


def at(moment: datetime) -> datetime:
    return datetime.fromisoformat(moment.isoformat())


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/interviews", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# Creating -----------------------------------------------------------------------------------


async def test_create_take_home(interviewer_client: httpx.AsyncClient, settings: Settings) -> None:
    before = utcnow()
    body = await create(interviewer_client, take_home())
    assert body["kind"] == "take_home" and body["status"] == "invited"
    assert PASSCODE.match(body["passcode"])
    assert body["candidate_url"] == f"{settings.public_url}/take-home/{body['passcode']}"
    assert body["candidate_url"].startswith("http")
    valid_until = datetime.fromisoformat(body["valid_until"])
    assert before + timedelta(days=7) <= valid_until <= utcnow() + timedelta(days=7)
    assert body["custom_instructions"] == "Use the standard library only."
    assert body["candidate_email"] == "ada@example.com"
    assert "password" not in body


async def test_create_live_now_shows_the_password_to_staff_only_hashed_in_the_db(
    interviewer_client: httpx.AsyncClient, db: AsyncSession, settings: Settings
) -> None:
    body = await create(interviewer_client, live())
    assert body["status"] == "initializing"
    assert PASSWORD.match(body["password"])
    assert body["join_url"] == f"{settings.public_url}/join/{body['id']}"

    detail = (await interviewer_client.get(f"/api/interviews/{body['id']}")).json()
    assert detail["password"] == body["password"]
    assert detail["operations_count"] == 1

    row = await db.get(Interview, body["id"])
    assert row is not None and row.password_hash and row.password_encrypted
    assert body["password"] not in row.password_hash
    assert body["password"] not in row.password_encrypted
    listed = (await interviewer_client.get("/api/interviews")).json()["items"]
    assert all("password" not in item for item in listed)


async def test_create_live_scheduled_in_an_hour(interviewer_client: httpx.AsyncClient) -> None:
    when = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    body = await create(interviewer_client, live(scheduled_at=when.isoformat()))
    assert body["status"] == "scheduled"
    assert datetime.fromisoformat(body["scheduled_at"]) == when
    assert datetime.fromisoformat(body["provision_at"]) == when - timedelta(minutes=5)
    operations = (await interviewer_client.get(f"/api/interviews/{body['id']}/operations")).json()
    assert operations == {"operations": []}


async def test_the_start_cap_answers_429_with_retry_after(
    interviewer_client: httpx.AsyncClient, app_state: AppState
) -> None:
    app_state.settings.workspaces.max_concurrent_starts = 1
    await create(interviewer_client, live())
    response = await interviewer_client.post("/api/interviews", json=live())
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "try again" in response.json()["error"]["message"]
    # Nothing half-created is left behind.
    assert len((await interviewer_client.get("/api/interviews")).json()["items"]) == 1


async def test_viewers_cannot_create(viewer_client: httpx.AsyncClient) -> None:
    response = await viewer_client.post("/api/interviews", json=take_home())
    assert response.status_code == 403


def _past() -> str:
    return (utcnow() - timedelta(minutes=10)).isoformat()


INVALID: list[tuple[dict[str, Any], str, str]] = [
    (live(duration_minutes=29), "duration_minutes", "30 to 240 minutes"),
    (live(duration_minutes=241), "duration_minutes", "30 to 240 minutes"),
    (take_home(duration_minutes=59), "duration_minutes", "60 to 480 minutes"),
    (take_home(duration_minutes=481), "duration_minutes", "60 to 480 minutes"),
    (take_home(valid_days=0), "valid_days", "1 to 30 days"),
    (take_home(valid_days=31), "valid_days", "1 to 30 days"),
    (live(scheduled_at="2030-01-01T10:00:00"), "scheduled_at", "timezone"),
    (live(scheduled_at="PAST"), "scheduled_at", "in the past"),
    (live(candidate_name="   "), "candidate_name", "must not be empty"),
    (take_home(candidate_name="x" * 201), "candidate_name", "at most 200"),
    (take_home(candidate_email="not-an-email"), "candidate_email", "invalid email"),
    (take_home(custom_instructions="x" * 20_001), "custom_instructions", "20000"),
    (take_home(challenge="no-such-thing"), "challenge", "GET /api/challenges"),
    ({**live(), "valid_days": 3}, "valid_days", "Extra inputs"),
    ({"kind": "panel", "candidate_name": "X"}, "request", "tag"),
    ({"candidate_name": "X", "challenge": "demo"}, "request", "discriminator"),
]


async def test_invalid_input_is_422_naming_the_field(
    interviewer_client: httpx.AsyncClient,
) -> None:
    # One test for every case: each logs in once instead of once per case.
    for body, field, message in INVALID:
        if body.get("scheduled_at") == "PAST":
            body = {**body, "scheduled_at": _past()}
        response = await interviewer_client.post("/api/interviews", json=body)
        assert response.status_code == 422, (body, response.text)
        error = response.json()["error"]
        fields = {detail["field"].split(".")[-1] for detail in error["details"]}
        if field != "request":
            assert field in fields, (body, error)
        assert message.lower() in error["message"].lower(), (body, error)
    assert (await interviewer_client.get("/api/interviews")).json()["items"] == []


# Listing ------------------------------------------------------------------------------------


async def test_list_filters_and_searches(interviewer_client: httpx.AsyncClient) -> None:
    ada = await create(interviewer_client, take_home())
    grace = await create(
        interviewer_client,
        take_home(candidate_name="Grace Hopper", candidate_email="g@navy.mil", challenge="two-sum"),
    )
    alan = await create(interviewer_client, live())
    await interviewer_client.post(f"/api/interviews/{grace['id']}/destroy")

    async def ids(**params: Any) -> list[str]:
        response = await interviewer_client.get("/api/interviews", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [alan["id"], grace["id"], ada["id"]]
    assert await ids(kind="live") == [alan["id"]]
    assert await ids(kind="take_home") == [grace["id"], ada["id"]]
    assert await ids(status="invited") == [ada["id"]]
    assert await ids(status="invited,destroyed") == [grace["id"], ada["id"]]
    assert await ids(status=["initializing", "destroyed"]) == [alan["id"], grace["id"]]
    assert await ids(q="HOPPER") == [grace["id"]]
    assert await ids(q="navy") == [grace["id"]]
    assert await ids(q="two-sum") == [grace["id"]]
    assert await ids(q="demo", kind="take_home") == [ada["id"]]
    assert await ids(q="100%_") == []

    bad = await interviewer_client.get("/api/interviews", params={"status": "sleeping"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "status"
    assert "invited" in bad.json()["error"]["message"]


async def test_cursor_pagination_has_no_gaps_or_duplicates(
    viewer_client: httpx.AsyncClient, db: AsyncSession, org: Organization
) -> None:
    challenge = await make_challenge(db, org, slug="paged")
    base = utcnow()
    made = []
    for i in range(120):
        # Some rows share a creation time: the id breaks the tie.
        interview = await make_interview(
            db, org, challenge, created_at=base - timedelta(seconds=i // 3)
        )
        made.append(interview.id)
    await db.commit()

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 50}
        if cursor:
            params["cursor"] = cursor
        response = await viewer_client.get("/api/interviews", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 120
    assert set(seen) == set(made)
    keys = [(r.created_at, r.id) for r in await _rows(db, seen)]
    assert keys == sorted(keys, reverse=True)

    for bad in ("nonsense", "eyJhIjogMX0", "W10"):
        response = await viewer_client.get("/api/interviews", params={"cursor": bad})
        assert response.status_code == 422, bad
        assert response.json()["error"]["details"][0]["field"] == "cursor"
    assert (await viewer_client.get("/api/interviews", params={"limit": 201})).status_code == 422


async def _rows(db: AsyncSession, ids: list[str]) -> list[Interview]:
    rows = {r.id: r for r in await db.scalars(select(Interview).where(Interview.id.in_(ids)))}
    return [rows[i] for i in ids]


async def test_other_organizations_are_invisible(
    viewer_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    other = Organization(slug="globex", name="Globex")
    db.add(other)
    await db.flush()
    theirs = await make_interview(db, other, await make_challenge(db, other, slug="demo"))
    await db.commit()
    for path in ("", "/operations", "/archive"):
        response = await viewer_client.get(f"/api/interviews/{theirs.id}{path}")
        assert response.status_code == 404, path
        assert "in your organization" in response.json()["error"]["message"]
    assert (await viewer_client.get("/api/interviews")).json()["items"] == []


# Reading, ending, archives ------------------------------------------------------------------


async def test_revoke_before_start(interviewer_client: httpx.AsyncClient) -> None:
    created = await create(interviewer_client, take_home())
    response = await interviewer_client.post(f"/api/interviews/{created['id']}/destroy")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["end_reason"]) == ("destroyed", "revoked")
    assert (await interviewer_client.get(f"/api/interviews/{created['id']}/operations")).json() == {
        "operations": []
    }
    again = await interviewer_client.post(f"/api/interviews/{created['id']}/destroy")
    assert again.status_code == 409
    assert "already ended" in again.json()["error"]["message"]


async def test_ending_a_starting_live_interview(
    interviewer_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    created = await create(interviewer_client, live())
    response = await interviewer_client.post(f"/api/interviews/{created['id']}/destroy")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["end_reason"]) == (
        "destroying",
        "ended_by_interviewer",
    )
    operations = (
        await interviewer_client.get(f"/api/interviews/{created['id']}/operations")
    ).json()["operations"]
    assert [(op["type"], op["status"]) for op in operations] == [
        ("destroy", "pending"),
        ("create", "cancelled"),
    ]
    assert operations[0]["logs"], "a new operation says why it exists"
    row = await db.get(Interview, created["id"])
    assert row is not None and row.ended_by_id is not None
    again = await interviewer_client.post(f"/api/interviews/{created['id']}/destroy")
    assert again.status_code == 409
    assert "already being ended" in again.json()["error"]["message"]


async def test_viewers_cannot_end(
    interviewer_client: httpx.AsyncClient, viewer_client: httpx.AsyncClient
) -> None:
    created = await create(interviewer_client, take_home())
    response = await viewer_client.post(f"/api/interviews/{created['id']}/destroy")
    assert response.status_code == 403


async def test_archive_download(
    interviewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore
) -> None:
    created = await create(interviewer_client, take_home(candidate_name="Ada Lovelace / QA"))
    missing = await interviewer_client.get(f"/api/interviews/{created['id']}/archive")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"].startswith("no saved work yet")

    key = f"history/{created['id']}/workspace.tar.gz"
    content = b"\x1f\x8b" + bytes(range(256)) * 5000
    await blobs.put(key, content)
    row = await db.get(Interview, created["id"])
    assert row is not None
    row.history_key, row.history_size = key, len(content)
    await db.commit()

    response = await interviewer_client.get(f"/api/interviews/{created['id']}/archive")
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-type"] == "application/gzip"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    match = re.search(r'filename="([^"]+)"', disposition)
    assert match is not None
    assert re.fullmatch(r"ada-lovelace-qa_demo_\d{4}-\d{2}-\d{2}\.tar\.gz", match.group(1))

    await blobs.delete(key)
    lost = await interviewer_client.get(f"/api/interviews/{created['id']}/archive")
    assert lost.status_code == 404
    assert "missing from the blob store" in lost.json()["error"]["message"]


async def test_operations_are_listed_newest_first_with_logs(
    interviewer_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    created = await create(interviewer_client, live())
    await interviewer_client.post(f"/api/interviews/{created['id']}/destroy")
    rows = list(await db.scalars(select(Operation).where(Operation.interview_id == created["id"])))
    assert len(rows) == 2
    listed = (await interviewer_client.get(f"/api/interviews/{created['id']}/operations")).json()
    assert [op["type"] for op in listed["operations"]] == ["destroy", "create"]
    assert all(isinstance(op["logs"], list) for op in listed["operations"])


async def test_unknown_interview_is_404(viewer_client: httpx.AsyncClient) -> None:
    response = await viewer_client.get("/api/interviews/nope")
    assert response.status_code == 404
    assert "GET /api/interviews" in response.json()["error"]["message"]
