"""The committed IDE bundle loads in real Chromium under the portal's CSP, with no agent.

A static page (the shape of templates/ide/ide.html) is served by a tiny local server that
sends the portal's Content-Security-Policy. No agent answers: the shared document's and the
terminal's WebSockets fail to connect, which must show the "Reconnecting…" banner, never an
uncaught error, while the editor and the terminal render.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import Callable, Coroutine, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pycrdt
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from prequel.web.security_headers import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.browser

DIST = Path(__file__).resolve().parents[2] / "prequel" / "web" / "static" / "dist"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>IDE bundle</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/static/dist/ide.css">
  <script type="module" src="/static/dist/ide.js"></script>
</head>
<body class="ide-page">
  <script type="application/json" id="ide-config">
    {"interviewId": "bundle-test", "user": {"name": "Ada", "color": "#0a7f3f"}}
  </script>
  <main id="ide"></main>
</body>
</html>
"""


class _Handler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def collect_console_errors(page: Page) -> list[str]:
    """Console errors, CSP violations included, as they happen."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Chromium itself reports each refused WebSocket handshake, and each failed request
        # to the agent these pages have none or half of (the test panel's /tests/last);
        # anything else, CSP violations first, is ours.
        if (
            message.type == "error"
            and "WebSocket connection to" not in message.text
            and "Failed to load resource" not in message.text
        ):
            errors.append(message.text)

    page.on("console", on_console)
    return errors


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "dist").symlink_to(DIST)
    handler = functools.partial(_Handler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bundle_mounts_the_editor_and_terminal_without_an_agent(
    site: str, browser: Browser, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    uncaught: list[str] = []
    page.on("pageerror", lambda error: uncaught.append(str(error)))
    console_errors = collect_console_errors(page)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))

    page.goto(f"{site}/index.html")

    editor = page.locator("#ide .ide-editor .cm-editor")
    expect(editor).to_be_visible()
    expect(page.locator("#ide .ide-editor .cm-lineNumbers")).to_be_visible()
    # No document yet (no agent, no hello): nothing is editable.
    content = page.locator("#ide .ide-editor .cm-content")
    expect(content).to_have_attribute("contenteditable", "false")
    expect(page.locator("#ide .ide-panel-body-terminal .xterm")).to_be_visible()
    expect(page.locator("#ide .ide-left")).to_contain_text("No files yet")
    expect(page.locator("#ide")).to_have_attribute("data-status", "reconnecting")
    expect(page.locator(".ide-banner")).to_contain_text("Reconnecting…")
    page.wait_for_timeout(1500)  # a few reconnection attempts, still no uncaught error
    page.screenshot(path=str(artifacts / "ide-bundle.png"))

    assert any(url.endswith("/w/bundle-test/agent/collab/doc") for url in sockets), sockets
    assert any(url.endswith("/w/bundle-test/agent/terminal") for url in sockets), sockets
    assert uncaught == []
    assert console_errors == []
    # CodeMirror's and xterm's styles apply under style-src 'self' (no inline <style>).
    gutter_display = editor.locator(".cm-gutters").evaluate("el => getComputedStyle(el).display")
    assert gutter_display == "flex"
    # Remote cursors (y-codemirror) are colored through setAttribute("style"): allowed too.
    caret_color = page.evaluate(
        """() => {
            const caret = document.createElement("span");
            caret.setAttribute("style", "background-color: #0a7f3f");
            document.body.append(caret);
            return getComputedStyle(caret).backgroundColor;
        }"""
    )
    assert caret_color == "rgb(10, 127, 63)"
    assert console_errors == []
    page.close()


class FakeAgent:
    """The agent's two rooms as the browser sees them through the portal, and the static files.

    `/w/fake/agent/collab/doc` speaks y-websocket (pycrdt) with the agent's type-100 notices;
    `/w/fake/agent/terminal` echoes input as output. Any other path is a static file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.doc: pycrdt.Doc[pycrdt.Map[pycrdt.Text]] = pycrdt.Doc()
        self.doc["files"] = files = pycrdt.Map[pycrdt.Text]()
        files["src/app.py"] = pycrdt.Text("def answer():\n    return 41\n")
        files["README.md"] = pycrdt.Text("# Notes\n")
        self.doc_sockets: list[ServerConnection] = []
        self.doc_urls: list[str] = []
        self.terminal_messages: list[dict[str, object]] = []
        self.loop = asyncio.new_event_loop()
        self.url = ""

    def text(self, path: str) -> str:
        return str(self.call(self._text(path)))

    async def _text(self, path: str) -> str:
        return str(self.doc["files"][path])

    def call(self, coroutine: Coroutine[object, object, object]) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    @staticmethod
    def notice(value: dict[str, object]) -> bytes:
        return bytes([100]) + pycrdt.write_message(json.dumps(value).encode())

    async def broadcast_notice(self, value: dict[str, object]) -> None:
        for socket in self.doc_sockets:
            await socket.send(self.notice(value))

    async def close_doc_sockets(self, code: int) -> None:
        for socket in list(self.doc_sockets):
            await socket.close(code, "test")

    async def handler(self, socket: ServerConnection) -> None:
        path = socket.request.path if socket.request else ""
        if path.startswith("/w/fake/agent/collab/doc"):
            await self.collab(socket, path)
        elif path == "/w/fake/agent/terminal":
            async for raw in socket:
                message = json.loads(raw)
                self.terminal_messages.append(message)
                if message["type"] == "input":
                    await socket.send(json.dumps({"type": "output", "data": message["data"]}))

    async def collab(self, socket: ServerConnection, path: str) -> None:
        self.doc_urls.append(path)
        self.doc_sockets.append(socket)
        hello = {
            "type": "hello",
            "room": "doc",
            "epoch": "epoch-1",
            "user": {"id": "candidate", "name": "Ada", "role": "candidate"},
            "writable": True,
            "mode": "edit",
        }
        await socket.send(self.notice(hello))
        await socket.send(pycrdt.create_sync_message(self.doc))
        try:
            async for message in socket:
                assert isinstance(message, bytes)
                if message[0] == pycrdt.YMessageType.SYNC:
                    reply = pycrdt.handle_sync_message(message[1:], self.doc)
                    if reply is not None:
                        await socket.send(reply)
        except ConnectionClosed:
            pass
        finally:
            self.doc_sockets.remove(socket)

    def static(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        relative = request.path.split("?")[0].lstrip("/") or "index.html"
        file = (self.root / relative).resolve()
        if not file.is_file():
            return connection.respond(404, "not found\n")
        kind = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
        headers = Headers(
            [
                ("Content-Type", kind.get(file.suffix, "application/octet-stream")),
                ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
                ("Cache-Control", "no-store"),
            ]
        )
        return Response(200, "OK", headers, file.read_bytes())

    def run(self, started: threading.Event) -> None:
        async def main() -> None:
            async with serve(self.handler, "127.0.0.1", 0, process_request=self.static) as server:
                port = next(iter(server.sockets)).getsockname()[1]
                self.url = f"http://127.0.0.1:{port}"
                self.stop = asyncio.Event()
                started.set()
                await self.stop.wait()

        self.loop.run_until_complete(main())


def eventually(page: Page, check: Callable[[], bool], what: str, seconds: float = 5) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[FakeAgent]:
    page = PAGE.replace('"interviewId": "bundle-test"', '"interviewId": "fake"')
    (tmp_path / "index.html").write_text(page)
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "dist").symlink_to(DIST)
    fake = FakeAgent(tmp_path)
    started = threading.Event()
    thread = threading.Thread(target=fake.run, args=(started,), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield fake
    finally:
        fake.loop.call_soon_threadsafe(fake.stop.set)
        thread.join(10)
        fake.loop.close()


def test_bundle_edits_the_shared_document_and_follows_the_agent(
    agent: FakeAgent, browser: Browser, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    uncaught: list[str] = []
    page.on("pageerror", lambda error: uncaught.append(str(error)))
    console_errors = collect_console_errors(page)
    page.goto(f"{agent.url}/index.html")

    files = page.locator("#ide .ide-left")
    expect(files.locator('[data-action=open][data-path="src/app.py"]')).to_be_visible()
    expect(files.locator('[data-action=open][data-path="README.md"]')).to_be_visible()
    expect(page.locator("#ide")).to_have_attribute("data-status", "connected")
    expect(page.locator(".ide-banner")).to_be_hidden()

    files.locator('[data-action=open][data-path="src/app.py"]').click()
    content = page.locator("#ide .ide-editor .cm-content")
    expect(content).to_contain_text("return 41")
    expect(content).to_have_attribute("contenteditable", "true")
    # Python highlighting arrives from its own chunk: `def` becomes a keyword token.
    expect(content.locator("span", has_text="def").first).to_be_visible()

    page.locator("#ide .cm-line", has_text="return 41").click()
    page.keyboard.press("End")
    page.keyboard.type("  # typed")
    eventually(page, lambda: "return 41  # typed\n" in agent.text("src/app.py"), "the edit")
    # Undo is the Y.UndoManager's: it takes back our own edit.
    page.keyboard.press("Control+z")
    eventually(page, lambda: agent.text("src/app.py") == "def answer():\n    return 41\n", "undo")

    # Observe mode: the agent says this connection may no longer write.
    agent.call(agent.broadcast_notice({"type": "mode", "mode": "observe", "writable": False}))
    expect(content).to_have_attribute("contenteditable", "false")

    # The epoch travels on reconnection; 4409 drops the Y.Doc and reconnects without it.
    agent.call(agent.close_doc_sockets(1012))
    eventually(page, lambda: len(agent.doc_urls) == 2, "a reconnection")
    assert agent.doc_urls[1].endswith("?epoch=epoch-1"), agent.doc_urls
    agent.call(agent.close_doc_sockets(4409))
    eventually(page, lambda: len(agent.doc_urls) == 3, "a new document")
    assert agent.doc_urls[2] == "/w/fake/agent/collab/doc", agent.doc_urls
    expect(content).to_contain_text("return 41")
    expect(content).to_have_attribute("contenteditable", "true")

    # The terminal sends keystrokes as input messages and shows output messages.
    page.locator("#ide .ide-panel-body-terminal .xterm").click()
    page.keyboard.type("echo hi")
    expect(page.locator("#ide .ide-panel-body-terminal .xterm-rows")).to_contain_text("echo hi")
    assert {"type": "input", "data": "e"} in agent.terminal_messages
    assert any(m["type"] == "resize" for m in agent.terminal_messages)
    page.screenshot(path=str(artifacts / "ide-bundle-agent.png"))
    assert uncaught == []
    assert console_errors == []  # CSP violations included
    page.close()
