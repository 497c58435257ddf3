"""The interviewer dashboard in real Chromium against a real portal with real workspaces:
create from the dialogs, watch rows change by themselves over SSE, read logs, end and revoke.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, ViewportSize, expect

from tests.support.portal_process import PortalProcess, running_portal

pytestmark = pytest.mark.browser

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 820, "height": 1180}
INJECTION = "Alan <script>window.__injected = 1</script> Turing"
VIEWER_ZONE = "Asia/Tokyo"
PASSCODE = re.compile(r"^[34679ACDEFGHJKMNPQRTUVWXY]{8}$")

# Lets the test hold the page's event stream for a moment: every EventSource message is
# delivered as usual unless window.__events.paused is set, in which case it waits for
# resume(). Provisioning takes about a second here, so the test holds the stream the instant
# a progress step is on screen, takes its screenshot, then lets the rest through. It also
# records every status a row showed, so the test can check the steps were really rendered.
HOLD_EVENTS = """
(() => {
  const Native = window.EventSource;
  const held = [];
  window.__events = {
    paused: false,
    holdOnProgress() {
      new MutationObserver((_, observer) => {
        if (!document.querySelector("tr .row-progress")) return;
        this.paused = true;
        observer.disconnect();
      }).observe(document, { subtree: true, childList: true });
    },
    resume() { this.paused = false; for (const deliver of held.splice(0)) deliver(); },
  };
  window.__seenStatuses = new Set();
  new MutationObserver(() => {
    for (const row of document.querySelectorAll("tr[data-status]")) {
      window.__seenStatuses.add(row.dataset.status);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true });
  window.EventSource = class extends Native {
    addEventListener(type, listener, options) {
      super.addEventListener(type, (event) => {
        const message = type !== "open" && type !== "error";
        if (window.__events.paused && message) held.push(() => listener.call(this, event));
        else listener.call(this, event);
      }, options);
    }
  };
})();
"""


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalProcess]:
    # An interview minute lasts 6 s: a 60-minute interview stays active for 6 minutes.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="6") as running:
        yield running


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # A viewer far from the server's UTC: times must show in the viewer's zone.
    ctx = browser.new_context(viewport=LAPTOP, timezone_id=VIEWER_ZONE, locale="en-US")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    ctx.add_init_script(HOLD_EVENTS)
    errors: list[str] = []
    ctx.on("weberror", lambda error: errors.append(str(error.error)))
    yield ctx
    ctx.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def shots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def log_in(context: BrowserContext, portal: PortalProcess) -> Page:
    page = context.new_page()
    page.goto(portal.url + "/login")
    page.get_by_label("Email").fill(portal.email)
    page.get_by_label("Password").fill(portal.password)
    page.get_by_role("button", name="Log in").click()
    # The dashboard is home: signing in lands on it.
    expect(page).to_have_url(re.compile(r"/interviews$"))
    expect(page.locator("[data-live-status]")).to_have_text("Live")
    page.set_default_timeout(20_000)
    return page


def row_of(page: Page, name: str) -> Locator:
    return page.locator("tbody tr").filter(has=page.locator(".cell-main", has_text=name))


def confirm(page: Page, label: str) -> None:
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=label).click()
    expect(dialog).to_be_hidden()


def test_live_interview_from_creation_to_end(
    portal: PortalProcess, context: BrowserContext, shots: Path
) -> None:
    page = log_in(context, portal)
    empty = page.locator("[data-empty]")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("No live interviews right now")
    page.screenshot(path=str(shots / "dashboard-empty.png"))

    # The dialog opens with focus on its first field; a bad submit shows inline errors.
    empty.get_by_role("button", name="Create a live interview").click()
    dialog = page.locator("#create-live-dialog")
    expect(dialog.get_by_label("Candidate name")).to_be_focused()
    dialog.get_by_role("button", name="Create interview").click()
    expect(dialog.locator(".field-error")).to_have_count(2)
    expect(dialog.locator("#create-live-form-candidate_name-error")).to_have_text(
        "Enter the candidate's name."
    )
    expect(dialog.get_by_label("Candidate name")).to_have_attribute("aria-invalid", "true")

    # The challenge list filters as you type and keeps difficulty and language in view.
    dialog.get_by_placeholder("Search by title").fill("python")
    expect(dialog.locator(".challenge-option:visible")).to_have_count(1)
    expect(dialog.locator(".challenge-option:visible")).to_contain_text("medium")
    dialog.get_by_placeholder("Search by title").press("Enter")
    expect(dialog.get_by_label("Sliding-Window Rate Limiter")).to_be_checked()
    dialog.get_by_label("Candidate name").fill(INJECTION)
    dialog.get_by_label("Duration").select_option("60")
    # Fixing a field takes its error away.
    expect(dialog.locator(".field-error")).to_have_count(0)
    page.screenshot(path=str(shots / "dashboard-create-live.png"))

    page.evaluate("window.__events.holdOnProgress()")
    dialog.get_by_role("button", name="Create interview").click()
    result = dialog.locator("[data-create-result]")
    expect(result).to_contain_text(f"Live interview with {INJECTION} created.")
    password = result.locator("#created-password").inner_text()
    assert re.fullmatch(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", password), password
    expect(result.locator("#created-join-url")).to_contain_text("/join/")
    result.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()

    # While provisioning, the row names its current step.
    row = row_of(page, INJECTION)
    expect(row.locator(".row-progress")).to_contain_text(re.compile(r"Step [12] of 2: "))
    page.screenshot(path=str(shots / "dashboard-provisioning.png"))
    page.evaluate("window.__events.resume()")

    # ...and becomes Active by itself, with the join link and the password to copy.
    expect(row).to_have_attribute("data-status", "active", timeout=30_000)
    expect(row.locator(".status")).to_have_text(re.compile("Active"))
    expect(row.locator(f"#password-{row.get_attribute('data-id')}")).to_have_text(password)
    expect(row.get_by_role("button", name="Copy the workspace password")).to_be_visible()
    expect(row.get_by_role("link", name="Open workspace")).to_have_attribute(
        "href", f"/w/{row.get_attribute('data-id')}/"
    )
    countdown = row.locator(".countdown")
    expect(countdown).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(countdown).not_to_have_text(countdown.inner_text(), timeout=3_000)  # it ticks
    seen = page.evaluate("[...window.__seenStatuses]")
    assert {"initializing", "configuring"} & set(seen), seen
    assert page.evaluate("window.__injected") is None, "the candidate name ran as a script"
    expect(row.locator(".cell-main")).to_have_text(INJECTION)
    row.get_by_role("button", name="Copy the workspace password").click()
    assert page.evaluate("navigator.clipboard.readText()") == password
    page.screenshot(path=str(shots / "dashboard-active.png"))

    # Someone else creates interviews (here through the API): the live one appears here
    # without a reload; the take-home never does (it belongs on its own tab).
    with portal.client() as api:
        created = api.post(
            "/api/interviews",
            json={
                "kind": "take_home",
                "candidate_name": "Take Home Only",
                "challenge": "rate-limiter",
                "valid_days": 3,
                "duration_minutes": 60,
            },
        )
        assert created.status_code == 201, created.text
        created = api.post(
            "/api/interviews",
            json={
                "kind": "live",
                "candidate_name": "Grace Hopper",
                "challenge": "sql-top-customers",
                "duration_minutes": 30,
            },
        )
        assert created.status_code == 201, created.text
        grace_id = created.json()["id"]
    grace = row_of(page, "Grace Hopper")
    expect(grace).to_be_visible()
    expect(row_of(page, "Take Home Only")).to_have_count(0)
    expect(page.locator("tbody tr").first).to_contain_text("Grace Hopper")
    expect(grace).to_have_attribute("data-status", "active", timeout=30_000)

    page.set_viewport_size(TABLET)
    page.screenshot(path=str(shots / "dashboard-tablet.png"), full_page=True)
    page.set_viewport_size(LAPTOP)

    # Logs: the create operation's lines, in a modal that Escape closes.
    row.get_by_role("button", name="Logs").click()
    logs = page.locator("#logs-dialog")
    expect(logs).to_be_visible()
    expect(logs.locator(".log-op-name").first).to_have_text("Create the workspace")
    expect(logs.locator(".log-message").filter(has_text="workspace ready")).to_have_count(1)
    expect(logs.locator("[data-logs-subtitle]")).to_contain_text(INJECTION)
    page.screenshot(path=str(shots / "dashboard-logs.png"))
    page.keyboard.press("Escape")
    expect(logs).to_be_hidden()

    # An open log follows the interview live: ending Grace's interview elsewhere streams the
    # destroy operation's lines into it, and her row leaves by itself.
    grace.get_by_role("button", name="Logs").click()
    expect(logs.locator(".log-op-name")).to_have_count(1)
    with portal.client() as api:
        assert api.post(f"/api/interviews/{grace_id}/destroy").status_code == 200
    destroy = logs.locator(".log-op-section").filter(
        has=page.locator(".log-op-name", has_text="Save the work")
    )
    expect(destroy.locator(".log-line").first).to_be_visible()
    expect(destroy.locator(".log-op-status")).to_have_text("completed", timeout=30_000)
    page.keyboard.press("Escape")
    expect(grace).to_have_count(0, timeout=30_000)

    # End now asks first; the row then leaves the tab by itself.
    row.get_by_role("button", name="End now").click()
    page.screenshot(path=str(shots / "dashboard-confirm-end.png"))
    confirm(page, "End now")
    expect(row).to_have_count(0, timeout=30_000)
    expect(page.locator("#toasts")).to_contain_text("It is now in History")
    expect(page.locator("[data-empty]")).to_be_visible()


def test_take_home_create_copy_and_revoke(
    portal: PortalProcess, context: BrowserContext, shots: Path
) -> None:
    with portal.client() as api:
        waiting = api.post(
            "/api/interviews",
            json={
                "kind": "take_home",
                "candidate_name": "Still Invited",
                "challenge": "event-scheduler",
                "valid_days": 2,
                "duration_minutes": 60,
            },
        )
        assert waiting.status_code == 201, waiting.text
    page = log_in(context, portal)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Take-home tests").click()
    expect(page).to_have_url(re.compile(r"/take-homes$"))

    page.get_by_role("button", name="New take-home").click()
    dialog = page.locator("#create-take-home-dialog")
    dialog.get_by_label("Candidate name").fill("Ada <b>Lovelace</b>")
    dialog.get_by_label("Email").fill("ada@example.com")
    dialog.get_by_label("Top Customers of 2024").check()
    dialog.get_by_role("textbox", name="Custom instructions").fill(
        "# Before you start\n\nUse **plain SQL**. <script>window.__injected = 2</script>"
    )
    dialog.get_by_label("Valid for").fill("31")
    dialog.get_by_role("button", name="Create take-home").click()
    # The API's answer, next to the field it is about.
    expect(dialog.locator("#create-take-home-form-valid_days-error")).to_contain_text(
        "valid 1 to 30 days"
    )
    dialog.get_by_label("Valid for").fill("5")
    dialog.get_by_label("Duration").select_option("90")

    # Preview renders the Markdown; raw HTML stays text.
    dialog.get_by_role("button", name="Preview").click()
    preview = dialog.locator("[data-md-preview]")
    expect(preview.get_by_role("heading", name="Before you start")).to_be_visible()
    expect(preview.locator("strong")).to_have_text("plain SQL")
    expect(preview).to_contain_text("<script>window.__injected = 2</script>")
    expect(preview.locator("script")).to_have_count(0)
    page.screenshot(path=str(shots / "dashboard-create-take-home.png"))

    dialog.get_by_role("button", name="Create take-home").click()
    result = dialog.locator("[data-create-result]")
    expect(result).to_contain_text("Take-home for Ada <b>Lovelace</b> created.")
    passcode = result.locator("[data-passcode]").inner_text()
    assert PASSCODE.match(passcode), passcode
    url = result.locator("#created-candidate-url").inner_text()
    assert url == f"{portal.url}/take-home/{passcode}"
    expect(result.locator("time")).to_have_text(re.compile(r"\d{4}"))
    result.get_by_role("button", name="Copy the candidate link").click()
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.screenshot(path=str(shots / "dashboard-take-home-result.png"))
    result.get_by_role("button", name="Done").click()

    row = row_of(page, "Ada <b>Lovelace</b>")
    expect(row).to_have_attribute("data-status", "invited")
    expect(row.locator(".status")).to_have_text(re.compile("Invited"))
    expect(row.locator("code")).to_have_text(url)
    expect(row).to_contain_text("Not started")
    expect(row).to_contain_text("ada@example.com")
    assert page.evaluate("window.__injected") is None
    page.screenshot(path=str(shots / "take-homes-tab.png"))

    # The candidate starts it (their own API call, no login): the row shows the
    # provisioning, then the time left, by itself.
    with httpx.Client(base_url=portal.url, timeout=30) as candidate:
        # Any portal page gives the candidate's browser its session cookie and CSRF token.
        token = re.search(r'name="csrf-token" content="([^"]+)"', candidate.get("/login").text)
        assert token, "no CSRF token on the page"
        started = candidate.post(
            f"/api/interviews/{row.get_attribute('data-id')}/activate",
            json={"passcode": passcode},
            headers={"X-CSRF-Token": token.group(1)},
        )
        assert started.status_code == 200, started.text
    expect(row).to_have_attribute("data-status", "active", timeout=30_000)
    expect(row.locator(".countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    page.screenshot(path=str(shots / "take-homes-tab-started.png"))
    page.set_viewport_size(TABLET)
    page.screenshot(path=str(shots / "take-homes-tab-tablet.png"), full_page=True)
    page.set_viewport_size(LAPTOP)

    # Revoking an unstarted invitation closes it at once...
    invited = row_of(page, "Still Invited")
    invited.get_by_role("button", name="Revoke").click()
    expect(page.locator("#confirm-dialog")).to_contain_text("The link stops working at once.")
    confirm(page, "Revoke")
    expect(invited).to_have_count(0)

    # ...a started one saves the work first, then leaves the tab.
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#confirm-dialog")).to_contain_text("saved to History")
    confirm(page, "Revoke")
    expect(row).to_have_count(0, timeout=30_000)
    expect(page.locator("#toasts")).to_contain_text("Ada <b>Lovelace</b>: revoked")


def test_a_scheduled_interview_is_entered_and_shown_in_the_viewers_time_zone(
    portal: PortalProcess, context: BrowserContext, shots: Path
) -> None:
    page = log_in(context, portal)
    # Keyboard only: Enter opens the dialog, Escape closes it and gives the focus back.
    opener = page.get_by_role("button", name="New live interview")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#create-live-dialog")
    expect(dialog.get_by_label("Candidate name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type("Katherine Johnson")
    page.keyboard.press("Tab")
    expect(dialog.get_by_placeholder("Search by title")).to_be_focused()
    page.keyboard.type("event")
    page.keyboard.press("Enter")
    expect(dialog.get_by_label("Event Scheduler")).to_be_checked()
    expect(dialog.get_by_label("Event Scheduler")).to_be_focused()
    dialog.get_by_label("At a set time").check()
    expect(dialog.locator("[data-time-zone]")).to_have_text(VIEWER_ZONE)
    # A time in the past is refused next to the field, before anything is sent.
    dialog.get_by_label("Date and time").fill("2020-01-01T09:00")
    dialog.get_by_role("button", name="Create interview").click()
    expect(dialog.locator("#create-live-form-scheduled_at-error")).to_contain_text("has passed")

    tomorrow = (datetime.now(ZoneInfo(VIEWER_ZONE)) + timedelta(days=1)).replace(
        hour=10, minute=30, second=0, microsecond=0
    )
    dialog.get_by_label("Date and time").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    expect(dialog.locator("#create-live-form-scheduled_at-error")).to_have_count(0)
    dialog.get_by_role("button", name="Create interview").click()
    result = dialog.locator("[data-create-result]")
    expect(result).to_contain_text("Scheduled for")
    expect(result.locator("time")).to_contain_text("10:30 AM")
    result.get_by_role("button", name="Done").click()

    row = row_of(page, "Katherine Johnson")
    expect(row).to_have_attribute("data-status", "scheduled")
    expect(row.locator(".status")).to_have_text(re.compile("Scheduled"))
    expect(row.locator("time").first).to_contain_text("10:30 AM")
    expect(row).to_contain_text("Not started")
    # Stored in UTC: 10:30 in Tokyo is 01:30 UTC.
    with portal.client() as api:
        stored = api.get(f"/api/interviews/{row.get_attribute('data-id')}").json()
    assert datetime.fromisoformat(stored["scheduled_at"]) == tomorrow
    assert stored["scheduled_at"].endswith("+00:00"), stored["scheduled_at"]
    page.screenshot(path=str(shots / "dashboard-scheduled.png"))

    # Ending it before it starts cancels it; it leaves the tab at once.
    row.get_by_role("button", name="End now").click()
    expect(page.locator("#confirm-dialog")).to_contain_text("cancelled before it starts")
    confirm(page, "End now")
    expect(row).to_have_count(0)
