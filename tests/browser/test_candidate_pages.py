"""The candidate's side in real Chromium against a real portal with real local workspaces:
the take-home link through every state, the live join page and the workspace page.

Interview minutes last 6 s here, so a 60-minute take-home stays open for six minutes. The
portal has room for one workspace at a time (WORKSPACES__UID_COUNT=1) and gives a create
one try (WORKER__MAX_ATTEMPTS=1): a second take-home started while the first runs fails for
real, which is how the "failed" state is reached. Each browser context claims its own
client address through X-Forwarded-For (uvicorn trusts it from 127.0.0.1), so the per-IP
Start budget of one scenario does not spend another's. Screenshots go to
test-artifacts/screenshots/candidate-*.png.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.portal_process import PortalProcess, running_portal

pytestmark = pytest.mark.browser

SUBMIT = re.compile(r"done — submit")

IDE_EDITABLE = '#ide .ide-editor .cm-content[contenteditable="true"]'

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 820, "height": 1180}
PHONE: ViewportSize = {"width": 390, "height": 844}
CHALLENGE = "rate-limiter"
PROVISIONING_MS = 60_000


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalProcess]:
    # running_portal gives the portal uids of its own; this one may use only the first.
    with running_portal(
        PREQUEL_WORKER__MINUTE_SECONDS="6",
        PREQUEL_WORKER__MAX_ATTEMPTS="1",
        PREQUEL_WORKSPACES__UID_COUNT="1",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def staff(portal: PortalProcess) -> Iterator[httpx.Client]:
    with portal.client() as client:
        yield client


@pytest.fixture
def shots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def candidate_context(browser: Browser, ip: str, viewport: ViewportSize = LAPTOP) -> BrowserContext:
    return browser.new_context(
        viewport=viewport,
        extra_http_headers={"X-Forwarded-For": ip},
        timezone_id="Europe/Paris",
    )


def create_take_home(staff: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "take_home",
        "candidate_name": "Ada Lovelace",
        "candidate_email": "ada@example.com",
        "challenge": CHALLENGE,
        "custom_instructions": (
            "Implement `allow()` in **rate_limiter.py**.\n\n"
            "- Keep it under 50 lines\n- Run the visible tests before you finish"
        ),
        "valid_days": 7,
        "duration_minutes": 60,
        **extra,
    }
    response = staff.post("/api/interviews", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def shoot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"candidate-{name}.png"), full_page=True)


def shown(page: Page) -> Any:
    """The sections the page shows now (the others are hidden, with stale messages)."""
    return page.locator("section:not([hidden])")


def start_test(page: Page) -> None:
    page.get_by_role("button", name="Start the test").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("You can start only once")
    dialog.get_by_role("button", name="Start now").click()


# The take-home test, from the instructions to completed ----------------------------------------


def test_a_take_home_from_start_to_completed(
    portal: PortalProcess, staff: httpx.Client, browser: Browser, shots: Path
) -> None:
    invitation = create_take_home(staff, candidate_name="Ada <script>alert(1)</script>")
    url = invitation["candidate_url"]
    context = candidate_context(browser, "203.0.113.10")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    page.goto(url)

    # The instructions: the platform's, the interviewer's (as Markdown), the duration.
    expect(page.get_by_role("heading", name="Sliding-Window Rate Limiter")).to_be_visible()
    expect(page.get_by_text("For Ada <script>alert(1)</script>")).to_be_visible()
    expect(page.get_by_role("heading", name="How it works")).to_be_visible()
    expect(page.get_by_text("The workspace is destroyed when the time is up.")).to_be_visible()
    expect(page.locator(".markdown strong")).to_have_text("rate_limiter.py")
    expect(shown(page).get_by_text("You will have 1 hour")).to_be_visible()
    expect(page.locator("[data-live-status]")).to_have_text("Live")
    shoot(page, shots, "instructions")
    page.set_viewport_size(TABLET)
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    shoot(page, shots, "tablet-instructions")
    page.set_viewport_size(LAPTOP)

    phone = candidate_context(browser, "203.0.113.11", PHONE)
    phone_page = phone.new_page()
    phone_page.goto(url)
    expect(phone_page.get_by_role("button", name="Start the test")).to_be_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(phone_page, shots, "phone-instructions")

    # Start: a confirmation, then the progress step by step, then the workspace details,
    # all without a reload (the marker would be gone after one).
    page.evaluate("window.__noReload = true")
    start_test(page)
    expect(page.get_by_role("heading", name="Preparing your workspace")).to_be_visible()
    expect(page.locator("[data-steps] .step-current")).to_have_count(1)
    shoot(page, shots, "starting")
    ready = page.get_by_role("heading", name="Your workspace is ready")
    expect(ready).to_be_visible(timeout=PROVISIONING_MS)
    assert page.evaluate("window.__noReload") is True
    password = page.locator("[data-field=password] code").inner_text()
    assert re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", password), password
    copy = page.get_by_role("button", name="Copy the workspace password")
    expect(copy).to_have_attribute("data-copy", password)
    copy.click()
    expect(page.locator(".toast").first).to_contain_text("Copied")
    countdown = page.locator("[data-field=countdown]")
    expect(countdown).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(page.get_by_role("heading", name="Instructions from your interviewer")).to_be_visible()
    shoot(page, shots, "ready")

    # The phone that had the page open follows too, by itself.
    expect(phone_page.get_by_role("heading", name="Your workspace is ready")).to_be_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(phone_page, shots, "phone")
    phone.close()

    # The link opens the workspace in a new tab: the IDE, with the statement beside the code.
    with context.expect_page() as opened:
        page.get_by_role("link", name="Open your workspace").click()
    workspace = opened.value
    expect(workspace.locator(IDE_EDITABLE)).to_be_visible()
    expect(workspace.locator(".ide-instructions")).not_to_be_empty()
    workspace.locator(".ide-tree-item", has_text="rate_limiter.py").click()
    expect(workspace.locator(".ide-editor .cm-content")).to_contain_text("class")
    expect(workspace.locator("[data-testid=countdown]")).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(workspace.get_by_role("button", name=SUBMIT)).to_be_visible()
    shoot(workspace, shots, "workspace")
    workspace.set_viewport_size(TABLET)
    shoot(workspace, shots, "workspace-tablet")

    # Another device, without the passcode link: the workspace asks for the password.
    device = candidate_context(browser, "203.0.113.13", PHONE)
    elsewhere = device.new_page()
    elsewhere.goto(f"{portal.url}/w/{invitation['id']}/")
    expect(elsewhere.get_by_role("heading", name="Open it in this browser")).to_be_visible()
    shoot(elsewhere, shots, "workspace-password")
    elsewhere.get_by_label("Workspace password", exact=True).fill("aaaa-bbbb-cccc")
    elsewhere.get_by_role("button", name="Open the workspace").click()
    expect(elsewhere.locator(".field-error")).to_contain_text("Wrong workspace password")
    elsewhere.get_by_label("Workspace password", exact=True).fill(password)
    elsewhere.get_by_role("button", name="Open the workspace").click()
    expect(elsewhere.locator(IDE_EDITABLE)).to_be_visible()
    assert elsewhere.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shoot(elsewhere, shots, "phone-workspace")
    device.close()

    # A second take-home started while the only workspace slot is taken fails for real.
    failing = create_take_home(staff, candidate_name="Grace Hopper", custom_instructions=None)
    other = candidate_context(browser, "203.0.113.12")
    other_page = other.new_page()
    other_page.goto(failing["candidate_url"])
    start_test(other_page)
    expect(
        other_page.get_by_role("heading", name="Your workspace could not be started")
    ).to_be_visible(timeout=PROVISIONING_MS)
    expect(shown(other_page).get_by_text("contact your interviewer").first).to_be_visible()
    shoot(other_page, shots, "failed")
    other.close()

    # The interviewer revokes: the candidate's page and workspace both follow by themselves.
    revoked = staff.post(f"/api/interviews/{invitation['id']}/destroy")
    assert revoked.status_code == 200, revoked.text
    expect(shown(page).get_by_text("Your work has been saved.")).to_be_visible(
        timeout=PROVISIONING_MS
    )
    expect(page.get_by_role("heading", name="Your interviewer closed this test")).to_be_visible()
    expect(page.get_by_role("button", name="Start the test")).to_be_hidden()
    assert page.evaluate("window.__noReload") is True
    shoot(page, shots, "completed")
    expect(workspace.locator("[data-testid=end-screen]")).to_contain_text("cancelled")
    assert dialogs == [], "a script ran from the candidate's name"
    context.close()


# Expired, unknown and rate-limited ---------------------------------------------------------


def expire(portal: PortalProcess, interview_id: str) -> None:
    """Move the invitation's window into the past, as if its days had gone by."""
    past = (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None)
    with sqlite3.connect(portal.data_dir / "prequel.db") as db:
        db.execute(
            "UPDATE interviews SET valid_until = ? WHERE id = ?",
            (past.isoformat(sep=" "), interview_id),
        )


def test_expired_unknown_and_too_many_starts(
    portal: PortalProcess, staff: httpx.Client, browser: Browser, shots: Path
) -> None:
    context = candidate_context(browser, "203.0.113.20")
    page = context.new_page()

    old = create_take_home(staff)
    expire(portal, old["id"])
    page.goto(old["candidate_url"])
    expect(page.get_by_role("heading", name="This invitation has expired")).to_be_visible()
    expect(shown(page).get_by_text("Ask your interviewer for a new one.")).to_be_visible()
    expect(page.get_by_role("button", name="Start the test")).to_be_hidden()
    shoot(page, shots, "expired")

    response = page.goto(f"{portal.url}/take-home/KMNPQRTU")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Take-home test not found")).to_be_visible()
    expect(page.get_by_text("check the link you were sent")).to_be_visible()
    shoot(page, shots, "not-found")

    # Three Start attempts from this address (wrong passcodes, through the API with the
    # page's cookie and token), then the fourth, from the button, is refused.
    fresh = create_take_home(staff)
    page.goto(fresh["candidate_url"])
    # By keyboard alone: the dialog takes the focus (on Cancel, the safe choice) and Escape
    # closes it without starting anything.
    start = page.get_by_role("button", name="Start the test")
    start.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#confirm-dialog")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", name="Ready when you are")).to_be_visible()
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    for _ in range(3):
        attempt = page.request.post(
            f"{portal.url}/api/interviews/{fresh['id']}/activate",
            data={"passcode": "KMNPQRTU"},
            headers={"X-CSRF-Token": token or ""},
        )
        assert attempt.status == 404, attempt.text()
    start.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Start now")).to_be_focused()
    page.keyboard.press("Enter")
    alert = page.locator("[data-start-error]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Too many Start attempts from your network address")
    expect(alert).to_contain_text("try again in about")
    expect(alert).to_contain_text(re.compile(r"You can try again at \d{1,2}:\d\d"))
    expect(page.get_by_role("heading", name="Ready when you are")).to_be_visible()
    shoot(page, shots, "rate-limited")
    context.close()


# A live interview: join with the password, reach the workspace -----------------------------


def test_a_live_candidate_joins_and_reaches_the_workspace(
    portal: PortalProcess, staff: httpx.Client, browser: Browser, shots: Path
) -> None:
    created = staff.post(
        "/api/interviews",
        json={
            "kind": "live",
            "candidate_name": "Alan Turing",
            "challenge": CHALLENGE,
            "duration_minutes": 30,
        },
    )
    assert created.status_code == 201, created.text
    interview = created.json()
    context = candidate_context(browser, "203.0.113.30")
    page = context.new_page()
    page.goto(interview["join_url"])
    expect(page.get_by_role("heading", name="Join your interview")).to_be_visible()
    shoot(page, shots, "join")

    page.get_by_label("Your name").fill("Alan")
    page.get_by_label("Workspace password").fill("aaaa-bbbb-cccc")
    page.get_by_role("button", name="Join the interview").click()
    error = page.locator(".field-error")
    expect(error).to_contain_text("Wrong workspace password")
    expect(page.get_by_label("Workspace password")).to_have_attribute("aria-invalid", "true")
    shoot(page, shots, "join-wrong-password")

    page.get_by_label("Workspace password").fill(interview["password"])
    page.get_by_label("Workspace password").press("Enter")
    page.wait_for_url(re.compile(rf"/w/{interview['id']}/$"))
    # Still starting, or already ready: either way the files appear without a reload.
    expect(page.locator(IDE_EDITABLE)).to_be_visible(timeout=PROVISIONING_MS)
    expect(page.locator(".ide-people-holder")).to_contain_text("Alan (you)")
    expect(page.locator(".ide-tree-item", has_text="rate_limiter.py")).to_be_visible()
    shoot(page, shots, "live-workspace")

    ended = staff.post(f"/api/interviews/{interview['id']}/destroy")
    assert ended.status_code == 200, ended.text
    expect(page.locator("[data-testid=end-screen]")).to_contain_text(
        "The session has ended", timeout=PROVISIONING_MS
    )
    context.close()
