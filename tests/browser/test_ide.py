"""The browser IDE (issue 6) in real Chromium, against a real portal and a real workspace: an
interviewer and a candidate in two browser contexts work in one live interview.

The tests share one interview and run in file order; each leaves the workspace usable for the
next (the shared file is put back where a test changed it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pycrdt
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocket, expect

from tests.support.ide import (
    EDITABLE,
    create_live,
    editor_path,
    editor_text,
    join,
    log_in,
    new_context,
    open_ide,
    wait_status,
)
from tests.support.portal_process import PortalProcess, running_portal

pytestmark = pytest.mark.browser

SOLUTION = Path(__file__).resolve().parents[2] / "challenges/rate-limiter/solution/rate_limiter.py"
MAIN = "rate_limiter.py"


@dataclass
class Person:
    context: BrowserContext
    page: Page
    # Every WebSocket frame this browser received, per socket URL (checked over the wire).
    frames: dict[str, list[bytes | str]] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)

    def listen(self) -> None:
        def on_socket(socket: WebSocket) -> None:
            received = self.frames.setdefault(socket.url, [])
            socket.on("framereceived", lambda payload: received.append(payload))

        self.page.on("websocket", on_socket)
        self.page.on(
            "response",
            lambda response: (
                self.failed_responses.append(f"{response.status} {response.url}")
                if response.status >= 400
                else None
            ),
        )
        self.page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )


@dataclass
class Session:
    portal: PortalProcess
    api: httpx.Client
    interview: dict[str, Any]
    interviewer: Person
    candidate: Person

    @property
    def id(self) -> str:
        return str(self.interview["id"])

    def agent_file(self, path: str) -> str | None:
        """The file on the workspace's disk (None when missing), read through the portal's
        proxy as staff."""
        response = self.interviewer.context.request.get(
            f"{self.portal.url}/w/{self.id}/agent/files/{path}"
        )
        if response.status == 404:
            return None
        assert response.ok, response.text()
        content: str = response.json()["content"]
        return content


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalProcess]:
    # An interview minute lasts 3 s: a 240-minute interview outlives the module.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="3") as running:
        yield running


@pytest.fixture(scope="module")
def session(browser: Browser, portal: PortalProcess) -> Iterator[Session]:
    api = portal.client()
    interview = create_live(api, "Grace Hopper", minutes=240)
    wait_status(api, interview["id"], "active")

    interviewer_context = new_context(browser, "198.51.100.31")
    interviewer = Person(interviewer_context, interviewer_context.new_page())
    interviewer.page.set_default_timeout(20_000)
    interviewer.listen()
    log_in(interviewer.page, portal)
    open_ide(interviewer.page, portal, interview["id"])

    candidate_context = new_context(browser, "198.51.100.32")
    candidate = Person(candidate_context, candidate_context.new_page())
    candidate.page.set_default_timeout(20_000)
    candidate.listen()
    join(candidate.page, portal, interview, "Grace")
    yield Session(portal, api, interview, interviewer, candidate)
    interviewer_context.close()
    candidate_context.close()
    api.close()


@pytest.fixture
def shots(artifacts: Path) -> Path:
    folder = artifacts / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def shoot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"ide-{name}.png"))


def wait_for(predicate: Any, seconds: float = 10, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def focus_editor(page: Page, where: str) -> None:
    page.locator("#ide .ide-editor .cm-content").click()
    page.keyboard.press(f"Control+{where}")


def replace_text(page: Page, text: str) -> None:
    """Select everything in the open file and type `text` over it in one input."""
    page.locator("#ide .ide-editor .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def test_both_people_see_the_workspace_with_names_and_roles(session: Session, shots: Path) -> None:
    interviewer, candidate = session.interviewer.page, session.candidate.page
    for page in (interviewer, candidate):
        expect(page.locator(".ide-tree-item", has_text=MAIN)).to_be_visible()
        expect(page.locator("[data-testid=saved]")).to_have_text(re.compile("Saved"))
        expect(page.locator("[data-testid=countdown]")).to_have_text(re.compile(r"\d+:\d\d"))
    assert editor_path(candidate) == MAIN and "class SlidingWindowRateLimiter" in editor_text(
        candidate
    )
    # Everyone is listed with their role; the chat says who joined.
    people = interviewer.locator(".ide-people-holder")
    expect(people).to_contain_text("Grace")
    expect(candidate.locator(".ide-people-holder")).to_contain_text("Admin")
    expect(interviewer.locator(".ide-role")).to_have_text("Interviewer")
    expect(candidate.locator(".ide-role")).to_have_text("Candidate")
    # The candidate has no private notes, no mode switch and no dashboard.
    expect(candidate.get_by_role("tab", name="Private notes")).to_have_count(0)
    expect(candidate.locator("[data-testid=mode-toggle]")).to_have_count(0)
    expect(interviewer.locator("[data-testid=mode-toggle]")).to_be_visible()
    interviewer.get_by_role("tab", name="Chat").click()
    expect(interviewer.locator("[data-testid=chat-log]")).to_contain_text("Grace joined")
    shoot(interviewer, shots, "interviewer")
    shoot(candidate, shots, "candidate")


def test_two_people_type_into_one_file_and_the_disk_follows(session: Session, shots: Path) -> None:
    interviewer, candidate = session.interviewer.page, session.candidate.page
    before = editor_text(candidate)
    focus_editor(candidate, "End")
    focus_editor(interviewer, "Home")
    # Both type at once: their keystrokes interleave and cross on the wire.
    for _ in range(15):
        candidate.keyboard.type("c", delay=0)
        interviewer.keyboard.type("i", delay=0)
    wait_for(
        lambda: (
            editor_text(candidate) == editor_text(interviewer)
            and editor_text(candidate).count("c" * 15) == 1
        ),
        what="both editors to converge",
    )
    merged = editor_text(candidate)
    assert merged == "i" * 15 + before + "c" * 15
    converged = time.monotonic()
    wait_for(lambda: session.agent_file(MAIN) == merged, seconds=3, what="the file on disk")
    assert time.monotonic() - converged < 1.0, "the disk took more than a second"
    # The other person's cursor carries their name.
    expect(candidate.locator(".cm-ySelectionInfo", has_text="Admin")).to_have_count(1)
    shoot(candidate, shots, "two-cursors")

    # Undo only undoes your own edits: the candidate's Ctrl-Z leaves the interviewer's alone.
    candidate.keyboard.press("Control+z")
    wait_for(lambda: editor_text(interviewer) == "i" * 15 + before, what="the candidate's undo")
    interviewer.keyboard.press("Control+z")
    wait_for(lambda: editor_text(candidate) == before, what="the interviewer's undo")


def test_run_tests_fail_then_pass_and_run_prints_and_stops(session: Session, shots: Path) -> None:
    page = session.candidate.page
    starter = editor_text(page)
    # The starter code fails the visible tests.
    page.locator("#ide .ide-editor .cm-content").click()
    page.keyboard.press("Control+Enter")
    summary = page.locator("[data-testid=test-summary]")
    expect(summary).to_contain_text("failed", timeout=60_000)
    results = page.locator("[data-testid=test-results]")
    expect(results).to_contain_text("NotImplementedError")
    shoot(page, shots, "tests-failing")

    # The candidate writes the solution: the same button shows them passing.
    replace_text(page, SOLUTION.read_text())
    wait_for(lambda: session.agent_file(MAIN) == SOLUTION.read_text(), what="the solution on disk")
    page.locator("[data-testid=run-tests]").click()
    expect(summary).to_contain_text("passed", timeout=60_000)
    expect(summary).not_to_contain_text("failed")
    shoot(page, shots, "tests-passing")
    # The interviewer's panel shows the latest results too.
    session.interviewer.page.get_by_role("tab", name="Tests").click()
    expect(session.interviewer.page.locator("[data-testid=test-summary]")).to_contain_text("passed")

    # Run prints the program's output; Stop ends an endless loop.
    page.get_by_role("button", name="+ New").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Path").fill("loop.py")
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator(".ide-tab.is-active")).to_contain_text("loop.py")
    wait_for(lambda: editor_path(page) == "loop.py", what="loop.py to open")
    page.locator("#ide .ide-editor .cm-content").click()
    page.keyboard.insert_text(
        "import time\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.05)\n"
    )
    wait_for(lambda: "while True" in (session.agent_file("loop.py") or ""), what="loop.py on disk")
    page.locator("[data-testid=run]").click()
    output = page.locator("[data-testid=run-output]")
    expect(output).to_contain_text("started", timeout=30_000)
    expect(page.locator("[data-testid=stop]")).to_be_enabled()
    shoot(page, shots, "running")
    page.locator("[data-testid=stop]").click()
    expect(page.locator("[data-testid=run-status]")).to_contain_text(re.compile("stopped", re.I))
    expect(page.locator("[data-testid=run]")).to_be_enabled()

    # Back to the starter code for the next tests.
    page.locator(".ide-tree-item", has_text=MAIN).click()
    wait_for(lambda: editor_path(page) == MAIN, what="the main file")
    replace_text(page, starter)
    wait_for(lambda: session.agent_file(MAIN) == starter, what="the starter on disk")


def test_the_terminal_echoes_resizes_and_its_files_reach_the_editor(
    session: Session, shots: Path
) -> None:
    page = session.candidate.page
    page.get_by_role("tab", name="Terminal").click()
    screen = page.locator(".ide-panel-body-terminal .xterm-rows")
    page.locator(".ide-panel-body-terminal .xterm").click()
    page.keyboard.type("echo hello-$((6*7))\n")
    expect(screen).to_contain_text("hello-42")

    page.keyboard.type("stty size\n")
    wait_for(lambda: _last_size(terminal_lines(page)) is not None, what="stty's answer")
    first = _last_size(terminal_lines(page))
    page.set_viewport_size({"width": 1100, "height": 700})
    page.keyboard.type("clear; stty size\n")
    wait_for(lambda: _last_size(terminal_lines(page)) not in (None, first), what="a new size")
    page.set_viewport_size({"width": 1366, "height": 820})

    page.keyboard.type("printf 'print(\"from the shell\")\\n' > shell_made.py\n")
    tree_item = page.locator(".ide-tree-item", has_text="shell_made.py")
    expect(tree_item).to_be_visible()
    tree_item.click()
    wait_for(lambda: editor_text(page) == 'print("from the shell")\n', what="the shell's file")
    shoot(page, shots, "terminal")


def terminal_lines(page: Page) -> str:
    """The terminal's screen, one line per row (xterm draws each row as a div)."""
    text: str = page.evaluate(
        """() => Array.from(
            document.querySelectorAll('.ide-panel-body-terminal .xterm-rows > div'),
            (row) => row.textContent).join('\\n')"""
    )
    return text


def _last_size(screen: str) -> tuple[int, int] | None:
    sizes = re.findall(r"^(\d+) (\d+)\s*$", screen, re.M)
    return (int(sizes[-1][0]), int(sizes[-1][1])) if sizes else None


def recorded(session: Session) -> list[dict[str, Any]]:
    """The session's recording as the portal has collected it so far (the export)."""
    stored = session.api.get(f"/api/interviews/{session.id}/recording.jsonl")
    assert stored.status_code == 200, stored.text
    lines = [json.loads(line) for line in stored.text.splitlines() if line]
    return lines[1:]  # after the header


def test_pastes_and_focus_changes_are_recorded(session: Session) -> None:
    page = session.candidate.page
    session.candidate.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("() => navigator.clipboard.writeText('pasted-from-elsewhere')")
    page.locator(".ide-tree-item", has_text=MAIN).click()
    wait_for(lambda: editor_path(page) == MAIN, what="the main file")
    focus_editor(page, "End")
    page.keyboard.press("Control+v")
    wait_for(lambda: editor_text(page).endswith("pasted-from-elsewhere"), what="the paste")
    # The candidate switches to another tab, then comes back. Headless Chromium has no window
    # to lose focus, so the page is told its visibility as the browser would tell it.
    for hidden in (True, False):
        page.evaluate(
            """(hidden) => {
                Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
                document.dispatchEvent(new Event("visibilitychange"));
            }""",
            hidden,
        )
        time.sleep(0.6)  # the page waits 0.3 s for the focus to settle

    def find(kind: str) -> list[dict[str, Any]]:
        return [e for e in recorded(session) if e["type"] == kind]

    wait_for(
        lambda: find("paste") and len(find("presence.focus")) >= 2,
        what=f"the events: {[e['type'] for e in recorded(session)][-8:]}",
    )
    paste = find("paste")[-1]
    assert paste["author"]["role"] == "candidate"
    assert paste["data"] == {
        "path": MAIN,
        "size": len("pasted-from-elsewhere"),
        "source": "clipboard",
    }
    assert [e["data"]["state"] for e in find("presence.focus")][-2:] == ["lost", "regained"]
    # Put the file back as it was for the next tests.
    for _ in range(len("pasted-from-elsewhere")):
        page.keyboard.press("Backspace")
    wait_for(lambda: not editor_text(page).endswith("elsewhere"), what="the undo of the paste")


def test_private_notes_never_reach_the_candidate(session: Session, shots: Path) -> None:
    interviewer = session.interviewer.page
    interviewer.get_by_role("tab", name="Private notes").click()
    notes = interviewer.locator(".ide-panel-body-notes .cm-content")
    expect(notes).to_be_visible()
    notes.click()
    secret = "zq-secret-assessment-1337"
    interviewer.keyboard.type(f"Strong on data structures {secret}")
    expect(notes).to_contain_text(secret)
    # Chat that everyone should see goes through, to prove the candidate's sockets are live.
    interviewer.get_by_role("tab", name="Chat").click()
    interviewer.locator("[data-testid=chat-input]").fill("visible-hello-42")
    interviewer.locator("[data-testid=chat-input]").press("Enter")
    candidate = session.candidate.page
    candidate.get_by_role("tab", name="Chat").click()
    expect(candidate.locator("[data-testid=chat-log]")).to_contain_text("visible-hello-42")
    shoot(interviewer, shots, "notes")

    candidate_frames = session.candidate.frames
    assert not any("collab/notes" in url for url in candidate_frames), candidate_frames.keys()
    for url, frames in candidate_frames.items():
        for frame in frames:
            raw = frame.encode() if isinstance(frame, str) else frame
            assert secret.encode() not in raw, f"the notes reached the candidate on {url}"
    # The candidate's own attempt to open the notes room is refused by the agent.
    code = candidate.evaluate(
        """(url) => new Promise((resolve) => {
            const socket = new WebSocket(url);
            socket.onclose = (event) => resolve(event.code);
        })""",
        f"ws://{session.portal.url.split('://')[1]}/w/{session.id}/agent/collab/notes",
    )
    assert code == 4403


def _forged_update(path: str) -> list[int]:
    """A y-websocket sync update that adds a file to the shared map (valid on any state)."""
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    files = doc.get("files", type=pycrdt.Map)
    files[path] = pycrdt.Text("print('sneaky')\n")
    update = doc.get_update()
    return list(pycrdt.create_update_message(update))


def test_observe_mode_is_enforced_by_the_server(session: Session, shots: Path) -> None:
    interviewer, candidate = session.interviewer.page, session.candidate.page
    toggle = interviewer.locator("[data-testid=mode-toggle]")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(candidate.locator(".ide-notice")).to_contain_text("read-only")
    expect(candidate.locator(EDITABLE)).to_have_count(0)
    shoot(candidate, shots, "observed")

    # Past the UI: the candidate's browser sends an edit anyway, on its own socket.
    url = f"ws://{session.portal.url.split('://')[1]}/w/{session.id}/agent/collab/doc"
    closed = candidate.evaluate(
        """([url, frame]) => new Promise((resolve) => {
            const socket = new WebSocket(url);
            socket.binaryType = "arraybuffer";
            socket.onopen = () => socket.send(new Uint8Array(frame));
            socket.onclose = (event) => resolve(event.code);
        })""",
        [url, _forged_update("sneaky.py")],
    )
    assert closed == 4412
    missing = session.interviewer.context.request.get(
        f"{session.portal.url}/w/{session.id}/agent/files/sneaky.py"
    )
    assert missing.status == 404
    # The file API refuses the candidate too.
    put = candidate.evaluate(
        """async (url) => {
            const token = document.querySelector('meta[name=csrf-token]').content;
            const headers = {"X-CSRF-Token": token};
            return (await fetch(url, {method: "POST", headers})).status;
        }""",
        f"/w/{session.id}/agent/files/sneaky2.py",
    )
    assert put == 403

    # The interviewer still edits; giving the pen back makes the candidate's editor editable.
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(candidate.locator(EDITABLE)).to_be_visible()
    expect(candidate.locator(".ide-notice")).to_be_hidden()


def test_the_file_tree_creates_renames_and_deletes(session: Session, shots: Path) -> None:
    page, other = session.candidate.page, session.interviewer.page
    page.get_by_role("button", name="+ New").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Path").fill(MAIN)
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator(".ide-dialog-error")).to_contain_text("already exists")
    dialog.get_by_label("Path").fill("pkg/helpers.py")
    dialog.get_by_role("button", name="Create").click()
    expect(other.locator(".ide-tree-item", has_text="helpers.py")).to_be_visible()
    wait_for(lambda: session.agent_file("pkg/helpers.py") == "", what="the new file on disk")
    shoot(page, shots, "tree")

    row = page.locator(".ide-tree-row", has=page.locator(".ide-tree-item", has_text="helpers.py"))
    row.hover()
    row.get_by_role("button", name="Rename helpers.py").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("New path").fill("pkg/utils.py")
    dialog.get_by_role("button", name="Rename").click()
    expect(other.locator(".ide-tree-item", has_text="utils.py")).to_be_visible()
    expect(page.locator(".ide-tree-item", has_text="helpers.py")).to_have_count(0)

    row = page.locator(".ide-tree-row", has=page.locator(".ide-tree-item", has_text="utils.py"))
    row.hover()
    row.get_by_role("button", name="Delete utils.py").click()
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    expect(other.locator(".ide-tree-item", has_text="utils.py")).to_have_count(0)
    wait_for(lambda: session.agent_file("pkg/utils.py") is None, what="the file deleted on disk")


def test_a_dropped_network_recovers_everything(session: Session, shots: Path) -> None:
    candidate, interviewer = session.candidate.page, session.interviewer.page
    session.candidate.context.set_offline(True)
    expect(candidate.locator(".ide-banner")).to_contain_text("Reconnecting")
    expect(candidate.locator("[data-testid=saved]")).to_contain_text("Offline")
    focus_editor(candidate, "End")
    candidate.keyboard.type("# typed offline\n")
    focus_editor(interviewer, "Home")
    interviewer.keyboard.type("# typed meanwhile\n")
    interviewer.get_by_role("tab", name="Chat").click()
    interviewer.locator("[data-testid=chat-input]").fill("sent while you were away")
    interviewer.locator("[data-testid=chat-input]").press("Enter")
    session.candidate.context.set_offline(False)
    wait_for(
        lambda: (
            "# typed offline" in editor_text(interviewer)
            and "# typed meanwhile" in editor_text(candidate)
        ),
        seconds=20,
        what="both sides to merge",
    )
    assert editor_text(candidate) == editor_text(interviewer)
    expect(candidate.locator(".ide-banner")).to_be_hidden()
    candidate.get_by_role("tab", name="Chat").click()
    expect(candidate.locator("[data-testid=chat-log]")).to_contain_text("sent while you were away")
    shoot(candidate, shots, "after-offline")


def test_a_reopened_tab_gets_everything_back(session: Session, shots: Path) -> None:
    old = session.candidate.page
    text = editor_text(old)
    # The tab closes for good (the candidate confirms leaving); a new one opens.
    old.close(run_before_unload=False)
    page = session.candidate.context.new_page()
    page.set_default_timeout(20_000)
    open_ide(page, session.portal, session.id)
    expect(page.locator(EDITABLE)).to_be_visible()
    wait_for(lambda: editor_text(page) == text, what="the document")
    page.get_by_role("tab", name="Terminal").click()
    # The screen as it was (the shell's scrollback is replayed, `clear` included).
    expect(page.locator(".ide-panel-body-terminal .xterm-rows")).to_contain_text("shell_made.py")
    page.get_by_role("tab", name="Chat").click()
    expect(page.locator("[data-testid=chat-log]")).to_contain_text("visible-hello-42")
    page.get_by_role("tab", name="Tests").click()
    expect(page.locator("[data-testid=test-summary]")).to_contain_text("passed")
    shoot(page, shots, "reopened")
    session.candidate.page = page


def test_panes_resize_and_collapse_keys_are_absorbed_and_leaving_asks(
    session: Session, shots: Path
) -> None:
    page = session.candidate.page
    left = page.locator(".ide-left")
    before = left.bounding_box()
    assert before is not None
    splitter = page.get_by_role("separator", name="Resize the file tree")
    box = splitter.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 90, box["y"] + 200, steps=5)
    page.mouse.up()
    after = left.bounding_box()
    assert after is not None and after["width"] > before["width"] + 60
    splitter.focus()
    page.keyboard.press("ArrowLeft")
    narrowed = left.bounding_box()
    assert narrowed is not None and narrowed["width"] < after["width"]

    side = page.locator(".ide-right")
    wide = side.bounding_box()
    page.get_by_role("button", name="Collapse the side panel").click()
    narrow = side.bounding_box()
    assert wide is not None and narrow is not None and narrow["width"] < 60
    shoot(page, shots, "side-collapsed")
    page.get_by_role("button", name="Expand the side panel").click()
    expanded = side.bounding_box()
    assert expanded is not None and expanded["width"] == wide["width"]

    # Ctrl-S saves nothing (the work is always saved) but says so; no browser dialog opens.
    focus_editor(page, "End")
    page.keyboard.press("Control+s")
    expect(page.locator("[data-testid=saved]")).to_have_class(re.compile("is-flash"))

    # Leaving a running session asks first.
    with page.expect_event("dialog") as asked:
        page.close(run_before_unload=True)
    assert asked.value.type == "beforeunload"
    asked.value.dismiss()
    assert not page.is_closed()


def test_a_spectator_watches_read_only_and_unseen(
    session: Session, browser: Browser, shots: Path
) -> None:
    # A second member, a viewer: the workspace makes viewers spectators.
    member = {"email": "ida@example.com", "name": "Ida Observer", "password": "watch-quietly-9"}
    added = session.api.post("/api/users", json={**member, "role": "viewer"})
    assert added.status_code == 201, added.text
    context = new_context(browser, "198.51.100.33")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(session.portal.url + "/login")
    page.get_by_label("Email").fill(member["email"])
    page.get_by_label("Password").fill(member["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/interviews$"))
    open_ide(page, session.portal, session.id)
    expect(page.locator(".ide-role")).to_contain_text("Spectator")
    expect(page.locator(".ide-notice")).to_contain_text("spectator")
    editor = page.locator("#ide .ide-editor .cm-content")
    expect(editor).to_have_attribute("contenteditable", "false")
    page.get_by_role("tab", name="Chat").click()
    expect(page.locator("[data-testid=chat-input]")).to_be_disabled()
    # The interviewer sees them; the candidate never does.
    expect(session.interviewer.page.locator(".ide-people-holder")).to_contain_text("Ida")
    time.sleep(1)
    expect(session.candidate.page.locator(".ide-people-holder")).not_to_contain_text("Ida")
    shoot(page, shots, "spectator")
    context.close()


def test_no_console_errors_and_no_failed_requests(session: Session) -> None:
    for person in (session.interviewer, session.candidate):
        # Refusals the tests asked for, and sockets refused while the network was off.
        failed = [r for r in person.failed_responses if "sneaky" not in r]
        assert failed == [], failed
        real = [
            e
            for e in person.console_errors
            if "Failed to load resource" not in e and "ERR_INTERNET_DISCONNECTED" not in e
        ]
        assert real == [], json.dumps(real, indent=1)
