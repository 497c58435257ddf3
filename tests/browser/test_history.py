"""History, the interview detail page and the saved-files browser in real Chromium, against
a real portal whose take-homes run in real local workspaces and end by themselves (an
interview minute lasts 0.15 s here, so a 60-minute take-home ends 9 s after it starts)."""

from __future__ import annotations

import asyncio
import re
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.jobs.test_take_home_flow import edit_through_agent
from tests.support.portal_process import PortalProcess, running_portal

pytestmark = pytest.mark.browser

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 820, "height": 1180}
NOTES = "# Notes\n\nA sliding window per key.\n<script>alert('notes')</script>\n"


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalProcess]:
    # 0.15 s per interview minute: the 60-minute take-home lasts 9 s, time enough to write
    # a file into its workspace on a busy machine, short enough to watch it end.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="0.15") as process:
        yield process


@pytest.fixture(scope="module")
def shots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(page: Page, portal: PortalProcess, target: str) -> None:
    page.goto(f"{portal.url}/login?next={target}")
    page.get_by_label("Email").fill(portal.email)
    page.get_by_label("Password").fill(portal.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))


def take_home(api: httpx.Client, name: str, **extra: Any) -> dict[str, Any]:
    response = api.post(
        "/api/interviews",
        json={
            "kind": "take_home",
            "candidate_name": name,
            "challenge": "rate-limiter",
            "valid_days": 3,
            "duration_minutes": 60,
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def start(portal: PortalProcess, interview: dict[str, Any]) -> None:
    """What the candidate's Start button does: a session from one of our pages, then the
    activation with that session's CSRF token."""
    with httpx.Client(base_url=portal.url, timeout=30) as candidate:
        page = candidate.get("/login")
        token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
        assert token, page.text
        activated = candidate.post(
            f"/api/interviews/{interview['id']}/activate",
            json={"passcode": interview["passcode"]},
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert activated.status_code == 200, activated.text


def write_notes(portal: PortalProcess, interview_id: str) -> None:
    """Edit a file through the workspace agent, in a thread of its own: Playwright's sync API
    keeps an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(edit_through_agent(portal, interview_id, NOTES))).result()


def wait_status(api: httpx.Client, interview_id: str, wanted: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = api.get(f"/api/interviews/{interview_id}").json()["status"]
        if status == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"status stayed {status}, wanted {wanted}")


def test_history_detail_and_saved_files(
    portal: PortalProcess, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=LAPTOP, timezone_id="Europe/Paris")
    history = context.new_page()
    log_in(history, portal, "/history")
    expect(history.get_by_role("heading", name="Nothing has ended yet")).to_be_visible()
    expect(history.locator("[data-live-status]")).to_have_text("Live")
    history.screenshot(path=str(shots / "history-empty.png"), full_page=True)

    with portal.client() as api:
        revoked = take_home(api, "Ada Lovelace", candidate_email="ada@example.com")
        assert api.post(f"/api/interviews/{revoked['id']}/destroy").status_code == 200
        grace = take_home(api, "Grace Hopper", custom_instructions="Use the standard library.")
        start(portal, grace)
        wait_status(api, grace["id"], "active")
        write_notes(portal, grace["id"])

        # The detail page, opened while the test runs, follows it to the end by itself.
        detail = context.new_page()
        detail.goto(f"{portal.url}/interviews/{grace['id']}")
        timeline = detail.locator("[data-timeline] li")
        expect(detail.locator("[data-live-status]")).to_have_text("Live")
        if "Active" in (detail.locator("[data-status-badge]").text_content() or ""):
            expect(detail.get_by_role("link", name="Open the workspace")).to_be_visible()
            detail.screenshot(path=str(shots / "interview-detail-active.png"), full_page=True)
        expect(timeline.last).to_contain_text("Time up", timeout=30_000)
        expect(detail.get_by_role("link", name="Download saved code")).to_be_visible()
        expect(detail.get_by_text("The work is saved.")).to_be_visible()
        # The destroy job appeared with its log lines, streamed in as they were written.
        destroy = detail.locator("[data-operation]").first
        expect(destroy).to_contain_text("Save the work and remove the workspace")
        expect(destroy.locator(".log-line").first).to_be_visible()
        expect(detail.locator("[data-workspace-note]")).to_have_text("Removed", timeout=15_000)
        detail.screenshot(path=str(shots / "interview-detail-live.png"), full_page=True)
        wait_status(api, grace["id"], "destroyed")

    # History added both ended take-homes at the top without a reload.
    rows = history.locator("[data-history-rows] tr")
    expect(rows).to_have_count(2, timeout=15_000)
    expect(history.locator("[data-history-empty]")).to_have_count(0)
    expect(rows.filter(has_text="Grace Hopper")).to_contain_text("Time up")
    expect(rows.filter(has_text="Ada Lovelace")).to_contain_text("Revoked")
    expect(rows.first).to_contain_text("Just ended")
    history.screenshot(path=str(shots / "history-live.png"), full_page=True)

    # A fresh load shows the same rows, rendered by the server.
    history.reload()
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Grace Hopper")
    expect(rows.first).to_contain_text("of 1 h")
    history.screenshot(path=str(shots / "history-list.png"), full_page=True)

    with history.expect_download() as download_info:
        history.get_by_role("link", name="Download the saved code of Grace Hopper").click()
    download = download_info.value
    assert re.fullmatch(
        r"grace-hopper_rate-limiter_\d{4}-\d{2}-\d{2}\.tar\.gz", download.suggested_filename
    )
    saved = tmp_path / "saved.tar.gz"
    download.save_as(saved)
    with tarfile.open(saved, "r:gz") as tar:
        member = tar.extractfile("notes.md")
        assert member is not None and member.read().decode() == NOTES

    # Search narrows the list, with a plain GET form.
    history.get_by_role("searchbox", name="Search").fill("grace")
    history.get_by_role("button", name="Search").click()
    expect(history).to_have_url(re.compile(r"q=grace"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Grace Hopper")
    history.screenshot(path=str(shots / "history-search.png"), full_page=True)
    history.get_by_role("searchbox", name="Search").fill("nobody like that")
    history.get_by_role("searchbox", name="Search").press("Enter")
    expect(history.get_by_role("heading", name="Nothing matches")).to_be_visible()

    # The detail page after a reload: timeline, logs and the saved files from the server.
    detail.reload()
    statuses = detail.locator("[data-timeline] li")
    expect(statuses.first).to_contain_text("Invited")
    for label in ("Starting", "Initializing", "Configuring", "Active", "Saving work", "Time up"):
        expect(statuses.filter(has_text=label)).to_have_count(1)
    expect(detail.locator("[data-operation]")).to_have_count(2)
    expect(detail.locator(".log-line").first).to_be_visible()
    expect(detail.get_by_role("heading", name="Saved work")).to_be_visible()
    detail.screenshot(path=str(shots / "interview-detail.png"), full_page=True)

    # Clicking a file shows it in the page; its markup stays text.
    detail.get_by_role("link", name=re.compile(r"^notes\.md")).click()
    code = detail.locator("[data-file-view] .code-text")
    expect(code).to_contain_text("A sliding window per key.")
    expect(code).to_contain_text("<script>alert('notes')</script>")
    expect(detail.locator("[data-file-view] .code-gutter")).to_have_text("1\n2\n3\n4")
    assert detail.url.endswith(f"/interviews/{grace['id']}")  # no navigation happened
    detail.locator("[data-file-view] .code-body").scroll_into_view_if_needed()
    detail.screenshot(path=str(shots / "interview-files.png"), full_page=True)

    # The full-width saved-files page keeps a permalink per file.
    detail.goto(f"{portal.url}/interviews/{grace['id']}/saved")
    detail.get_by_role("link", name=re.compile(r"^notes\.md")).click()
    expect(detail).to_have_url(re.compile(r"/saved/notes\.md$"))
    expect(detail.locator(".code-text")).to_contain_text("sliding window")
    detail.screenshot(path=str(shots / "interview-files-page.png"), full_page=True)
    context.close()

    tablet = browser.new_context(viewport=TABLET)
    page = tablet.new_page()
    log_in(page, portal, "/history")
    expect(page.locator("[data-history-rows] tr")).to_have_count(2)
    page.screenshot(path=str(shots / "history-tablet.png"), full_page=True)
    page.goto(f"{portal.url}/interviews/{grace['id']}")
    # Keyboard only: focus the file in the tree and press Enter.
    page.get_by_role("link", name=re.compile(r"^notes\.md")).focus()
    page.keyboard.press("Enter")
    expect(page.locator(".code-text")).to_contain_text("sliding window")
    page.screenshot(path=str(shots / "interview-detail-tablet.png"), full_page=True)
    tablet.close()
