"""The local provisioner's own promises, beyond the contract: the folder layout and its modes,
the uid boundary, sockets for deep roots, cgroups and agents that outlive the portal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prequel.sandbox.cgroups import discover
from prequel.settings import Settings
from prequel.workspaces import local_disk, procinfo
from prequel.workspaces.base import Handle, ProvisionError, WorkspaceState
from prequel.workspaces.factory import open_provisioner
from prequel.workspaces.local import AGENT_CGROUP_NAME, LocalProvisioner
from tests.workspaces.support import (
    Backend,
    Lines,
    local_backend,
    local_settings,
    new_handle,
    sample_challenge,
    short_root,
)


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    async with local_backend(tmp_path) as under_test:
        yield under_test


@pytest.fixture
def provisioner(backend: Backend) -> LocalProvisioner:
    assert isinstance(backend.provisioner, LocalProvisioner)
    return backend.provisioner


async def started(provisioner: LocalProvisioner, *, configure: bool = True) -> Handle:
    handle = await provisioner.allocate(new_handle("local"), set())
    await provisioner.create(handle, sample_challenge(), Lines())
    if configure:
        await provisioner.configure(handle, sample_challenge(), Lines())
    return handle


def layout(provisioner: LocalProvisioner, handle: Handle) -> local_disk.Layout:
    return provisioner._layout(handle)


def test_the_factory_builds_the_configured_backend(tmp_path: Path) -> None:
    provisioner = open_provisioner(local_settings(tmp_path, tmp_path / "workspaces"))

    assert isinstance(provisioner, LocalProvisioner)
    assert provisioner.name == "local"
    assert not (tmp_path / "workspaces").exists()  # nothing happens until it is used


def test_the_socket_sits_beside_the_workspace_when_the_path_is_short() -> None:
    path = local_disk.socket_path(Path("/var/lib/prequel/workspaces"), "pq-" + "a" * 32)

    assert path == Path("/var/lib/prequel/workspaces") / ("pq-" + "a" * 32) / "agent.sock"


def test_a_deep_root_gets_a_short_deterministic_socket_path() -> None:
    deep = Path("/srv/" + "very-long-folder-name/" * 6 + "workspaces")
    name = "pq-" + "b" * 32

    path = local_disk.socket_path(deep, name)

    assert path == local_disk.socket_path(deep, name)
    assert len(os.fsencode(str(path))) <= local_disk.MAX_SOCKET_BYTES
    assert path.name == f"{name}.sock"
    assert path.parent.name.startswith("prequel-")
    assert local_disk.socket_path(Path("/srv/other"), name) != path


async def test_a_workspace_under_a_deep_root_runs_on_the_short_socket(tmp_path: Path) -> None:
    root = short_root() / ("deep-folder-" * 6).strip("-")
    root.mkdir(mode=0o711)
    async with local_backend(tmp_path, root=root) as deep:
        assert isinstance(deep.provisioner, LocalProvisioner)
        handle = await started(deep.provisioner)
        socket = Path((handle.endpoint or "").removeprefix("unix:"))
        try:
            assert socket.parent != root / handle.name
            assert describe(socket) == ("socket", 0o660, "in a private folder")
            assert await deep.provisioner.status(handle) == WorkspaceState.RUNNING

            assert await deep.provisioner.destroy(handle, None, Lines())
            assert describe(socket) == ("missing", 0, "")
        finally:
            shutil.rmtree(socket.parent, ignore_errors=True)
    shutil.rmtree(root.parent, ignore_errors=True)


def describe(socket: Path) -> tuple[str, int, str]:
    """What is at the socket path, its mode, and whether its folder is private."""
    try:
        info = socket.lstat()
    except FileNotFoundError:
        return ("missing", 0, "")
    private = stat.S_IMODE(socket.parent.stat().st_mode) == 0o700
    kind = "socket" if stat.S_ISSOCK(info.st_mode) else "other"
    return (kind, stat.S_IMODE(info.st_mode), "in a private folder" if private else "shared")


async def test_the_folder_layout_tokens_and_modes(provisioner: LocalProvisioner) -> None:
    handle = await started(provisioner)
    where = layout(provisioner, handle)
    assert handle.uid is not None

    for token in (where.agent_token, where.portal_token):
        info = token.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    assert where.agent_token.read_text() != where.portal_token.read_text()
    workspace = where.workspace.stat()
    assert (workspace.st_uid, workspace.st_gid) == (handle.uid, handle.uid)
    # Starter files went in through the agent, so they belong to the workspace's uid too.
    assert (where.workspace / "rate_limiter.py").stat().st_uid == handle.uid
    challenge = where.challenge.stat()
    assert (challenge.st_uid, challenge.st_gid) == (0, handle.uid)
    assert stat.S_IMODE(challenge.st_mode) == 0o750
    assert (where.challenge / "version").read_text() == "3\n"
    label = json.loads(where.label.read_text())
    assert label["interview_id"] == handle.interview_id
    assert label["name"] == handle.name
    assert label["uid"] == handle.uid
    # The collaboration state: private to the uid, beside the workspace, named to the agent.
    state = where.state.stat()
    assert (state.st_uid, stat.S_IMODE(state.st_mode)) == (handle.uid, 0o700)
    assert handle.pid is not None
    assert f"PREQUEL_AGENT_STATE_DIR={where.state}".encode() in environment_of(handle.pid)
    async with provisioner.agent_client(handle) as client:
        assert (await client.get("/collab/status")).status_code == 200
    assert (where.state / "doc").is_dir()


async def test_candidate_code_runs_as_the_uid_and_cannot_see_the_challenge(
    provisioner: LocalProvisioner,
) -> None:
    handle = await started(provisioner)
    challenge = layout(provisioner, handle).challenge
    hidden = challenge / "tests" / "hidden" / "test_hidden_rate_limiter.py"
    assert hidden.is_file()
    script = f"id -u; cat {hidden} || echo UNREADABLE; find / -name '*hidden*' 2>/dev/null"

    async with provisioner.agent_client(handle) as client:
        health = (await client.get("/health")).json()
        if not (health.get("sandbox") or {}).get("safe", True):
            pytest.skip("this machine cannot sandbox candidate code (bubblewrap, cgroups)")
        response = await client.post("/runs", json={"command": ["sh", "-c", script]})

    outcome = response.json()
    assert response.status_code == 200, outcome
    lines = outcome["stdout"].splitlines()
    assert lines[0] == str(handle.uid)
    assert "UNREADABLE" in lines
    assert not [line for line in lines if "hidden" in line]


async def test_the_agent_holds_none_of_the_portals_secrets(
    provisioner: LocalProvisioner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREQUEL_SECRET_KEY", "portal-secret-do-not-leak")

    handle = await started(provisioner, configure=False)

    assert handle.pid is not None
    assert b"portal-secret-do-not-leak" not in environment_of(handle.pid)
    await provisioner.configure(handle, sample_challenge(), Lines())


def environment_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


async def test_the_agent_leads_its_own_session(provisioner: LocalProvisioner) -> None:
    handle = await started(provisioner)
    assert handle.pid is not None

    info = procinfo.read_stat(handle.pid)

    assert info is not None
    assert info.session == info.pgrp == handle.pid


STANDIN_PORTAL = """
import asyncio, json, sys, time
from prequel.settings import Settings
from prequel.workspaces.base import Handle
from prequel.workspaces.local import LocalProvisioner
from tests.workspaces.support import Lines, sample_challenge

async def main() -> None:
    provisioner = LocalProvisioner(Settings.model_validate_json(sys.argv[1]))
    handle = Handle(**json.loads(sys.argv[2]))
    await provisioner.create(handle, sample_challenge(), Lines())
    print(json.dumps({"pid": handle.pid, "pid_started": handle.pid_started}), flush=True)
    time.sleep(300)

asyncio.run(main())
"""


def create_in_a_portal_that_then_dies(settings: Settings, handle: Handle) -> tuple[int, int]:
    """Run create in a stand-in portal process, SIGKILL that process, and return what it
    reported: the agent's pid and start time."""
    portal = subprocess.Popen(
        [
            sys.executable,
            "-c",
            STANDIN_PORTAL,
            settings.model_dump_json(),
            json.dumps(vars(handle)),
        ],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert portal.stdout is not None
    with portal.stdout:
        reported = json.loads(portal.stdout.readline())
    portal.send_signal(signal.SIGKILL)
    portal.wait()
    return reported["pid"], reported["pid_started"]


async def test_the_agent_survives_the_portal_being_killed(provisioner: LocalProvisioner) -> None:
    handle = await provisioner.allocate(new_handle("local"), set())

    handle.pid, handle.pid_started = create_in_a_portal_that_then_dies(provisioner.settings, handle)

    assert procinfo.is_same_process(handle.pid, handle.pid_started)
    await provisioner.configure(handle, sample_challenge(), Lines())
    assert await provisioner.status(handle) == WorkspaceState.RUNNING
    pid = handle.pid
    adopted = await provisioner.create(handle, sample_challenge(), Lines())
    assert adopted.pid == pid


async def test_configure_reports_an_agent_that_died_with_its_log(
    provisioner: LocalProvisioner,
) -> None:
    handle = await started(provisioner, configure=False)
    assert handle.pid is not None
    # The agent refuses two equal tokens: it exits at once, saying so in its log.
    os.kill(handle.pid, signal.SIGKILL)
    where = layout(provisioner, handle)
    where.portal_token.write_text(where.agent_token.read_text())
    assert handle.uid is not None
    handle.pid, handle.pid_started = provisioner._spawn(where, handle.uid)

    with pytest.raises(ProvisionError, match="exited before it was healthy") as failure:
        await provisioner.configure(handle, sample_challenge(), Lines())

    assert "hold the same token" in str(failure.value)


async def test_create_refuses_a_uid_another_workspace_holds(
    provisioner: LocalProvisioner,
) -> None:
    first = await started(provisioner, configure=False)
    second = await provisioner.allocate(new_handle("local"), set())
    assert second.uid == first.uid

    with pytest.raises(ProvisionError, match="already belongs to workspace"):
        await provisioner.create(second, sample_challenge(), Lines())

    assert await provisioner.status(first) != WorkspaceState.GONE
    assert procinfo.is_same_process(first.pid, first.pid_started)


async def test_a_root_the_workspace_uids_cannot_reach_is_refused(tmp_path: Path) -> None:
    hidden = Path(tempfile.mkdtemp(prefix="pqw-private-", dir="/tmp"))  # mode 0700
    try:
        provisioner = LocalProvisioner(local_settings(tmp_path, hidden / "workspaces"))
        handle = await provisioner.allocate(new_handle("local"), set())

        with pytest.raises(ProvisionError, match="not searchable by other users"):
            await provisioner.create(handle, sample_challenge(), Lines())
    finally:
        shutil.rmtree(hidden)


async def test_destroy_removes_the_cgroup_slot_a_killed_agent_left(
    backend: Backend, provisioner: LocalProvisioner
) -> None:
    handle = await started(provisioner)
    async with provisioner.agent_client(handle) as client:
        ran = await client.post("/runs", json={"command": ["true"]})
    assert ran.status_code == 200
    slot = f"{AGENT_CGROUP_NAME}-{handle.name}"
    await backend.kill_agent(handle)  # it cannot clean up after SIGKILL

    assert await provisioner.destroy(handle, None, Lines())

    assert [base / slot for base in discover().values() if (base / slot).exists()] == []


async def test_list_owned_ignores_folders_that_are_not_labelled_workspaces(
    provisioner: LocalProvisioner,
) -> None:
    handle = await started(provisioner, configure=False)
    root = provisioner.root
    (root / "pq-nolabel").mkdir()
    (root / "unrelated").mkdir()
    (root / "pq-wronglabel").mkdir()
    (root / "pq-wronglabel" / "owner.json").write_text('{"interview_id": "x", "name": "pq-x"}')

    owned = await provisioner.list_owned()

    assert [o.name for o in owned] == [handle.name]


async def test_an_invalid_name_never_becomes_a_path(provisioner: LocalProvisioner) -> None:
    for name in ("pq-../../etc", "other-name", "pq-" + "x" * 80, "pq-a/b"):
        with pytest.raises(ProvisionError, match="invalid workspace name"):
            await provisioner.allocate(Handle("i", "local", name), set())
