"""The challenge library API and pages through the real ASGI stack."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.challenges.library import import_samples
from prequel.db.models import Organization
from prequel.storage.base import BlobStore
from tests.challenges.builders import SAMPLES_DIR, as_bytes, challenge_files, tar_gz, zip_bytes

HTML = {"accept": "text/html"}
GOOD = as_bytes(challenge_files())


def bundle(data: bytes, filename: str = "challenge.tar.gz") -> dict[str, Any]:
    return {"bundle": (filename, data, "application/octet-stream")}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    return error


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


async def load_samples(db: AsyncSession, blobs: BlobStore, org: Organization) -> list[str]:
    results = await import_samples(db, blobs, org, SAMPLES_DIR)
    await db.commit()
    return [r.challenge.title for r in results]


# API --------------------------------------------------------------------------------------


async def test_upload_tar_gz_then_list_and_detail(
    admin_client: httpx.AsyncClient, viewer_client: httpx.AsyncClient
) -> None:
    assert (await viewer_client.get("/api/challenges")).json() == {"challenges": []}
    created = await admin_client.post("/api/challenges", files=bundle(tar_gz(GOOD)))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] is True and body["previous_version"] is None
    assert body["slug"] == "reverse-string" and body["version"] == 1
    assert body["files"] == ["files/reverse.py", "tests/visible/test_reverse.py"]
    assert "hidden" not in created.text and "solution" not in created.text

    listing = (await viewer_client.get("/api/challenges")).json()["challenges"]
    assert [c["slug"] for c in listing] == ["reverse-string"]
    assert set(listing[0]) == {
        "slug",
        "title",
        "difficulty",
        "tags",
        "language",
        "environment",
        "time_estimate_minutes",
        "version",
        "created_at",
    }

    detail = await viewer_client.get("/api/challenges/reverse-string")
    assert detail.status_code == 200
    data = detail.json()
    assert data["statement"].startswith("# Reverse a String")
    assert data["files"] == body["files"]
    assert [v["version"] for v in data["versions"]] == [1]
    assert data["versions"][0]["sha256"] == data["sha256"]
    assert "hidden" not in detail.text and "return text[::-1]" not in detail.text


async def test_reupload_unchanged_is_200_and_a_change_is_version_two(
    admin_client: httpx.AsyncClient,
) -> None:
    first = await admin_client.post("/api/challenges", files=bundle(zip_bytes(GOOD), "c.zip"))
    assert first.status_code == 201, first.text
    same = await admin_client.post("/api/challenges", files=bundle(tar_gz(GOOD), "c.tgz"))
    assert same.status_code == 200 and same.json()["created"] is False
    changed = {**GOOD, "README.md": b"# Reverse a String\n\nVersion two.\n"}
    second = await admin_client.post("/api/challenges", files=bundle(tar_gz(changed)))
    assert second.status_code == 201
    assert second.json()["version"] == 2 and second.json()["previous_version"] == 1

    old = await admin_client.get("/api/challenges/reverse-string", params={"version": 1})
    assert old.status_code == 200 and "Version two" not in old.json()["statement"]
    assert [v["version"] for v in old.json()["versions"]] == [2, 1]
    missing = await admin_client.get("/api/challenges/reverse-string", params={"version": 9})
    assert "no version 9" in error_of(missing, 404)["message"]


async def test_unknown_slug_is_a_clear_404(viewer_client: httpx.AsyncClient) -> None:
    error = error_of(await viewer_client.get("/api/challenges/no-such-thing"), 404)
    assert "no challenge with slug 'no-such-thing'" in error["message"]


async def test_anonymous_api_calls_are_401(client: httpx.AsyncClient) -> None:
    error_of(await client.get("/api/challenges"), 401)
    error_of(await client.post("/api/challenges", files=bundle(tar_gz(GOOD))), 401)


async def test_only_admins_upload(
    interviewer_client: httpx.AsyncClient, viewer_client: httpx.AsyncClient
) -> None:
    for c in (interviewer_client, viewer_client):
        error = error_of(await c.post("/api/challenges", files=bundle(tar_gz(GOOD))), 403)
        assert "admin role" in error["message"]


async def test_upload_without_csrf_header_is_refused(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.post(
        "/api/challenges", files=bundle(tar_gz(GOOD)), headers={"X-CSRF-Token": "wrong"}
    )
    assert error_of(response, 403)["code"] == "csrf_failed"


async def test_oversized_upload_is_413(app: FastAPI, admin_client: httpx.AsyncClient) -> None:
    app.state.prequel.settings.challenges.max_bundle_bytes = 4096
    big = tar_gz({**GOOD, "files/data.bin": bytes(range(256)) * 400}, prefix="x/")
    big = big + b"\0" * 70_000  # well past the limit plus the form overhead
    error = error_of(await admin_client.post("/api/challenges", files=bundle(big)), 413)
    assert "larger than 4096 bytes" in error["message"] and error["code"] == "too_large"

    # Without a Content-Length the body is counted while it streams in.
    boundary = "prequel-test-boundary"

    async def chunks() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; '
            f'filename="c.tar.gz"\r\nContent-Type: application/gzip\r\n\r\n'
        ).encode()
        for _ in range(100):
            yield b"\0" * 4096

    streamed = await admin_client.post(
        "/api/challenges",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert error_of(streamed, 413)["code"] == "too_large"

    # Between the limit and the limit plus form overhead: caught on the file itself.
    slightly = bundle(b"\x1f\x8b" + b"\0" * 5000)
    assert error_of(await admin_client.post("/api/challenges", files=slightly), 413)


async def test_zip_slip_upload_names_the_path(admin_client: httpx.AsyncClient) -> None:
    evil = zip_bytes({**GOOD, "files/../../../evil.py": b"import os"})
    error = error_of(await admin_client.post("/api/challenges", files=bundle(evil, "c.zip")), 422)
    assert error["code"] == "bundle_rejected"
    assert "files/../../../evil.py" in error["message"] and "zip-slip" in error["message"]


async def test_malformed_challenge_lists_every_problem(admin_client: httpx.AsyncClient) -> None:
    files = dict(GOOD)
    files["challenge.toml"] = files["challenge.toml"].replace(b'"easy"', b'"trivial"')
    del files["solution/reverse.py"]
    error = error_of(await admin_client.post("/api/challenges", files=bundle(tar_gz(files))), 422)
    assert error["code"] == "invalid_challenge"
    assert "2 problems" in error["message"]
    paths = {d["path"] for d in error["details"]}
    assert paths == {"challenge.toml", "solution"}
    assert all(d["message"] for d in error["details"])


async def test_bad_requests_are_explained(admin_client: httpx.AsyncClient) -> None:
    not_form = await admin_client.post("/api/challenges", json={"bundle": "x"})
    assert "multipart/form-data" in error_of(not_form, 415)["message"]
    no_field = await admin_client.post("/api/challenges", files={"other": ("a.tgz", b"x")})
    assert "'bundle'" in error_of(no_field, 422)["message"]
    garbage = await admin_client.post("/api/challenges", files=bundle(b"not an archive"))
    assert error_of(garbage, 422)["code"] == "bundle_rejected"
    wrong_type = await admin_client.post("/api/challenges", files=bundle(b"x", "c.rar"))
    assert ".tar.gz, .tgz or .zip" in error_of(wrong_type, 422)["message"]
    broken = await admin_client.post(
        "/api/challenges",
        content=b"--x\r\nnonsense",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert broken.status_code in (400, 422), broken.text


async def test_the_upload_is_described_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/challenges"]["post"]["requestBody"]
    assert "bundle" in body["content"]["multipart/form-data"]["schema"]["properties"]


# Pages ------------------------------------------------------------------------------------


async def test_challenges_page_lists_the_samples(
    viewer_client: httpx.AsyncClient, db: AsyncSession, blobs: BlobStore, org: Organization
) -> None:
    titles = await load_samples(db, blobs, org)
    page = await viewer_client.get("/challenges", headers=HTML)
    assert page.status_code == 200
    for title in titles:
        assert title in page.text
    assert 'aria-current="page"' in page.text
    assert "Upload a challenge" not in page.text  # viewers cannot upload


async def test_empty_library_tells_an_admin_how_to_add_one(
    admin_client: httpx.AsyncClient,
) -> None:
    page = await admin_client.get("/challenges", headers=HTML)
    assert "prequel challenges import DIR" in page.text
    assert (
        'action="/challenges/upload"' in page.text and 'enctype="multipart/form-data"' in page.text
    )


async def test_anonymous_browser_is_sent_to_login(client: httpx.AsyncClient) -> None:
    for path in ("/challenges", "/challenges/rate-limiter"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=")


async def test_detail_page_renders_the_statement_safely(
    admin_client: httpx.AsyncClient, viewer_client: httpx.AsyncClient
) -> None:
    assert (
        await admin_client.post("/api/challenges", files=bundle(tar_gz(GOOD)))
    ).status_code == 201
    page = await viewer_client.get("/challenges/reverse-string", headers=HTML)
    assert page.status_code == 200
    assert "<h1>Reverse a String</h1>" in page.text  # Markdown rendered
    assert "<script>alert(1)</script>" not in page.text  # raw HTML escaped
    assert "reverse.py" in page.text and "test_reverse.py" in page.text
    assert "test_reverse_hidden" not in page.text and "text[::-1]" not in page.text
    missing = await viewer_client.get("/challenges/nope", headers=HTML)
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


async def test_upload_form_imports_and_reports_back(admin_client: httpx.AsyncClient) -> None:
    token = form_token((await admin_client.get("/challenges", headers=HTML)).text)
    response = await admin_client.post(
        "/challenges/upload",
        data={"csrf_token": token},
        files=bundle(tar_gz(GOOD)),
        headers=HTML,
    )
    assert response.status_code == 303 and response.headers["location"] == "/challenges"
    page = await admin_client.get("/challenges", headers=HTML)
    assert "Imported “Reverse a String” as version 1." in page.text
    assert "Reverse a String" in page.text
    again = await admin_client.get("/challenges", headers=HTML)
    assert "Imported" not in again.text  # the message is shown once

    bad = dict(GOOD)
    del bad["README.md"]
    await admin_client.post(
        "/challenges/upload", data={"csrf_token": token}, files=bundle(tar_gz(bad)), headers=HTML
    )
    page = await admin_client.get("/challenges", headers=HTML)
    assert "the challenge has 1 problem" in page.text
    assert "README.md: is missing" in page.text


async def test_upload_form_needs_the_csrf_field_and_an_admin(
    admin_client: httpx.AsyncClient, interviewer_client: httpx.AsyncClient
) -> None:
    forged = await admin_client.post("/challenges/upload", files=bundle(tar_gz(GOOD)), headers=HTML)
    assert forged.status_code == 403 and "form expired" in forged.text
    token = form_token((await interviewer_client.get("/challenges", headers=HTML)).text)
    denied = await interviewer_client.post(
        "/challenges/upload", data={"csrf_token": token}, files=bundle(tar_gz(GOOD)), headers=HTML
    )
    assert denied.status_code == 403
    listing = await admin_client.get("/api/challenges")
    assert listing.json() == {"challenges": []}
