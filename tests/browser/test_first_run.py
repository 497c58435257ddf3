"""What a new user does: `make run`'s two commands, then log in with the printed credentials
in Chromium, land on the dashboard and see the sample challenges."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.live import LivePortal, live_portal

pytestmark = pytest.mark.browser


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[LivePortal]:
    with live_portal(tmp_path / "data") as running:
        yield running


def test_log_in_with_printed_credentials_and_see_the_samples(
    portal: LivePortal, browser: Browser, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(portal.url)
    expect(page).to_have_url(re.compile(r"/login"))
    page.screenshot(path=str(artifacts / "login.png"))

    page.get_by_label("Email").fill(portal.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong email or password")

    page.get_by_label("Password").fill(portal.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/interviews$"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Challenges").click()
    expect(page).to_have_url(re.compile(r"/challenges$"))
    cards = page.locator("[data-challenge]")
    expect(cards).to_have_count(3)
    page.screenshot(path=str(artifacts / "challenges.png"), full_page=True)

    cards.first.click()
    expect(page.locator(".markdown")).to_be_visible()
    page.screenshot(path=str(artifacts / "challenge-detail.png"), full_page=True)
    page.close()
