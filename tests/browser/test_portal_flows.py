"""Issue 5's end-to-end flows, interviewer and candidate in two browser contexts at once,
against a real portal with real workspaces. Nothing is reloaded: every change arrives over
the pages' SSE streams."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from tests.support.portal_process import PortalProcess, running_portal

pytestmark = pytest.mark.browser

LAPTOP: ViewportSize = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalProcess]:
    # An interview minute lasts 3 s: workspaces stay up for the whole flow.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="3") as running:
        yield running


def new_context(browser: Browser, ip: str) -> BrowserContext:
    # Each person gets their own address, so per-IP limits of other tests do not interfere.
    context = browser.new_context(
        viewport=LAPTOP, extra_http_headers={"X-Forwarded-For": ip}, accept_downloads=True
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    return context


@pytest.fixture
def interviewer(browser: Browser, portal: PortalProcess) -> Iterator[Page]:
    context = new_context(browser, "198.51.100.10")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(portal.url + "/login")
    page.get_by_label("Email").fill(portal.email)
    page.get_by_label("Password").fill(portal.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/interviews$"))
    expect(page.locator("[data-live-status]")).to_have_text("Live")
    yield page
    context.close()


@pytest.fixture
def candidate(browser: Browser) -> Iterator[Page]:
    context = new_context(browser, "198.51.100.20")
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def shots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def confirm(page: Page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()
    expect(dialog).to_be_hidden()


def row_of(page: Page, name: str) -> Locator:
    return page.locator("tbody tr").filter(has=page.locator(".cell-main", has_text=name))


def test_take_home_invitation_start_and_revoke_across_two_browsers(
    portal: PortalProcess, interviewer: Page, candidate: Page, shots: Path
) -> None:
    page = interviewer
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Take-home tests").click()
    page.get_by_role("button", name="New take-home").click()
    dialog = page.locator("#create-take-home-dialog")
    dialog.get_by_label("Candidate name").fill("Katherine Johnson")
    dialog.get_by_label("Sliding-Window Rate Limiter").check()
    dialog.get_by_role("textbox", name="Custom instructions").fill("Explain your *trade-offs*.")
    dialog.get_by_role("button", name="Create take-home").click()
    result = dialog.locator("[data-create-result]")
    url = result.locator("#created-candidate-url").inner_text()
    result.get_by_role("button", name="Copy the candidate link").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == url and "/take-home/" in url
    result.get_by_role("button", name="Done").click()
    row = row_of(page, "Katherine Johnson")
    expect(row).to_have_attribute("data-status", "invited")

    # The candidate opens the copied link in their own browser and reads the instructions.
    candidate.goto(copied)
    expect(
        candidate.get_by_role("heading", name="Instructions from your interviewer")
    ).to_be_visible()
    expect(candidate.locator("em", has_text="trade-offs")).to_be_visible()
    candidate.get_by_role("button", name="Start the test").click()
    candidate.locator("dialog[open]").get_by_role("button", name="Start now").click()
    expect(candidate.get_by_role("heading", name="Your workspace is ready")).to_be_visible()
    expect(candidate.get_by_role("button", name="Copy the workspace password")).to_be_visible()
    expect(candidate.locator(".countdown").first).to_have_text(re.compile(r"\d+:\d\d"))
    candidate.screenshot(path=str(shots / "flow-take-home-candidate-ready.png"))

    # Meanwhile the interviewer's tab followed by itself.
    expect(row).to_have_attribute("data-status", "active")
    expect(row.locator(".countdown")).to_have_text(re.compile(r"\d+:\d\d"))
    page.screenshot(path=str(shots / "flow-take-home-interviewer-active.png"))

    # The interviewer revokes; the candidate's page says the test is over, by itself.
    row.get_by_role("button", name="Revoke").click()
    confirm(page, "Revoke")
    # The row goes once the work is saved: the tests run against the final files first.
    expect(row).to_have_count(0, timeout=30_000)
    expect(
        candidate.get_by_role("heading", name="Your interviewer closed this test")
    ).to_be_visible()
    candidate.screenshot(path=str(shots / "flow-take-home-candidate-revoked.png"))


def test_live_interview_join_end_and_download_from_history(
    portal: PortalProcess, interviewer: Page, candidate: Page, shots: Path
) -> None:
    page = interviewer
    page.get_by_role("button", name="New live interview").click()
    dialog = page.locator("#create-live-dialog")
    dialog.get_by_label("Candidate name").fill("Edsger Dijkstra")
    dialog.get_by_label("Sliding-Window Rate Limiter").check()
    dialog.get_by_role("button", name="Create interview").click()
    result = dialog.locator("[data-create-result]")
    join_url = result.locator("#created-join-url").inner_text()
    password = result.locator("#created-password").inner_text()
    result.get_by_role("button", name="Done").click()
    row = row_of(page, "Edsger Dijkstra")
    expect(row).to_have_attribute("data-status", "active")

    candidate.goto(join_url)
    candidate.get_by_label("Your name").fill("Edsger")
    candidate.get_by_label("Workspace password").fill(password)
    candidate.get_by_role("button", name="Join the interview").click()
    editor = candidate.locator('#ide .ide-editor .cm-content[contenteditable="true"]')
    expect(editor).to_be_visible()

    row.get_by_role("button", name="End now").click()
    confirm(page, "End now")
    expect(row).to_have_count(0, timeout=30_000)  # after grading and saving the work
    expect(candidate.locator("[data-testid=end-screen]")).to_contain_text("The session has ended")

    # History lists it once its work is saved, and the archive downloads.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    ended = page.locator("tbody tr").filter(has_text="Edsger Dijkstra")
    expect(ended).to_contain_text("Ended by interviewer")
    page.screenshot(path=str(shots / "flow-live-history.png"))
    with page.expect_download() as download_info:
        ended.get_by_role("link", name=re.compile("Download")).click()
    saved = Path(download_info.value.path())
    with tarfile.open(fileobj=io.BytesIO(saved.read_bytes()), mode="r:gz") as archive:
        names = archive.getnames()
    assert any(name.endswith("rate_limiter.py") for name in names), names


def test_a_candidate_submits_early_and_the_interviewer_sees_it_end(
    portal: PortalProcess, interviewer: Page, candidate: Page, shots: Path
) -> None:
    with portal.client() as staff:
        created = staff.post(
            "/api/interviews",
            json={
                "kind": "take_home",
                "candidate_name": "Margaret Hamilton",
                "challenge": "rate-limiter",
                "valid_days": 3,
                "duration_minutes": 60,
            },
        )
        assert created.status_code == 201, created.text
        invitation = created.json()
    page = interviewer
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Take-home tests").click()
    row = row_of(page, "Margaret Hamilton")
    expect(row).to_have_attribute("data-status", "invited")

    candidate.goto(invitation["candidate_url"])
    candidate.get_by_role("button", name="Start the test").click()
    candidate.locator("#confirm-dialog").get_by_role("button", name="Start now").click()
    expect(candidate.get_by_role("heading", name="Your workspace is ready")).to_be_visible()
    candidate.get_by_role("button", name=re.compile(r"done — submit")).click()
    confirm(candidate, "Submit and end the test")
    expect(candidate.locator(".state-message:visible")).to_have_text(
        "You submitted your work. It has been saved."
    )
    candidate.screenshot(path=str(shots / "flow-take-home-submitted.png"))

    # The row leaves the tab once the work is saved; History says how it ended.
    expect(row).to_have_count(0)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="History").click()
    expect(page.locator("tbody tr").filter(has_text="Margaret Hamilton")).to_contain_text(
        "Submitted"
    )
