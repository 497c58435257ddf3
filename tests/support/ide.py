"""Helpers for IDE tests in real Chromium against a running portal: create a live interview,
sign in, join as the candidate, and read the IDE's state."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.support.portal_process import PortalProcess

LAPTOP: ViewportSize = {"width": 1366, "height": 820}
EDITABLE = '#ide .ide-editor .cm-content[contenteditable="true"]'


def create_live(api: httpx.Client, name: str, minutes: int = 60) -> dict[str, Any]:
    """A live interview that starts now; answers its API view (with the password)."""
    response = api.post(
        "/api/interviews",
        json={
            "kind": "live",
            "candidate_name": name,
            "challenge": "rate-limiter",
            "duration_minutes": minutes,
        },
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_status(api: httpx.Client, interview_id: str, wanted: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = api.get(f"/api/interviews/{interview_id}").json()["status"]
        if status == wanted:
            return
        time.sleep(0.1)
    raise AssertionError(f"status stayed {status}, wanted {wanted}")


def new_context(browser: Browser, ip: str) -> BrowserContext:
    # Each person gets their own address, so per-IP limits do not interfere.
    return browser.new_context(viewport=LAPTOP, extra_http_headers={"X-Forwarded-For": ip})


def log_in(page: Page, portal: PortalProcess) -> None:
    page.goto(portal.url + "/login")
    page.get_by_label("Email").fill(portal.email)
    page.get_by_label("Password").fill(portal.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/interviews$"))


def join(page: Page, portal: PortalProcess, interview: dict[str, Any], name: str) -> None:
    page.goto(f"{portal.url}/join/{interview['id']}")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Workspace password").fill(interview["password"])
    page.get_by_role("button", name="Join the interview").click()
    page.wait_for_url(re.compile(rf"/w/{interview['id']}/$"))
    expect(page.locator(EDITABLE)).to_be_visible()


def open_ide(page: Page, portal: PortalProcess, interview_id: str, query: str = "") -> None:
    page.goto(f"{portal.url}/w/{interview_id}/{query}")
    expect(page.locator("#ide .ide-editor .cm-content")).to_be_visible()


def editor_text(page: Page) -> str:
    """The open file's text as CodeMirror holds it (its DOM shows only the visible lines)."""
    text: str = page.evaluate("() => window.prequelIde.editorState().text")
    return text


def editor_path(page: Page) -> str | None:
    path: str | None = page.evaluate("() => window.prequelIde.editorState().path")
    return path


def workspace_folder(portal: PortalProcess, interview_id: str) -> Path:
    """The local workspace folder of an interview (its owner.json names the interview)."""
    for label in (portal.data_dir / "workspaces").glob("*/owner.json"):
        if json.loads(label.read_text())["interview_id"] == interview_id:
            return label.parent
    raise AssertionError(f"no workspace folder for {interview_id}")
