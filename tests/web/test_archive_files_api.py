"""GET /api/interviews/{id}/archive/files[/path] through the full ASGI stack."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview, Organization
from prequel.interviews.archive_files import MAX_VIEW_BYTES
from prequel.storage.base import BlobStore
from tests.support.factories import make_challenge, make_interview
from tests.support.saved_work import SAMPLE, attach_archive, file, tar_gz


@pytest.fixture
async def ended(db: AsyncSession, org: Organization) -> Interview:
    interview = await make_interview(
        db, org, await make_challenge(db, org), status="destroyed", end_reason="time_up"
    )
    await db.commit()
    return interview


def files_of(interview: Interview, path: str = "") -> str:
    return f"/api/interviews/{interview.id}/archive/files" + (f"/{path}" if path else "")


async def test_lists_the_saved_files(
    viewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore, ended: Interview
) -> None:
    key = await attach_archive(db, blobs, ended, tar_gz(*SAMPLE))
    response = await viewer_client.get(files_of(ended))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interview_id"] == ended.id
    assert body["archive"]["key"] == key
    assert body["file_count"] == 4 and body["truncated"] is False and body["skipped"] == 0
    by_path = {entry["path"]: entry for entry in body["entries"]}
    assert by_path["src/limiter.py"]["kind"] == "file"
    assert by_path["src/limiter.py"]["size"] == 32
    assert by_path["link-out"] == {
        "path": "link-out",
        "kind": "symlink",
        "size": 0,
        "modified_at": by_path["link-out"]["modified_at"],
        "target": "/etc/passwd",
    }


async def test_reads_one_file(
    viewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore, ended: Interview
) -> None:
    await attach_archive(db, blobs, ended, tar_gz(*SAMPLE, file("dir with space/ü.py", "ü = 1\n")))
    body = (await viewer_client.get(files_of(ended, "src/limiter.py"))).json()
    assert body["content"] == "def allow(key):\n    return True\n"
    assert (body["path"], body["line_count"], body["encoding"]) == ("src/limiter.py", 2, "utf-8")
    odd = await viewer_client.get(files_of(ended, "dir%20with%20space/%C3%BC.py"))
    assert odd.status_code == 200 and odd.json()["content"] == "ü = 1\n"


async def test_errors_say_what_to_do(
    viewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore, ended: Interview
) -> None:
    big = file("big.log", "x" * (MAX_VIEW_BYTES + 1))
    await attach_archive(db, blobs, ended, tar_gz(*SAMPLE, big))

    async def error(path: str) -> tuple[int, str, str]:
        response = await viewer_client.get(files_of(ended, path))
        body = response.json()["error"]
        return response.status_code, body["code"], body["message"]

    status, code, message = await error("big.log")
    assert (status, code) == (413, "file_too_large") and "download" in message
    assert (await error("data.bin"))[:2] == (422, "binary_file")
    assert (await error("src"))[:2] == (422, "not_a_file")
    assert (await error("link-out"))[:2] == (422, "not_a_file")
    assert (await error("missing.txt"))[:2] == (404, "no_such_file")
    # Percent-encoded dots reach the route as '..' and are refused, not resolved.
    assert (await error("%2E%2E/%2E%2E/etc/passwd"))[:2] == (422, "invalid_path")
    assert (await error("src/%2E%2E/README.md"))[:2] == (422, "invalid_path")


async def test_no_archive_and_a_lost_archive_are_404(
    viewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore, ended: Interview
) -> None:
    response = await viewer_client.get(files_of(ended))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_archive"
    assert "no saved work yet" in response.json()["error"]["message"]

    key = await attach_archive(db, blobs, ended, tar_gz(*SAMPLE))
    await blobs.delete(key)
    for path in ("", "README.md"):
        lost = await viewer_client.get(files_of(ended, path))
        assert lost.status_code == 404
        assert "missing from the blob store" in lost.json()["error"]["message"]


async def test_a_damaged_archive_is_422(
    viewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore, ended: Interview
) -> None:
    await attach_archive(db, blobs, ended, b"\x1f\x8b not really gzip")
    response = await viewer_client.get(files_of(ended))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "archive_unreadable"


async def test_other_organizations_and_anonymous_callers_see_nothing(
    app: FastAPI,
    viewer_client: httpx.AsyncClient,
    db: AsyncSession,
    blobs: BlobStore,
) -> None:
    other = Organization(slug="globex", name="Globex")
    db.add(other)
    await db.flush()
    theirs = await make_interview(
        db, other, await make_challenge(db, other), status="destroyed", end_reason="time_up"
    )
    await attach_archive(db, blobs, theirs, tar_gz(*SAMPLE))
    for path in ("", "README.md"):
        response = await viewer_client.get(files_of(theirs, path))
        assert response.status_code == 404
        assert "in your organization" in response.json()["error"]["message"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as anonymous:
        assert (await anonymous.get(files_of(theirs))).status_code == 401


async def test_documented_in_the_openapi_schema(viewer_client: httpx.AsyncClient) -> None:
    schema = (await viewer_client.get("/openapi.json")).json()
    listing = schema["paths"]["/api/interviews/{interview_id}/archive/files"]["get"]
    one = schema["paths"]["/api/interviews/{interview_id}/archive/files/{path}"]["get"]
    assert {"200", "404", "422"} <= set(listing["responses"])
    assert {"200", "404", "413", "422"} <= set(one["responses"])
    assert "never followed" in listing["description"]
