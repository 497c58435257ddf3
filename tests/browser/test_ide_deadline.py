"""The end of a session in the IDE: the countdown's warnings, and the deadline that locks the
page while the saved archive keeps the last keystrokes. Real portal, real workspace, real
Chromium."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.support.ide import (
    EDITABLE,
    create_live,
    editor_text,
    join,
    log_in,
    new_context,
    wait_status,
)
from tests.support.portal_process import PortalProcess, running_portal

pytestmark = pytest.mark.browser

SUBMIT = re.compile(r"done — submit")

MAIN = "rate_limiter.py"


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalProcess]:
    # An interview minute lasts 0.6 s: the shortest live interview (30 minutes) lasts 18 s.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="0.6") as running:
        yield running


@pytest.fixture
def api(portal: PortalProcess) -> Iterator[httpx.Client]:
    with portal.client() as client:
        yield client


@pytest.fixture
def shots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def test_the_deadline_locks_the_page_and_the_archive_has_the_last_edits(
    portal: PortalProcess, api: httpx.Client, browser: Browser, shots: Path
) -> None:
    interview = create_live(api, "Margaret Hamilton", minutes=30)
    wait_status(api, interview["id"], "active")
    context = new_context(browser, "198.51.100.41")
    page = context.new_page()
    page.set_default_timeout(30_000)
    join(page, portal, interview, "Margaret")
    page.locator("#ide .ide-editor .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# the very last words\n")
    assert "# the very last words" in editor_text(page)

    end = page.locator("[data-testid=end-screen]")
    expect(end).to_be_visible(timeout=40_000)
    expect(end).to_contain_text("Time is up")
    expect(end).to_contain_text("Your work was saved")
    expect(page.locator(EDITABLE)).to_have_count(0)
    page.screenshot(path=str(shots / "ide-time-up.png"))
    # Closing the screen shows the code, read-only; typing changes nothing.
    page.get_by_role("button", name="Look at the code (read-only)").click()
    before = editor_text(page)
    page.locator("#ide .ide-editor .cm-content").click()
    page.keyboard.type("too late")
    assert editor_text(page) == before

    wait_status(api, interview["id"], "destroyed", timeout=60)
    archive = api.get(f"/api/interviews/{interview['id']}/archive")
    assert archive.status_code == 200, archive.text
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(MAIN))
        saved = tar.extractfile(member)
        assert saved is not None
        assert "# the very last words" in saved.read().decode()
    context.close()


def _shift_server_clock(page: Page, seconds_before_deadline: int) -> None:
    """Serve the IDE page as if the server's clock read `seconds_before_deadline` before the
    deadline, so the countdown starts there (the browser corrects its clock by the server's)."""

    def handle(route: Route) -> None:
        response = route.fetch()
        html = response.text()
        found = re.search(r'"deadline": "([^"]+)"', html)
        assert found, "no deadline in the page"
        deadline = found.group(1)
        server_now = datetime.fromisoformat(deadline) - timedelta(seconds=seconds_before_deadline)
        html = re.sub(r'"serverNow": "[^"]+"', f'"serverNow": "{server_now.isoformat()}"', html)
        route.fulfill(response=response, body=html)

    page.route(re.compile(r"/w/[^/]+/$"), handle)


def test_the_countdown_warns_at_ten_and_five_minutes_then_locks(
    portal: PortalProcess, api: httpx.Client, browser: Browser, shots: Path
) -> None:
    interview = create_live(api, "Barbara Liskov", minutes=240)
    wait_status(api, interview["id"], "active")
    context = new_context(browser, "198.51.100.42")
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, portal)
    page.clock.install()
    _shift_server_clock(page, 11 * 60)
    page.goto(f"{portal.url}/w/{interview['id']}/")
    clock = page.locator("[data-testid=countdown]")
    expect(clock).to_have_text("11:00")
    # Time flows again, and jumps ahead when told to.
    page.clock.resume()
    expect(clock).to_have_attribute("data-level", "normal")

    page.clock.fast_forward(61_000)
    expect(page.locator(".ide-toast.is-warning")).to_contain_text("10 minutes left")
    expect(clock).to_have_attribute("data-level", "warning")
    page.screenshot(path=str(shots / "ide-ten-minutes.png"))
    page.clock.fast_forward(5 * 60_000)
    expect(page.locator(".ide-toast.is-warning", has_text="5 minutes left")).to_be_visible()
    expect(clock).to_have_attribute("data-level", "critical")
    page.clock.fast_forward(5 * 60_000)
    expect(page.locator("[data-testid=end-screen]")).to_contain_text("Time is up")
    expect(clock).to_have_text("Time is up")
    context.close()
    api.post(f"/api/interviews/{interview['id']}/destroy")


def test_a_take_home_candidate_submits_from_the_ide(
    portal: PortalProcess, api: httpx.Client, browser: Browser, shots: Path
) -> None:
    created = api.post(
        "/api/interviews",
        json={
            "kind": "take_home",
            "candidate_name": "Radia Perlman",
            "challenge": "rate-limiter",
            "valid_days": 3,
            "duration_minutes": 120,
        },
    )
    assert created.status_code == 201, created.text
    invitation = created.json()
    context = new_context(browser, "198.51.100.43")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(invitation["candidate_url"])
    page.get_by_role("button", name="Start the test").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Start now").click()
    page.get_by_role("link", name="Open your workspace").wait_for()
    page.goto(f"{portal.url}/w/{invitation['id']}/")
    expect(page.locator(EDITABLE)).to_be_visible()
    page.locator("#ide .ide-editor .cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# submitted with this line\n")

    page.get_by_role("button", name=SUBMIT).click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("Submit your work now?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("[data-testid=end-screen]")).to_have_count(0)
    page.get_by_role("button", name=SUBMIT).click()
    page.locator("dialog[open]").get_by_role("button", name="Submit and end the test").click()
    expect(page.locator("[data-testid=end-screen]")).to_contain_text("Your work was submitted")
    expect(page.locator(EDITABLE)).to_have_count(0)
    page.screenshot(path=str(shots / "ide-submitted.png"))

    wait_status(api, invitation["id"], "destroyed", timeout=60)
    view = api.get(f"/api/interviews/{invitation['id']}").json()
    assert view["end_reason"] == "submitted"
    archive = api.get(f"/api/interviews/{invitation['id']}/archive")
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(MAIN))
        saved = tar.extractfile(member)
        assert saved is not None
        assert "# submitted with this line" in saved.read().decode()
    context.close()
