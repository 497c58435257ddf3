"""`prequel agent` as a process: refusing bad token files, listening, stopping, dropping root."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.agent.conftest import (
    AGENT_COMMAND,
    SAMPLE,
    StartAgent,
    short_tempdir,
    write_token,
)

PORTAL_CLI = [sys.executable, "-c", "from prequel.cli import main; main()", "agent"]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Path]]:
    workspace = tmp_path / "ws"
    shutil.copytree(SAMPLE / "files", workspace)
    token = tmp_path / "token"
    write_token(token)
    socket_dir = short_tempdir()
    yield {"workspace": workspace, "token": token, "socket": socket_dir / "a.sock"}
    shutil.rmtree(socket_dir, ignore_errors=True)


def run_agent(*args: str, command: list[str] = AGENT_COMMAND) -> subprocess.CompletedProcess[str]:
    """Run an agent that is expected to refuse to start."""
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, check=False
    )


def base_args(setup: dict[str, Path]) -> list[str]:
    return [
        "--workspace",
        str(setup["workspace"]),
        "--token-file",
        str(setup["token"]),
        "--listen",
        f"unix:{setup['socket']}",
    ]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_token_file_readable_by_others_is_refused(setup: dict[str, Path], mode: int) -> None:
    os.chmod(setup["token"], mode)
    done = run_agent(*base_args(setup))
    assert done.returncode != 0
    assert "readable by group or others" in done.stderr
    assert f"chmod 600 {setup['token']}" in done.stderr
    assert not setup["socket"].exists()


def test_missing_empty_and_weak_token_files_are_refused(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    setup["token"].unlink()
    done = run_agent(*base_args(setup))
    assert done.returncode != 0 and "does not exist" in done.stderr
    write_token(setup["token"], token=" ")
    done = run_agent(*base_args(setup))
    assert done.returncode != 0 and "is empty" in done.stderr
    write_token(setup["token"], token="short")
    done = run_agent(*base_args(setup))
    assert done.returncode != 0 and "at least 16 characters" in done.stderr
    write_token(setup["token"], token="the-same-token-for-both")
    portal = tmp_path / "portal"
    write_token(portal, token="the-same-token-for-both")
    done = run_agent(*base_args(setup), "--portal-token-file", str(portal))
    assert done.returncode != 0 and "must differ" in done.stderr
    os.chmod(portal, 0o644)
    done = run_agent(*base_args(setup), "--portal-token-file", str(portal))
    assert done.returncode != 0 and f"chmod 600 {portal}" in done.stderr


def test_other_start_up_mistakes_are_explained(setup: dict[str, Path], tmp_path: Path) -> None:
    inside = setup["workspace"] / "challenge"
    shutil.copytree(SAMPLE, inside)
    done = run_agent(*base_args(setup), "--challenge-dir", str(inside))
    assert done.returncode != 0 and "inside the workspace" in done.stderr
    not_a_challenge = tmp_path / "empty"
    not_a_challenge.mkdir()
    done = run_agent(*base_args(setup), "--challenge-dir", str(not_a_challenge))
    assert done.returncode != 0 and "challenge.toml is missing" in done.stderr
    setup["socket"].write_text("a regular file")
    done = run_agent(*base_args(setup))
    assert done.returncode != 0 and "is not a socket" in done.stderr
    assert setup["socket"].read_text() == "a regular file"
    done = run_agent(*base_args(setup)[:-2], "--listen", "nonsense")
    assert done.returncode != 0 and "unix:PATH or HOST:PORT" in done.stderr


def _wait_ready(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("agent ready on "), line + (
        process.stderr.read() if process.stderr else ""
    )
    return line.strip().removeprefix("agent ready on ")


def test_prequel_agent_serves_and_stops_cleanly_on_sigterm(setup: dict[str, Path]) -> None:
    process = subprocess.Popen(
        [*PORTAL_CLI, *base_args(setup)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert _wait_ready(process) == f"unix:{setup['socket']}"
        assert (os.stat(setup["socket"]).st_mode & 0o777) == 0o660
        token = setup["token"].read_text().strip()
        transport = httpx.HTTPTransport(uds=str(setup["socket"]))
        with httpx.Client(transport=transport, base_url="http://agent") as c:
            response = c.get("/health", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
        assert process.stdout is not None
        process.stdout.close()
    assert code == 0
    assert not setup["socket"].exists()


def test_tcp_listen_reports_the_real_port(setup: dict[str, Path]) -> None:
    args = [*base_args(setup)[:-2], "--listen", "127.0.0.1:0"]
    process = subprocess.Popen(
        [*AGENT_COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        where = _wait_ready(process)
        host, port = where.rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
        token = setup["token"].read_text().strip()
        with httpx.Client(base_url=f"http://{where}") as c:
            assert c.get("/health").status_code == 401
            ok = c.get("/health", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert process.stdout is not None
        process.stdout.close()


def test_a_stale_socket_is_replaced(start_agent: StartAgent) -> None:
    first = start_agent()
    socket_path = first.socket_path
    first.process.kill()  # no clean-up: the socket file stays behind
    first.process.wait()
    assert socket_path.exists()
    second = start_agent(extra_args=["--listen", f"unix:{socket_path}"])
    assert second.ready_line == f"agent ready on unix:{socket_path}"


def _status_ids(pid: int) -> dict[str, list[int]]:
    """Uid, Gid (real, effective, saved, filesystem) and Groups from /proc/<pid>/status."""
    ids: dict[str, list[int]] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Uid", "Gid", "Groups"):
            ids[key] = [int(v) for v in rest.split()]
    return ids


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
async def test_user_drops_root_and_the_file_api_cannot_read_what_the_uid_cannot(
    start_agent: StartAgent,
) -> None:
    base = Path(tempfile.mkdtemp(prefix="pqa-user-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)  # noqa: S103 - the dropped uid must traverse it
        workspace = base / "workspace"
        shutil.copytree(SAMPLE / "files", workspace)
        secret = workspace / "root-only.txt"
        secret.write_text("root's secret\n")
        for path in [workspace, *workspace.rglob("*")]:
            if path != secret:
                os.chown(path, 65534, 65534)
        os.chmod(secret, 0o600)  # owned by root

        running = start_agent(workspace=workspace, user="65534")
        ids = _status_ids(running.pid)
        assert ids["Uid"] == [65534] * 4
        assert ids["Gid"] == [65534] * 4
        assert ids["Groups"] == []
        async with running.client() as c:
            health = (await c.get("/health")).json()
            assert health["checks"]["uid"] == 65534
            for url in ["/files/root-only.txt", "/download/root-only.txt"]:
                refused = await c.get(url)
                assert refused.status_code in (403, 404), refused.text
                assert "secret" not in refused.text
            _response = await c.get("/archive")
            assert b"root's secret" not in _response.content
            written = await c.put("/files/new.py", json={"content": "by nobody\n"})
            assert written.status_code == 201, written.text
        assert (workspace / "new.py").stat().st_uid == 65534
        assert secret.read_text() == "root's secret\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)
