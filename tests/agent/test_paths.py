"""Paths: no escape from the workspace by '..', absolute paths, symlinks or special files."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import threading
from pathlib import Path

import httpx
import pytest

from prequel.agent.errors import AgentError
from prequel.agent.paths import parse_path
from tests.agent.conftest import RunningAgent, StartAgent

SHADOW = Path("/etc/shadow")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        ".",
        "a//b",
        "a/",
        "a\x00b",
        "a\nb",
        "x" * 256,
        "/".join(["d"] * 65),
        "\ud800",
    ],
)
def test_parse_path_refuses(raw: str) -> None:
    with pytest.raises(AgentError) as caught:
        parse_path(raw)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_path"


def test_parse_path_accepts_ordinary_paths() -> None:
    assert parse_path("src/main.py") == ("src", "main.py")
    assert parse_path("..hidden/…/名前.txt") == ("..hidden", "…", "名前.txt")
    assert parse_path("x" * 255) == ("x" * 255,)


@pytest.mark.parametrize(
    "url",
    [
        "/files/%2Fetc%2Fpasswd",
        "/files//etc/passwd",
        "/files/%2E%2E/%2E%2E/etc/passwd",
        "/files/a/%2e%2e/rate_limiter.py",
        "/files/rate_limiter.py%00.txt",
        "/files/a%0Ab",
        "/files/a//b",
        "/files/rate_limiter.py/",
        "/download/%2E%2E%2Fetc%2Fpasswd",
        "/files/" + "x" * 300,
    ],
)
async def test_bad_paths_over_http_are_400(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_path"
    assert "root:" not in response.text


async def test_tree_of_a_bad_folder_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/files", params={"path": "../.."})
    assert response.status_code == 400


def _fingerprint(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).digest(), info.st_mtime_ns, info.st_ino


@pytest.fixture
def other_workspace(tmp_path: Path) -> Path:
    other = tmp_path / "other-workspace"
    other.mkdir()
    (other / "secret.txt").write_text("another candidate's code\n")
    (other / "sub").mkdir()
    (other / "sub" / "deep.txt").write_text("deep\n")
    return other


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int, int]]:
    return {
        str(p.relative_to(folder)): _fingerprint(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


async def test_symlinks_are_refused_by_every_file_route(
    agent: RunningAgent, client: httpx.AsyncClient, other_workspace: Path
) -> None:
    ws = agent.workspace
    (ws / "shadow").symlink_to(SHADOW)
    (ws / "other.txt").symlink_to(other_workspace / "secret.txt")
    (ws / "linkdir").symlink_to(other_workspace)
    (ws / "real").mkdir()
    (ws / "real" / "inner").symlink_to(other_workspace / "sub")
    (ws / "dangling").symlink_to(other_workspace / "does-not-exist.txt")
    outside_before = _snapshot(other_workspace)
    shadow_before = _fingerprint(SHADOW)
    current = (await client.get("/files/rate_limiter.py")).json()["version"]

    leaf_links = ["shadow", "other.txt", "dangling"]
    through_links = ["linkdir/secret.txt", "real/inner/deep.txt", "linkdir/sub/deep.txt"]
    attempts: list[tuple[str, str, dict[str, object]]] = []
    for path in leaf_links + through_links:
        attempts += [
            ("GET", f"/files/{path}", {}),
            ("GET", f"/download/{path}", {}),
            ("PUT", f"/files/{path}", {"json": {"content": "pwned"}}),
            ("PUT", f"/files/{path}", {"json": {"content": "pwned", "version": current}}),
            ("POST", f"/files/{path}", {"json": {"type": "file", "content": "pwned"}}),
            ("DELETE", f"/files/{path}", {}),
            ("POST", f"/upload/{path}", {"content": b"pwned"}),
            ("POST", f"/upload/{path}?overwrite=true", {"content": b"pwned"}),
            ("POST", "/rename", {"json": {"from": path, "to": "stolen.txt"}}),
            ("POST", "/rename", {"json": {"from": "rate_limiter.py", "to": path}}),
            (
                "POST",
                "/rename",
                {"json": {"from": "rate_limiter.py", "to": path, "overwrite": True}},
            ),
        ]
    for folder in ["linkdir", "real/inner"]:
        attempts += [
            ("POST", f"/files/{folder}/new.txt", {"json": {"type": "file", "content": "x"}}),
            ("POST", f"/files/{folder}/newdir", {"json": {"type": "dir"}}),
            ("PUT", f"/files/{folder}/new.txt", {"json": {"content": "x"}}),
            ("POST", f"/upload/{folder}/new.bin", {"content": b"x"}),
            ("POST", "/rename", {"json": {"from": "rate_limiter.py", "to": f"{folder}/m.py"}}),
            ("DELETE", f"/files/{folder}", {}),
            ("GET", f"/files?path={folder}", {}),
            ("POST", "/rename", {"json": {"from": folder, "to": "elsewhere"}}),
        ]
    for method, url, kwargs in attempts:
        response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        assert response.status_code in (404, 409, 422), (method, url, response.text)
        assert response.json()["error"]["code"] in ("symlink", "not_found", "exists"), (
            method,
            url,
            response.text,
        )
        assert "another candidate" not in response.text
        assert "root:" not in response.text

    assert _snapshot(other_workspace) == outside_before
    assert not (other_workspace / "new.txt").exists()
    assert not (other_workspace / "sub" / "new.txt").exists()
    assert _fingerprint(SHADOW) == shadow_before
    # The links themselves are still there, unchanged, and the workspace has no strays.
    assert os.readlink(ws / "shadow") == str(SHADOW)
    assert os.readlink(ws / "linkdir") == str(other_workspace)
    assert (ws / "rate_limiter.py").is_file()
    assert not (ws / "stolen.txt").exists()
    assert not [p for p in ws.iterdir() if p.name.startswith(".prequel-")]


async def test_a_symlink_refusal_says_why(client: httpx.AsyncClient, agent: RunningAgent) -> None:
    (agent.workspace / "shadow").symlink_to(SHADOW)
    response = await client.get("/files/shadow")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "symlink"
    assert "'shadow'" in error["message"] and "link" in error["message"]
    assert str(SHADOW) not in error["message"]


async def test_the_tree_lists_symlinks_without_following_them(
    agent: RunningAgent, client: httpx.AsyncClient, other_workspace: Path
) -> None:
    (agent.workspace / "linkdir").symlink_to(other_workspace)
    (agent.workspace / "shadow").symlink_to(SHADOW)
    entries = {e["path"]: e for e in (await client.get("/files")).json()["entries"]}
    assert entries["linkdir"]["type"] == "symlink"
    assert entries["linkdir"]["target"] == str(other_workspace)
    assert entries["shadow"] == {
        "path": "shadow",
        "type": "symlink",
        "size": 0,
        "mtime": entries["shadow"]["mtime"],
        "target": str(SHADOW),
    }
    assert not any(path.startswith("linkdir/") for path in entries)


def _make_device(path: Path) -> bool:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
    except PermissionError:
        return False
    return True


async def test_devices_fifos_and_sockets_are_refused(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    ws = agent.workspace
    os.mkfifo(ws / "fifo")
    names = ["fifo"]
    if _make_device(ws / "null"):
        names.append("null")
    for name in names:
        for method, url, kwargs in [
            ("GET", f"/files/{name}", {}),
            ("GET", f"/download/{name}", {}),
            ("PUT", f"/files/{name}", {"json": {"content": "x", "version": "0" * 32}}),
            ("POST", f"/upload/{name}?overwrite=true", {"content": b"x"}),
            ("DELETE", f"/files/{name}", {}),
            ("POST", "/rename", {"json": {"from": name, "to": "renamed"}}),
        ]:
            # A FIFO opened for reading would block forever: a timeout here is a failure.
            response = await asyncio.wait_for(
                client.request(method, url, **kwargs),  # type: ignore[arg-type]
                timeout=10,
            )
            assert response.status_code == 422, (method, url, response.text)
            assert response.json()["error"]["code"] == "not_a_regular_file"
        assert not stat.S_ISREG(os.lstat(ws / name).st_mode)
    entries = {e["path"]: e["type"] for e in (await client.get("/files")).json()["entries"]}
    assert entries["fifo"] == "special"


async def test_a_symlink_swapped_in_during_requests_is_never_followed(
    agent: RunningAgent, client: httpx.AsyncClient, other_workspace: Path
) -> None:
    """A folder flips between a real folder and a link to another workspace while reads run;
    no read may ever return the other workspace's file."""
    ws = agent.workspace
    real = ws / "d"
    real.mkdir()
    (real / "secret.txt").write_text("mine\n")
    parked = ws / "d-parked"
    link = ws / "d-link"
    link.symlink_to(other_workspace)
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            os.rename(real, parked)
            os.rename(link, real)  # d is now the link
            os.rename(real, link)
            os.rename(parked, real)  # d is the folder again

    flipper = threading.Thread(target=flip)
    flipper.start()
    seen: set[int] = set()
    try:
        for _ in range(300):
            response = await client.get("/files/d/secret.txt")
            seen.add(response.status_code)
            if response.status_code == 200:
                assert response.json()["content"] == "mine\n"
            else:
                assert response.status_code in (404, 422), response.text
    finally:
        stop.set()
        flipper.join()
    assert 200 in seen


async def test_a_file_outside_reached_by_a_hard_link_is_only_what_the_uid_may_read(
    agent: RunningAgent, client: httpx.AsyncClient, other_workspace: Path
) -> None:
    """Hard links cannot be told apart from ordinary files; the protection is the kernel's
    (protected_hardlinks) plus the agent's own uid (--user). Here: a hard link to a file the
    candidate owns is simply a file of this workspace."""
    os.link(other_workspace / "secret.txt", agent.workspace / "hard.txt")
    response = await client.get("/files/hard.txt")
    assert response.status_code == 200


async def test_operations_inside_the_workspace_still_work_next_to_links(
    agent: RunningAgent, client: httpx.AsyncClient, other_workspace: Path
) -> None:
    (agent.workspace / "linkdir").symlink_to(other_workspace)
    created = await client.post("/files/src/app.py", json={"type": "file", "content": "ok\n"})
    assert created.status_code == 201, created.text
    assert (agent.workspace / "src" / "app.py").read_text() == "ok\n"


async def test_a_start_agent_workspace_is_independent(start_agent: StartAgent) -> None:
    first = start_agent()
    second = start_agent()
    assert first.workspace != second.workspace
    async with first.client(second.token) as c:
        assert (await c.get("/health")).status_code == 401
