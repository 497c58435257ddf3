"""The History page, the interview detail page and the saved-files pages, rendered by the
real app (no browser): guards, filters, pagination and escaping."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Interview, Organization
from prequel.db.types import utcnow
from prequel.storage.base import BlobStore
from prequel.web.routes.history_pages import INLINE_LISTING_MAX_BYTES
from tests.support.factories import make_challenge, make_interview
from tests.support.saved_work import SAMPLE, attach_archive, file, tar_gz

HTML = {"accept": "text/html"}
SCRIPT = "<script>alert('pwned')</script>"


@pytest.fixture
async def challenge(db: AsyncSession, org: Organization) -> Challenge:
    made = await make_challenge(db, org, slug="rate-limiter")
    await db.commit()
    return made


async def ended(
    db: AsyncSession, org: Organization, challenge: Challenge, **fields: Any
) -> Interview:
    now = utcnow()
    values: dict[str, Any] = {
        "status": "destroyed",
        "end_reason": "time_up",
        "started_at": now - timedelta(minutes=58),
        "destroyed_at": now,
        "completed_at": now,
    }
    values.update(fields)
    interview = await make_interview(db, org, challenge, **values)
    await db.commit()
    return interview


def rows_of(page: str) -> list[str]:
    return re.findall(r'<tr data-interview="([0-9a-f]+)">', page)


def page_data(page: str, element_id: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', page)
    assert match, element_id
    data: dict[str, Any] = json.loads(match.group(1))
    return data


# Guards -------------------------------------------------------------------------------------


async def test_pages_need_a_login(client: httpx.AsyncClient) -> None:
    for path in (
        "/history?q=x",
        "/interviews/abc",
        "/interviews/abc/saved",
        "/interviews/a/saved/b",
    ):
        response = await client.get(path, headers=HTML)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=%2F"), path


async def test_another_organizations_interview_is_not_found(
    viewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore
) -> None:
    other = Organization(slug="globex", name="Globex")
    db.add(other)
    await db.flush()
    theirs = await ended(db, other, await make_challenge(db, other), candidate_name="Secret Sam")
    await attach_archive(db, blobs, theirs, tar_gz(*SAMPLE))
    missing = await viewer_client.get("/interviews/0123456789abcdef", headers=HTML)
    for path in ("", "/saved", "/saved/README.md"):
        response = await viewer_client.get(f"/interviews/{theirs.id}{path}", headers=HTML)
        assert response.status_code == 404, path
        assert "Secret Sam" not in response.text and "sliding window" not in response.text
        # Exactly what a made-up id gets: nothing tells the two apart.
        assert "no such interview in your organization" in response.text
    assert missing.status_code == 404
    history = await viewer_client.get("/history", headers=HTML)
    assert "Secret Sam" not in history.text


# History --------------------------------------------------------------------------------------


async def test_history_lists_only_ended_interviews(
    viewer_client: httpx.AsyncClient,
    db: AsyncSession,
    org: Organization,
    challenge: Challenge,
    blobs: BlobStore,
) -> None:
    done = await ended(db, org, challenge, candidate_name="Ada Lovelace", duration_minutes=60)
    await attach_archive(db, blobs, done, tar_gz(*SAMPLE))
    never = await ended(
        db, org, challenge, candidate_name="Never Started", end_reason="expired", started_at=None
    )
    await make_interview(db, org, challenge, candidate_name="Still Invited")
    await make_interview(db, org, challenge, candidate_name="Broken Box", status="error")
    await db.commit()

    page = await viewer_client.get("/history", headers=HTML)
    assert page.status_code == 200
    assert rows_of(page.text) == [never.id, done.id]
    text = page.text
    assert "Still Invited" not in text and "Broken Box" not in text
    assert f'href="/api/interviews/{done.id}/archive" download' in text
    assert f"/api/interviews/{never.id}/archive" not in text  # nothing saved, no button
    assert "58 min" in text and "of 1 h" in text and "Never started" in text
    assert ">Expired<" in text and ">Time up<" in text
    assert 'aria-current="page">History' in text
    assert "/static/css/history.css" in text and "/static/js/pages/history.js" in text
    data = page_data(text, "history-data")
    assert data["first_page"] is True and data["ids"] == [never.id, done.id]
    assert data["resume_seq"] >= 0


async def test_empty_history_says_what_to_do(viewer_client: httpx.AsyncClient) -> None:
    page = await viewer_client.get("/history", headers=HTML)
    assert page.status_code == 200
    assert "Nothing has ended yet" in page.text
    assert 'href="/interviews"' in page.text and 'href="/take-homes"' in page.text


async def test_search_and_filters(
    viewer_client: httpx.AsyncClient, db: AsyncSession, org: Organization, challenge: Challenge
) -> None:
    now = utcnow()
    ada = await ended(db, org, challenge, candidate_name="Ada Lovelace", kind="live")
    grace = await ended(
        db,
        org,
        challenge,
        candidate_name="Grace Hopper",
        candidate_email="grace@navy.example",
        end_reason="revoked",
        destroyed_at=now - timedelta(days=3),
    )
    alan = await ended(db, org, challenge, candidate_name="Alan Turing", end_reason="failed")

    async def ids(**params: str) -> list[str]:
        response = await viewer_client.get("/history", params=params, headers=HTML)
        assert response.status_code == 200, response.text
        return rows_of(response.text)

    assert await ids(q="ada") == [ada.id]
    assert await ids(q="NAVY.example") == [grace.id]
    assert await ids(q="rate-lim") == [alan.id, grace.id, ada.id]
    assert await ids(kind="live") == [ada.id]
    assert await ids(kind="take_home") == [alan.id, grace.id]
    assert await ids(end_reason="failed") == [alan.id]
    assert await ids(end_reason="revoked", q="grace") == [grace.id]
    three_days_ago = (now - timedelta(days=3)).date().isoformat()
    assert await ids(ended_from=three_days_ago, ended_to=three_days_ago, tz="UTC") == [grace.id]
    today = now.date().isoformat()
    assert grace.id not in await ids(ended_from=today, tz="UTC")
    assert await ids(q="nobody at all") == []

    nothing = await viewer_client.get("/history", params={"q": "nobody"}, headers=HTML)
    assert "Nothing matches" in nothing.text and "Clear the filters" in nothing.text
    assert 'value="nobody"' in nothing.text  # the form keeps what was searched


async def test_a_date_range_is_in_the_viewers_time_zone(
    viewer_client: httpx.AsyncClient, db: AsyncSession, org: Organization, challenge: Challenge
) -> None:
    moment = utcnow().replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=2)
    late = await ended(db, org, challenge, destroyed_at=moment)
    utc_day = moment.date().isoformat()
    tokyo_day = (moment + timedelta(hours=9)).date().isoformat()  # already the next day
    params = {"ended_from": tokyo_day, "ended_to": tokyo_day}
    tokyo = await viewer_client.get("/history", params={**params, "tz": "Asia/Tokyo"}, headers=HTML)
    assert rows_of(tokyo.text) == [late.id]
    utc = await viewer_client.get("/history", params={**params, "tz": "UTC"}, headers=HTML)
    assert rows_of(utc.text) == []
    assert utc_day != tokyo_day


async def test_bad_filters_are_explained_in_the_page(viewer_client: httpx.AsyncClient) -> None:
    cases = {
        "cursor": "not-a-cursor",
        "ended_from": "yesterday",
        "kind": "marathon",
        "end_reason": "bored",
    }
    for name, value in cases.items():
        response = await viewer_client.get("/history", params={name: value}, headers=HTML)
        assert response.status_code == 422, name
        assert 'class="alert alert-error history-error" role="alert"' in response.text, name
    backwards = await viewer_client.get(
        "/history", params={"ended_from": "2030-02-01", "ended_to": "2030-01-01"}, headers=HTML
    )
    assert backwards.status_code == 422 and "must not be after" in backwards.text


async def test_pagination_walks_every_row_once(
    viewer_client: httpx.AsyncClient, db: AsyncSession, org: Organization, challenge: Challenge
) -> None:
    now = utcnow()
    made = [
        await ended(
            db,
            org,
            challenge,
            candidate_name=f"Candidate {i:03d}",
            created_at=now - timedelta(minutes=i),
        )
        for i in range(57)
    ]
    seen: list[str] = []
    url: str | None = "/history?q=candidate"
    pages = 0
    while url:
        response = await viewer_client.get(url, headers=HTML)
        assert response.status_code == 200
        seen += rows_of(response.text)
        pages += 1
        older = re.search(r'rel="next" href="([^"]+)"', response.text)
        url = html.unescape(older.group(1)) if older else None
        if pages == 2:
            assert "Page 2" in response.text and "Back to the newest" in response.text
            assert 'href="/history?q=candidate">Back to the newest' in response.text
    assert pages == 2
    assert seen == [interview.id for interview in made]


async def test_names_and_files_are_escaped(
    interviewer_client: httpx.AsyncClient,
    db: AsyncSession,
    org: Organization,
    challenge: Challenge,
    blobs: BlobStore,
) -> None:
    created = await interviewer_client.post(
        "/api/interviews",
        json={
            "kind": "take_home",
            "candidate_name": SCRIPT,
            "challenge": "rate-limiter",
            "custom_instructions": SCRIPT,
            "valid_days": 2,
            "duration_minutes": 60,
        },
    )
    assert created.status_code == 201, created.text
    interview_id = created.json()["id"]
    revoked = await interviewer_client.post(f"/api/interviews/{interview_id}/destroy")
    assert revoked.status_code == 200
    interview = await db.get(Interview, interview_id)
    assert interview is not None
    await db.refresh(interview)
    hostile = tar_gz(file("<img src=x onerror=alert(1)>.py", SCRIPT), file("ok.py", SCRIPT))
    await attach_archive(db, blobs, interview, hostile)

    pages = [
        await interviewer_client.get("/history", headers=HTML),
        await interviewer_client.get(f"/history?q={SCRIPT}", headers=HTML),
        await interviewer_client.get(f"/interviews/{interview_id}", headers=HTML),
        await interviewer_client.get(f"/interviews/{interview_id}/saved/ok.py", headers=HTML),
    ]
    for page in pages:
        assert page.status_code == 200, page.text
        assert "<script>alert" not in page.text
        assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in pages[0].text
    assert "&lt;script&gt;" in pages[3].text  # the file's content, shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;.py" in pages[2].text


# Detail ---------------------------------------------------------------------------------------


async def test_detail_shows_timeline_logs_access_and_saved_files(
    interviewer_client: httpx.AsyncClient, db: AsyncSession, challenge: Challenge, blobs: BlobStore
) -> None:
    created = await interviewer_client.post(
        "/api/interviews",
        json={
            "kind": "live",
            "candidate_name": "Alan Turing",
            "challenge": "rate-limiter",
            "duration_minutes": 45,
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    page = await interviewer_client.get(f"/interviews/{body['id']}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "<h1>Alan Turing</h1>" in text
    assert 'data-timeline-status="scheduled"' in text
    assert 'data-timeline-status="initializing"' in text
    assert "Create the workspace" in text and 'data-operation="' in text
    assert 'class="log-line' in text  # the create job's first log line
    assert body["password"] in text and f"/join/{body['id']}" in text
    assert "Operation logs" in text and "Status timeline" in text
    assert 'aria-current="page">Interviews' in text  # not ended: it belongs to Interviews
    assert "Its files will appear here then" in text
    data = page_data(text, "interview-data")
    assert data["id"] == body["id"] and data["status"] == "initializing"
    assert data["resume_seq"] > 0

    ended_now = await interviewer_client.post(f"/api/interviews/{body['id']}/destroy")
    assert ended_now.status_code == 200
    interview = await db.get(Interview, body["id"])
    assert interview is not None
    await db.refresh(interview)
    await attach_archive(db, blobs, interview, tar_gz(*SAMPLE))
    page = await interviewer_client.get(f"/interviews/{body['id']}", headers=HTML)
    text = page.text
    assert 'data-timeline-status="destroying"' in text
    assert "Save the work and remove the workspace" in text
    assert f'href="/interviews/{body["id"]}/saved/src/limiter.py"' in text
    assert f'href="/api/interviews/{body["id"]}/archive" download' in text
    assert "4 files" in text and "link-out" in text and "→ /etc/passwd (link)" in text


async def test_saved_file_pages(
    viewer_client: httpx.AsyncClient,
    db: AsyncSession,
    org: Organization,
    challenge: Challenge,
    blobs: BlobStore,
) -> None:
    interview = await ended(db, org, challenge, candidate_name="Grace Hopper")
    nothing = await viewer_client.get(f"/interviews/{interview.id}/saved", headers=HTML)
    assert nothing.status_code == 404 and "not saved yet" in nothing.text
    await attach_archive(db, blobs, interview, tar_gz(*SAMPLE))

    tree = await viewer_client.get(f"/interviews/{interview.id}/saved", headers=HTML)
    assert tree.status_code == 200 and "Pick a file to read it here" in tree.text

    shown = await viewer_client.get(
        f"/interviews/{interview.id}/saved/src/limiter.py", headers=HTML
    )
    assert shown.status_code == 200
    assert "def allow(key):\n    return True\n" in shown.text
    assert '<pre class="code-gutter" aria-hidden="true">1\n2</pre>' in shown.text
    assert 'aria-current="true"' in shown.text

    for path, status, words in (
        ("data.bin", 422, "binary file"),
        ("link-out", 422, "never followed"),
        ("nope.txt", 404, "there is no nope.txt"),
        ("%2E%2E/secret", 422, "not a path inside the saved work"),
    ):
        response = await viewer_client.get(f"/interviews/{interview.id}/saved/{path}", headers=HTML)
        assert response.status_code == status, path
        assert words in response.text, path
        assert "Download the archive" in response.text, path


async def test_the_api_list_has_the_same_filters(
    viewer_client: httpx.AsyncClient, db: AsyncSession, org: Organization, challenge: Challenge
) -> None:
    now = utcnow()
    old = await ended(
        db, org, challenge, end_reason="revoked", destroyed_at=now - timedelta(days=9)
    )
    new = await ended(db, org, challenge, end_reason="time_up")

    async def ids(**params: str) -> list[str]:
        response = await viewer_client.get("/api/interviews", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids(end_reason="revoked") == [old.id]
    assert await ids(end_reason="revoked,time_up") == [new.id, old.id]
    week_ago = (now - timedelta(days=7)).isoformat()
    assert await ids(ended_after=week_ago) == [new.id]
    assert await ids(ended_before=week_ago) == [old.id]
    bad = await viewer_client.get("/api/interviews", params={"end_reason": "bored"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == [
        {"field": "end_reason", "message": bad.json()["error"]["message"]}
    ]
    backwards = await viewer_client.get(
        "/api/interviews", params={"ended_after": now.isoformat(), "ended_before": week_ago}
    )
    assert backwards.status_code == 422


async def test_a_large_archive_is_listed_on_its_own_page_only(
    viewer_client: httpx.AsyncClient,
    db: AsyncSession,
    org: Organization,
    challenge: Challenge,
    blobs: BlobStore,
) -> None:
    interview = await ended(db, org, challenge)
    await attach_archive(db, blobs, interview, tar_gz(*SAMPLE))
    interview.history_size = INLINE_LISTING_MAX_BYTES + 1  # as recorded by the destroy job
    await db.commit()
    detail = await viewer_client.get(f"/interviews/{interview.id}", headers=HTML)
    assert "too large to list on this page" in detail.text
    assert "data-file-browser" not in detail.text
    assert f'href="/interviews/{interview.id}/saved">Browse the saved files' in detail.text
    files = await viewer_client.get(f"/interviews/{interview.id}/saved", headers=HTML)
    assert "data-file-browser" in files.text and "limiter.py" in files.text
