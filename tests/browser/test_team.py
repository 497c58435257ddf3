"""The team and settings pages in real Chromium: an owner adds a member (after one inline
error), changes their role, removes them; the last owner's controls stay locked; an API
token is shown once and revoked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.live import LivePortal, live_portal

pytestmark = pytest.mark.browser

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 820, "height": 1180}
NEW_MEMBER = "Ada Lovelace"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    with live_portal(tmp_path_factory.mktemp("team") / "data") as running:
        yield running


@pytest.fixture
def context(browser: Browser, portal: LivePortal) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=LAPTOP, base_url=portal.url)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal.url)
    yield ctx
    ctx.close()


def shots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def log_in(page: Page, portal: LivePortal, target: str) -> None:
    page.goto(f"/login?next={target}")
    page.get_by_label("Email").fill(portal.email)
    page.get_by_label("Password").fill(portal.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))


def roles_by_email(page: Page) -> dict[str, str]:
    users = page.request.get("/api/users").json()["users"]
    return {user["email"]: user["role"] for user in users}


def test_owner_manages_a_member(
    context: BrowserContext, portal: LivePortal, artifacts: Path
) -> None:
    folder = shots(artifacts)
    page = context.new_page()
    log_in(page, portal, "/team")
    own_select = page.get_by_label(re.compile(r"^Role for "))
    expect(own_select).to_have_count(1)
    # The only owner cannot demote or remove themselves, and the page says why.
    expect(own_select).to_be_disabled()
    expect(page.get_by_role("button", name=re.compile(r"^Remove "))).to_be_disabled()
    expect(page.get_by_text("The only owner. Make someone else owner first.")).to_be_visible()
    page.screenshot(path=str(folder / "team.png"), full_page=True)

    # Keyboard: the dialog opens with focus inside and Escape closes it.
    add = page.get_by_role("button", name="Add member")
    add.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Add a member")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    add.click()
    dialog.get_by_label("Name").fill(NEW_MEMBER)
    dialog.get_by_label("Email").fill("ada@example.com")
    dialog.get_by_label("Initial password").fill("short")
    dialog.get_by_label("Role").select_option("admin")
    dialog.get_by_role("button", name="Add member").click()
    error = dialog.locator(".field-error")
    expect(error).to_have_text("password must be at least 8 characters")
    expect(dialog.get_by_label("Initial password")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Initial password")).to_be_focused()
    page.screenshot(path=str(folder / "team-add-member.png"))

    dialog.get_by_label("Initial password").fill("analytical engine 1843")
    dialog.get_by_role("button", name="Add member").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(".toast").last).to_contain_text(f"{NEW_MEMBER} was added as admin.")
    ada_role = page.get_by_label(f"Role for {NEW_MEMBER}")
    expect(ada_role).to_have_value("admin")
    assert roles_by_email(page)["ada@example.com"] == "admin"

    # Arrow keys only move through the roles; Enter applies the one reached.
    ada_role.focus()
    page.keyboard.press("ArrowDown")
    expect(ada_role).to_have_value("interviewer")
    page.wait_for_timeout(300)
    assert roles_by_email(page)["ada@example.com"] == "admin"
    page.keyboard.press("Enter")
    expect(page.locator(".toast").last).to_contain_text(f"{NEW_MEMBER} is now interviewer.")
    assert roles_by_email(page)["ada@example.com"] == "interviewer"
    expect(page.get_by_label(f"Role for {NEW_MEMBER}")).to_be_focused()
    page.screenshot(path=str(folder / "team-members.png"))

    # A pointer change applies at once, with a toast.
    ada_role.select_option("viewer")
    expect(page.locator(".toast").last).to_contain_text(f"{NEW_MEMBER} is now viewer.")
    assert roles_by_email(page)["ada@example.com"] == "viewer"

    # A second owner unlocks the first; demoting an owner asks first, then locks again.
    page.get_by_label(f"Role for {NEW_MEMBER}").select_option("owner")
    expect(page.locator(".toast").last).to_contain_text("is now owner")
    expect(page.get_by_text("The only owner. Make someone else owner first.")).to_have_count(0)
    page.get_by_label(f"Role for {NEW_MEMBER}").select_option("interviewer")
    confirm = page.get_by_role("dialog", name=f"Demote {NEW_MEMBER}?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Make interviewer").click()
    expect(page.locator(".toast").last).to_contain_text("is now interviewer")
    expect(page.get_by_text("The only owner. Make someone else owner first.")).to_be_visible()
    assert roles_by_email(page)["ada@example.com"] == "interviewer"

    page.get_by_role("button", name=f"Remove {NEW_MEMBER}").click()
    confirm = page.get_by_role("dialog", name=f"Remove {NEW_MEMBER}?")
    expect(confirm).to_contain_text("sessions and API tokens stop working")
    page.screenshot(path=str(folder / "team-remove-confirm.png"))
    confirm.get_by_role("button", name="Remove").click()
    expect(page.get_by_label(f"Role for {NEW_MEMBER}")).to_have_count(0)
    expect(page.locator(".toast").last).to_contain_text(f"{NEW_MEMBER} was removed")
    assert "ada@example.com" not in roles_by_email(page)

    # The removed member cannot log in any more.
    refused = httpx.post(
        f"{portal.url}/api/auth/login",
        json={"email": "ada@example.com", "password": "analytical engine 1843"},
    )
    assert refused.status_code == 401

    tablet = context.new_page()
    tablet.set_viewport_size(TABLET)
    tablet.goto("/team")
    expect(tablet.get_by_role("heading", name="Team")).to_be_visible()
    tablet.screenshot(path=str(folder / "team-tablet.png"), full_page=True)
    page.close()
    tablet.close()


def test_api_token_is_shown_once_then_revoked(
    context: BrowserContext, portal: LivePortal, artifacts: Path
) -> None:
    folder = shots(artifacts)
    page = context.new_page()
    log_in(page, portal, "/settings")
    expect(page.get_by_role("heading", name="This server")).to_be_visible()
    expect(page.get_by_text("No tokens yet")).to_be_visible()
    page.screenshot(path=str(folder / "settings.png"), full_page=True)

    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-form .field-error")).to_contain_text("Give the token a name")
    page.get_by_label("Token name").fill("CI pipeline")
    page.get_by_role("button", name="Create token").click()
    value = page.locator("#new-token-value")
    expect(value).to_have_text(re.compile(r"^pq_\S{20,}$"))
    token = value.inner_text()
    expect(page.get_by_text("Copy it now: it will not be shown again.")).to_be_visible()
    page.get_by_role("button", name="Copy the new token").click()
    expect(page.locator(".toast").last).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token
    row = page.locator("#token-rows tr", has=page.get_by_role("rowheader", name="CI pipeline"))
    expect(row).to_contain_text("Active")
    page.screenshot(path=str(folder / "settings-token-created.png"), full_page=True)

    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{portal.url}/api/auth/me", headers=bearer).status_code == 200

    # Shown once: a fresh page lists the token by its prefix only.
    page.reload()
    expect(page.locator("#new-token")).to_be_hidden()
    assert token not in page.content()
    expect(row).to_contain_text(token[:10] + "…")

    page.get_by_role("button", name="Revoke CI pipeline").click()
    confirm = page.get_by_role("dialog", name="Revoke “CI pipeline”?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="Revoke token").click()
    expect(row).to_contain_text("Revoked")
    expect(page.get_by_role("button", name="Revoke CI pipeline")).to_have_count(0)
    assert httpx.get(f"{portal.url}/api/auth/me", headers=bearer).status_code == 401

    tablet = context.new_page()
    tablet.set_viewport_size(TABLET)
    tablet.goto("/settings")
    expect(tablet.get_by_role("heading", name="API tokens")).to_be_visible()
    tablet.screenshot(path=str(folder / "settings-tablet.png"), full_page=True)
    page.close()
    tablet.close()
