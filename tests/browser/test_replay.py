"""The replay and report pages in real Chromium, on a session recorded through a real
workspace: scrubbing shows each moment as it was, markers jump, play moves time on, and an
interviewer fills in a scorecard on the report."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.jobs.test_crash_recovery import start_take_home
from tests.jobs.test_take_home_flow import wait_status
from tests.recording.test_scripted_session import MAIN, NOTES, Workspace, script
from tests.support.ide import log_in, new_context
from tests.support.portal_process import PortalProcess, running_portal


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[PortalProcess, str, list[dict[str, Any]]]]:
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="2") as portal, portal.client() as api:
        interview_id = start_take_home(api, portal, minutes=60)
        wait_status(api, interview_id, "active", timeout=60)
        found: list[list[dict[str, Any]]] = []
        # Playwright's sync API runs an event loop in this thread; the script needs its own.
        worker = threading.Thread(
            target=lambda: found.append(asyncio.run(script(Workspace(portal, interview_id))))
        )
        worker.start()
        worker.join(timeout=120)
        assert found, "the scripted session did not finish"
        assert api.post(f"/api/interviews/{interview_id}/destroy").status_code == 200
        wait_status(api, interview_id, "destroyed", timeout=180)
        yield portal, interview_id, found[0]


def scrub_to(page: Page, start_ts: float, ts: float) -> None:
    """Drag the scrubber: set its value and fire `input`, as a pointer drag does."""
    before = page.locator("[data-replay]").get_attribute("data-seeks")
    page.evaluate(
        """(ms) => {
            const range = document.querySelector("[data-scrubber]");
            range.value = String(ms);
            range.dispatchEvent(new Event("input", {bubbles: true}));
        }""",
        round((ts - start_ts) * 1000),
    )
    page.wait_for_function(
        "(before) => { const r = document.querySelector('[data-replay]');"
        " return !r.classList.contains('replay-loading') && r.dataset.seeks !== before; }",
        arg=before,
        timeout=10_000,
    )


def code_text(page: Page) -> str:
    text: str = page.evaluate("() => window.prequelReplay.codeText()")
    return text


def test_scrubbing_the_replay(
    browser: Browser, recorded: tuple[PortalProcess, str, list[dict[str, Any]]], artifacts: Path
) -> None:
    portal, interview_id, moments = recorded
    context = new_context(browser, "10.9.0.1")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, portal)
    page.goto(f"{portal.url}/interviews/{interview_id}/replay")
    expect(page.locator("[data-replay][data-ready=true]")).to_be_attached(timeout=15_000)
    start_ts = page.evaluate("() => window.prequelReplay.timeline().start_ts")
    by_name = {moment["name"]: moment for moment in moments}
    scrub_to(page, start_ts, by_name["start"]["ts"])
    page.locator("[data-files] button", has_text=MAIN).click()
    for name in ("start", "typed", "terminal", "chatted", "end"):
        moment = by_name[name]
        scrub_to(page, start_ts, moment["ts"])
        expected = moment["files"][MAIN]
        assert code_text(page) == expected, name
        terminal = page.locator("[data-terminal]").inner_text()
        assert ("replay-42" in terminal) == (name not in ("start", "typed")), name
        assert page.locator("[data-chat] li").count() == len(moment["chat"]), name
        if name == "typed":
            expect(page.locator("[data-code] .cm-replay-changed-line")).to_have_count(1)
            expect(page.locator("[data-code] .cm-content")).to_have_attribute(
                "contenteditable", "false"
            )
            page.screenshot(path=str(artifacts / "screenshots" / "replay-typed.png"))
        if name == "chatted":
            page.screenshot(path=str(artifacts / "screenshots" / "replay-chat.png"))

    # A marker jumps to its event: the tests' summary shows the result.
    page.locator('.replay-marker[data-type="tests.summary"]').first.click()
    expect(page.locator("[data-tests]")).to_contain_text("passed")
    expect(page.locator("[data-event]")).to_contain_text("tests.summary")

    # Play at 4x from the start moves time forward; pause stops it (the session is short).
    scrub_to(page, start_ts, by_name["start"]["ts"])
    page.locator("[data-speed]").select_option("4")
    before = page.locator("[data-time]").inner_text()
    page.locator("[data-play]").click()
    page.wait_for_timeout(1000)
    page.locator("[data-play]").click()
    assert page.locator("[data-time]").inner_text() != before
    assert page.locator("[data-play]").get_attribute("aria-label") == "Play"
    assert errors == []
    context.close()


def test_the_report_and_a_scorecard(
    browser: Browser, recorded: tuple[PortalProcess, str, list[dict[str, Any]]], artifacts: Path
) -> None:
    portal, interview_id, _moments = recorded
    context = new_context(browser, "10.9.0.2")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, portal)
    page.goto(f"{portal.url}/interviews/{interview_id}/report")
    expect(page.locator('[data-figure="runs"] .figure-value')).to_have_text("1")
    expect(page.locator('[data-figure="paste_volume"]')).to_contain_text("27 characters")
    expect(page.locator("[data-overall]")).not_to_contain_text("Not scored")
    expect(page.locator(".code-file figcaption", has_text=MAIN)).to_be_visible()
    expect(page.locator(".private-notes")).to_have_text(NOTES)
    # A key moment links into the replay at its event.
    link = page.locator(".moments .replay-link").first
    assert "/replay?seq=" in (link.get_attribute("href") or "")

    form = page.locator("[data-scorecard-form]")
    form.locator('input[name="rating-problem_solving"][value="3"]').check()
    form.locator('input[name="rating-communication"][value="4"]').check()
    form.get_by_label("Recommendation").select_option("yes")
    form.get_by_label("Notes").fill("Asked a good question about per-user limits.")
    form.get_by_role("button", name="Save scorecard").click()
    card = page.locator("[data-scorecard]")
    expect(card).to_contain_text("Asked a good question")
    expect(card).to_contain_text("Yes")
    expect(card.locator(".rating-3")).to_have_count(1)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "screenshots" / "report-top.png"))
    page.screenshot(path=str(artifacts / "screenshots" / "report.png"), full_page=True)
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(form).to_be_hidden()
    page.screenshot(path=str(artifacts / "screenshots" / "report-print.png"), full_page=True)
    assert errors == []
    context.close()


def test_an_admin_changes_the_report_settings(
    browser: Browser, recorded: tuple[PortalProcess, str, list[dict[str, Any]]], artifacts: Path
) -> None:
    portal, interview_id, _moments = recorded
    context = new_context(browser, "10.9.0.3")
    page = context.new_page()
    log_in(page, portal)
    page.goto(f"{portal.url}/settings#reports")
    section = page.locator("[data-report-settings]")
    section.get_by_label("Hidden tests").fill("60")
    section.get_by_role("button", name="Add a criterion").click()
    section.locator("[data-criterion]").last.get_by_label("Label").fill("System design")
    section.get_by_role("button", name="Save report settings").click()
    expect(page.locator("#toasts")).to_contain_text("Report settings saved")
    section.screenshot(path=str(artifacts / "screenshots" / "settings-reports.png"))
    # A bad weight is refused with the reason, and nothing is lost.
    section.get_by_label("Visible tests").fill("300")
    section.get_by_role("button", name="Save report settings").click()
    expect(section.locator("[data-report-settings-error]")).to_contain_text("0 to 100")

    page.goto(f"{portal.url}/interviews/{interview_id}/report")
    expect(page.locator(".overall-parts")).to_contain_text("60 %")
    expect(page.locator("[data-scorecard-form]")).to_contain_text("System design")
    context.close()
