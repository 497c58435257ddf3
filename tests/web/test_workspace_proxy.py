"""The portal's proxy to workspace agents (`/w/{id}/agent/...`), against a real portal with
real local workspaces: who gets in, as whom the agent sees them, the WebSocket relay, observe
mode and streaming."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.candidates import candidate_client, csrf_token_from
from tests.support.portal_process import PortalProcess, running_portal

STARTER = "rate_limiter.py"


@dataclass
class World:
    portal: PortalProcess
    active_id: str  # an active take-home, its candidate signed in
    invited_id: str  # another take-home, never started
    candidate: httpx.Client
    staff: httpx.Client
    viewer_token: str
    outsider_token: str  # owner of another organization

    def agent(self, interview_id: str, path: str) -> str:
        return f"/w/{interview_id}/agent/{path}"

    def ws_url(self, interview_id: str, path: str) -> str:
        return self.portal.url.replace("http", "ws", 1) + self.agent(interview_id, path)

    def candidate_ws(self, path: str, **options: Any) -> ClientConnection:
        cookie = "; ".join(f"{k}={v}" for k, v in self.candidate.cookies.items())
        return _ws(self.ws_url(self.active_id, path), {"Cookie": cookie}, **options)

    def staff_ws(self, path: str, token: str | None = None, **options: Any) -> ClientConnection:
        bearer = {"Authorization": f"Bearer {token or self.portal.token}"}
        return _ws(self.ws_url(self.active_id, path), bearer, **options)


def _ws(url: str, headers: dict[str, str], *, origin: str | None = None) -> ClientConnection:
    origin = origin or re.sub(r"^ws", "http", url.split("/w/")[0])
    return connect(url, additional_headers=headers, origin=Origin(origin), open_timeout=30)


def _create_take_home(api: httpx.Client, name: str) -> dict[str, Any]:
    created = api.post(
        "/api/interviews",
        json={
            "kind": "take_home",
            "candidate_name": name,
            "challenge": "rate-limiter",
            "valid_days": 3,
            "duration_minutes": 60,
        },
    )
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _wait_active(api: httpx.Client, interview_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = api.get(f"/api/interviews/{interview_id}").json()["status"]
        if status == "active":
            return
        time.sleep(0.2)
    raise AssertionError(f"the interview stayed {status}")


def _token_for(portal: PortalProcess, email: str, role: str) -> str:
    portal.prequel(
        "admin",
        "create-user",
        "--email",
        email,
        "--name",
        email,
        "--role",
        role,
        "--password",
        "a-long-enough-password-1",
    )
    found = re.search(r"(pq_\S+)", portal.prequel("admin", "token", "--email", email))
    assert found
    return found.group(1)


def _move_to_another_organization(portal: PortalProcess, email: str) -> None:
    with sqlite3.connect(portal.data_dir / "prequel.db") as db:
        db.execute(
            "INSERT INTO organizations (id, slug, name, created_at) "
            "VALUES ('globex0000', 'globex', 'Globex', '2026-01-01 00:00:00.000000')"
        )
        db.execute(
            "UPDATE memberships SET org_id = 'globex0000' "
            "WHERE user_id = (SELECT id FROM users WHERE email = ?)",
            (email,),
        )


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # Interview minutes of 6 s: a 60-minute take-home stays active for the whole module.
    with running_portal(PREQUEL_WORKER__MINUTE_SECONDS="6") as portal, portal.client() as staff:
        active = _create_take_home(staff, "Ada Lovelace")
        invited = _create_take_home(staff, "Alan Turing")
        viewer_token = _token_for(portal, "viewer@example.com", "viewer")
        outsider_token = _token_for(portal, "owner@globex.example", "owner")
        _move_to_another_organization(portal, "owner@globex.example")
        with candidate_client(portal.url) as candidate:
            candidate.get(f"/take-home/{active['passcode']}")
            started = candidate.post(
                f"/api/interviews/{active['id']}/activate", json={"passcode": active["passcode"]}
            )
            assert started.status_code == 200, started.text
            _wait_active(staff, active["id"])
            yield World(
                portal=portal,
                active_id=active["id"],
                invited_id=invited["id"],
                candidate=candidate,
                staff=staff,
                viewer_token=viewer_token,
                outsider_token=outsider_token,
            )
        # Relays that end (either side closing, refusals) leave nothing in the portal's log.
        assert "Traceback" not in portal.log_text(), portal.log_text()[-5000:]


def _version(client: httpx.Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    version: str = response.json()["version"]
    return version


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def _set_mode(world: World, mode: str) -> None:
    response = world.staff.post(
        f"/api/interviews/{world.active_id}/collab-mode", json={"mode": mode}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"mode": mode}


def _receive_json(ws: ClientConnection, kind: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        frame = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(frame, str):
            message: dict[str, Any] = json.loads(frame)
            if message.get("type") == kind:
                return message


def _closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the socket closes; its close code and reason."""
    try:
        for _ in range(1000):
            ws.recv(timeout=30)
    except ConnectionClosed:
        return ws.close_code, ws.close_reason
    raise AssertionError("the socket stayed open")


# HTTP -------------------------------------------------------------------------------------


def test_candidate_and_staff_read_and_write_files_through_the_proxy(world: World) -> None:
    url = world.agent(world.active_id, f"files/{STARTER}")
    read = world.candidate.get(url)
    assert read.status_code == 200, read.text
    assert read.json()["path"] == STARTER
    assert read.headers["etag"] == f'"{read.json()["version"]}"'

    mine = world.candidate.put(
        url, json={"content": "# candidate\n", "version": _version(world.candidate, url)}
    )
    assert mine.status_code == 200, mine.text
    theirs = world.staff.put(
        url, json={"content": "# staff\n", "version": _version(world.staff, url)}
    )
    assert theirs.status_code == 200, theirs.text
    assert world.candidate.get(url).json()["content"] == "# staff\n"

    created = world.candidate.post(
        world.agent(world.active_id, "files/dir%20one/a.py"), json={"type": "file"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["path"] == "dir one/a.py"
    tree = world.staff.get(world.agent(world.active_id, "files"), params={"versions": "false"})
    assert "dir one/a.py" in [entry["path"] for entry in tree.json()["entries"]]


def test_cookie_writes_need_the_csrf_token(world: World) -> None:
    url = world.agent(world.active_id, "files/csrf.py")
    refused = world.candidate.post(url, json={"type": "file"}, headers={"X-CSRF-Token": "wrong"})
    assert refused.status_code == 403
    assert _error(refused) == "csrf_failed"


def test_who_may_not_enter(world: World) -> None:
    url = f"files/{STARTER}"
    anonymous = httpx.get(world.portal.url + world.agent(world.active_id, url), timeout=30)
    assert anonymous.status_code == 401
    assert _error(anonymous) == "not_authenticated"
    # The candidate's session is for their own interview only.
    other = world.candidate.get(world.agent(world.invited_id, url))
    assert other.status_code == 401
    # Staff of another organization see no such workspace.
    outsider = httpx.get(
        world.portal.url + world.agent(world.active_id, url),
        headers={"Authorization": f"Bearer {world.outsider_token}"},
        timeout=30,
    )
    assert outsider.status_code == 404
    assert world.staff.get(world.agent("nosuchinterview", url)).status_code == 404
    # A workspace that is not running yet.
    invited = world.staff.get(world.agent(world.invited_id, url))
    assert invited.status_code == 409
    assert _error(invited) == "not_active"


def test_a_large_download_streams_through(world: World) -> None:
    payload = os.urandom(6 * 1024 * 1024 + 17)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 1024 * 1024):
            yield payload[start : start + 1024 * 1024]

    uploaded = world.staff.post(world.agent(world.active_id, "upload/big.bin"), content=chunks())
    assert uploaded.status_code == 201, uploaded.text
    received = bytearray()
    with world.candidate.stream(
        "GET", world.agent(world.active_id, "download/big.bin")
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(payload))
        assert response.headers["content-security-policy"] == "sandbox"
        for chunk in response.iter_raw():
            received += chunk
    assert bytes(received) == payload
    # A browser that leaves mid-download costs the portal nothing (the log is checked at the
    # end of the module).
    with world.candidate.stream("GET", world.agent(world.active_id, "download/big.bin")) as left:
        next(left.iter_raw())
    assert world.candidate.get(world.agent(world.active_id, "files")).status_code == 200


# WebSocket --------------------------------------------------------------------------------


def test_the_terminal_is_relayed_both_ways(world: World) -> None:
    with world.candidate_ws("terminal") as ws:
        ws.send(json.dumps({"type": "input", "data": "echo relayed-$((6*7))\r"}))
        seen = ""
        deadline = time.monotonic() + 30
        while "relayed-42" not in seen and time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=30))
            seen += message.get("data", "")
        assert "relayed-42" in seen


def test_websocket_refusals_close_with_a_code_and_reason(world: World) -> None:
    with _ws(world.ws_url(world.active_id, "terminal"), {}) as ws:
        assert _closed_with(ws)[0] == 4401
    with world.staff_ws("terminal", origin="https://evil.example") as ws:
        code, reason = _closed_with(ws)
        assert code == 4403 and reason and "Origin" in reason
    with world.staff_ws("terminal", token=world.outsider_token) as ws:
        assert _closed_with(ws)[0] == 4404
    invited = world.ws_url(world.invited_id, "terminal")
    with _ws(invited, {"Authorization": f"Bearer {world.portal.token}"}) as ws:
        assert _closed_with(ws)[0] == 4409


def test_the_agents_close_code_reaches_the_browser(world: World) -> None:
    # The agent closes the candidate on the notes room with 4403 and a reason.
    with world.candidate_ws("collab/notes") as ws:
        code, reason = _closed_with(ws)
    assert code == 4403
    assert reason and "interviewers" in reason


def test_identity_comes_from_the_portal_never_from_the_browser(world: World) -> None:
    def hello(ws: ClientConnection) -> dict[str, Any]:
        user: dict[str, Any] = _receive_json(ws, "hello")["user"]
        return user

    forged = {"X-Prequel-Role": "interviewer", "X-Prequel-User-Name": "Boss"}
    cookie = "; ".join(f"{k}={v}" for k, v in world.candidate.cookies.items())
    with _ws(world.ws_url(world.active_id, "collab/chat"), {"Cookie": cookie, **forged}) as ws:
        assert hello(ws) == {"id": "candidate", "name": "Ada Lovelace", "role": "candidate"}
    with world.staff_ws("collab/chat") as ws:
        assert hello(ws)["role"] == "interviewer"
    with world.staff_ws("collab/chat?as=spectator") as ws:
        assert hello(ws)["role"] == "spectator"
    with world.staff_ws("collab/chat", token=world.viewer_token) as ws:
        assert hello(ws) == {
            "id": hello_id(world, "viewer@example.com"),
            "name": "viewer@example.com",
            "role": "spectator",
        }
    # Over HTTP too: a candidate claiming to be the interviewer is still the candidate.
    _set_mode(world, "observe")
    try:
        url = world.agent(world.active_id, f"files/{STARTER}")
        claimed = world.candidate.put(
            url,
            json={"content": "x", "version": _version(world.candidate, url)},
            headers=forged,
        )
        assert claimed.status_code == 403
        assert _error(claimed) == "observe_only"
    finally:
        _set_mode(world, "edit")


def hello_id(world: World, email: str) -> str:
    with sqlite3.connect(world.portal.data_dir / "prequel.db") as db:
        row = db.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
    return f"user-{row[0]}"


# Observe mode -----------------------------------------------------------------------------


def test_observe_mode_refuses_the_candidate_on_the_server(world: World) -> None:
    mode_url = f"/api/interviews/{world.active_id}/collab-mode"
    assert world.staff.get(mode_url).json() == {"mode": "edit"}
    viewer = httpx.post(
        world.portal.url + mode_url,
        json={"mode": "observe"},
        headers={"Authorization": f"Bearer {world.viewer_token}"},
        timeout=30,
    )
    assert viewer.status_code == 403
    _set_mode(world, "observe")
    try:
        assert world.staff.get(mode_url).json() == {"mode": "observe"}
        url = world.agent(world.active_id, f"files/{STARTER}")
        refused = world.candidate.put(
            url, json={"content": "mine", "version": _version(world.candidate, url)}
        )
        assert refused.status_code == 403
        assert _error(refused) == "observe_only"
        with world.candidate_ws("terminal") as ws:
            ws.send(json.dumps({"type": "input", "data": "echo nope\r"}))
            assert _receive_json(ws, "error")["code"] == "observe_only"
        allowed = world.staff.put(
            url, json={"content": "# interviewer\n", "version": _version(world.staff, url)}
        )
        assert allowed.status_code == 200, allowed.text
    finally:
        _set_mode(world, "edit")
    again = world.candidate.put(
        url, json={"content": "# mine again\n", "version": _version(world.candidate, url)}
    )
    assert again.status_code == 200, again.text
    wrong = world.staff.post(mode_url, json={"mode": "nap"})
    assert wrong.status_code == 422
    invited = world.staff.get(f"/api/interviews/{world.invited_id}/collab-mode")
    assert invited.status_code == 409


def test_staff_signed_in_with_a_cookie_use_the_proxy_like_the_ide(world: World) -> None:
    with candidate_client(world.portal.url) as browser:
        signed_in = browser.post(
            "/api/auth/login", json={"email": world.portal.email, "password": world.portal.password}
        )
        assert signed_in.status_code == 200, signed_in.text
        page = browser.get(f"/w/{world.active_id}/")
        assert page.status_code == 200
        data = json.loads(re.search(r'id="ide-config">(.*?)</script>', page.text).group(1))  # type: ignore[union-attr]
        assert data["role"] == "interviewer"
        assert data["agentBase"] == f"/w/{world.active_id}/agent"
        spectating = browser.get(f"/w/{world.active_id}/", params={"as": "spectator"})
        assert '"role": "spectator"' in spectating.text
        browser.headers["X-CSRF-Token"] = csrf_token_from(page.text)
        url = world.agent(world.active_id, f"files/{STARTER}")
        written = browser.put(
            url, json={"content": "# cookie staff\n", "version": _version(browser, url)}
        )
        assert written.status_code == 200, written.text
        # Asking to spectate makes the same person read-only.
        watching = browser.put(
            url,
            params={"as": "spectator"},
            json={"content": "x", "version": _version(browser, url)},
        )
        assert watching.status_code == 403
        assert _error(watching) == "read_only"

        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        with _ws(world.ws_url(world.active_id, "collab/chat"), {"Cookie": cookie}) as ws:
            user = _receive_json(ws, "hello")["user"]
        assert user["role"] == "interviewer"
        assert user["id"].startswith("user-")


def test_the_portal_tokens_privileges_stay_with_the_portal(world: World) -> None:
    # The proxy speaks with the portal's token: its privileged endpoints are filtered.
    mode = world.candidate.post(world.agent(world.active_id, "collab/mode"), json={"mode": "edit"})
    assert mode.status_code == 403
    assert _error(mode) == "portal_only"
    assert world.staff.get(world.agent(world.active_id, "collab//status")).status_code == 403
    # Dot segments (escaped, so the client keeps them) never reach the agent's URL parser.
    assert (
        world.candidate.get(world.agent(world.active_id, "files/%2E%2E/collab/mode")).status_code
        == 400
    )
    assert world.candidate.get(world.agent(world.active_id, "collab/mode")).json() == {
        "mode": "edit"
    }
    hidden = world.candidate.post(world.agent(world.active_id, "tests"), json={"which": "hidden"})
    assert hidden.status_code == 403
    assert _error(hidden) == "portal_only"
    with world.candidate_ws("tests/stream") as ws:
        ws.send(json.dumps({"type": "start", "which": "hidden"}))
        assert _closed_with(ws)[0] == 4403
    with world.candidate_ws("tests/stream") as ws:
        ws.send(json.dumps({"type": "start", "which": "hidden"}).encode())  # binary frame
        assert _closed_with(ws)[0] == 4403
    with world.staff_ws("tests/stream", token=world.viewer_token) as ws:
        # A spectator runs no tests at all: refused before any frame.
        assert _closed_with(ws) == (4403, "spectators watch: they cannot run code or tests")
    # The recording is read by the portal only; spectators run nothing (they read results).
    recording = world.candidate.get(world.agent(world.active_id, "recording"))
    assert (recording.status_code, _error(recording)) == (403, "portal_only")
    viewer = {"Authorization": f"Bearer {world.viewer_token}"}
    run = world.staff.post(
        world.agent(world.active_id, "runs"), json={"command": ["true"]}, headers=viewer
    )
    assert (run.status_code, _error(run)) == (403, "read_only")
    last = world.staff.get(world.agent(world.active_id, "tests/last"), headers=viewer)
    assert last.status_code == 200, last.text
    # Visible tests are the candidate's to run.
    visible = world.candidate.post(world.agent(world.active_id, "tests"), json={"which": "visible"})
    assert visible.status_code == 200, visible.text
    assert visible.json()["summary"]["which"] == "visible"
