"""The Provisioner contract: every backend must pass every test here, unchanged.

Each test gets a fresh backend instance (tests/workspaces/support.py); its teardown destroys
whatever the backend still lists and fails the test if any agent is left running.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import signal
import subprocess
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.client import unix_connect as ws_unix_connect

from prequel.workspaces import procinfo
from prequel.workspaces.base import (
    Handle,
    Provisioner,
    ProvisionError,
    WorkspaceState,
)
from tests.workspaces.support import (
    BACKENDS,
    SAMPLES,
    Backend,
    Lines,
    new_handle,
    sample_challenge,
)

STARTER = "rate_limiter.py"


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with BACKENDS[request.param](tmp_path) as under_test:
        yield under_test


@pytest.fixture
def provisioner(backend: Backend) -> Provisioner:
    return backend.provisioner


async def allocate(provisioner: Provisioner) -> Handle:
    """A new handle with a uid no other workspace of this test holds (the worker passes the
    database's taken uids)."""
    taken = _TAKEN.setdefault(id(provisioner), set())
    handle = await provisioner.allocate(new_handle(provisioner.name), taken)
    if handle.uid is not None:
        taken.add(handle.uid)
    return handle


_TAKEN: dict[int, set[int]] = {}


@pytest.fixture(autouse=True)
def _forget_taken_uids() -> None:
    _TAKEN.clear()


async def running_workspace(provisioner: Provisioner, log: Lines | None = None) -> Handle:
    """allocate -> create -> configure, as the operations worker does."""
    log = log or Lines()
    handle = await allocate(provisioner)
    await provisioner.create(handle, sample_challenge(), log)
    await provisioner.configure(handle, sample_challenge(), log)
    return handle


async def write_file(provisioner: Provisioner, handle: Handle, path: str, text: str) -> None:
    async with provisioner.agent_client(handle) as client:
        response = await client.post(f"/files/{path}", json={"type": "file", "content": text})
    assert response.status_code == 201, response.text


async def read_file(provisioner: Provisioner, handle: Handle, path: str) -> str:
    async with provisioner.agent_client(handle) as client:
        response = await client.get(f"/files/{path}")
    assert response.status_code == 200, response.text
    content: str = response.json()["content"]
    return content


async def replace_file(provisioner: Provisioner, handle: Handle, path: str, text: str) -> None:
    async with provisioner.agent_client(handle) as client:
        version = (await client.get(f"/files/{path}")).json()["version"]
        response = await client.put(f"/files/{path}", json={"content": text, "version": version})
    assert response.status_code == 200, response.text


class Collect:
    """An ArchiveSink that keeps the whole stream."""

    def __init__(self) -> None:
        self.data = io.BytesIO()

    async def __call__(self, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            self.data.write(chunk)

    def members(self) -> dict[str, bytes]:
        self.data.seek(0)
        with tarfile.open(fileobj=self.data, mode="r:gz") as tar:
            return {
                m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers()
                if m.isfile()
            }


async def test_allocate_is_deterministic_skips_taken_uids_and_creates_nothing(
    provisioner: Provisioner,
) -> None:
    handle = new_handle(provisioner.name)

    first = await provisioner.allocate(copy.deepcopy(handle), set())
    again = await provisioner.allocate(copy.deepcopy(handle), set())

    assert first == again
    assert first.endpoint
    if first.uid is not None:
        other = await provisioner.allocate(copy.deepcopy(handle), {first.uid, first.uid + 1})
        assert other.uid is not None
        assert other.uid not in {first.uid, first.uid + 1}
    assert await provisioner.status(first) == WorkspaceState.GONE
    assert await provisioner.list_owned() == []


async def test_create_then_configure_runs_the_agent_with_the_starter_files_only(
    provisioner: Provisioner,
) -> None:
    log = Lines()

    handle = await running_workspace(provisioner, log)

    assert await provisioner.status(handle) == WorkspaceState.RUNNING
    async with provisioner.agent_client(handle) as client:
        tree = (await client.get("/files")).json()
        meta = (await client.get("/meta")).json()
    assert [entry["path"] for entry in tree["entries"]] == [STARTER]
    expected = (SAMPLES / "rate-limiter" / "files" / STARTER).read_text()
    assert await read_file(provisioner, handle, STARTER) == expected
    # The challenge (with its hidden tests) is known to the agent, not visible as files.
    assert meta["challenge"]["slug"] == "rate-limiter"
    assert meta["challenge"]["version"] == "3"
    assert "agent healthy" in log.lines
    assert "1 starter files copied" in log.lines


async def test_hidden_tests_are_not_reachable_through_the_workspace(
    provisioner: Provisioner,
) -> None:
    handle = await running_workspace(provisioner)

    async with provisioner.agent_client(handle) as client:
        for path in ("tests/hidden/test_hidden_rate_limiter.py", "../challenge/challenge.toml"):
            response = await client.get(f"/files/{path}")
            assert response.status_code in (400, 404), (path, response.text)


async def test_create_is_idempotent_and_adopts_the_running_agent(
    provisioner: Provisioner,
) -> None:
    handle = await running_workspace(provisioner)
    pid = handle.pid
    await replace_file(provisioner, handle, STARTER, "edited by the candidate\n")

    log = Lines()
    again = await provisioner.create(copy.deepcopy(handle), sample_challenge(), log)
    await provisioner.configure(again, sample_challenge(), log)

    assert again.pid == pid
    assert await provisioner.status(again) == WorkspaceState.RUNNING
    assert await read_file(provisioner, again, STARTER) == "edited by the candidate\n"
    assert "0 starter files copied, 1 already there" in log.lines


async def test_a_dead_agent_is_exited_and_create_restarts_it_keeping_the_files(
    backend: Backend, provisioner: Provisioner
) -> None:
    handle = await running_workspace(provisioner)
    await write_file(provisioner, handle, "notes/plan.md", "first, a deque\n")
    await replace_file(provisioner, handle, STARTER, "my solution\n")

    await backend.kill_agent(handle)

    assert await provisioner.status(handle) == WorkspaceState.EXITED
    old_pid = handle.pid
    await provisioner.create(handle, sample_challenge(), Lines())
    await provisioner.configure(handle, sample_challenge(), Lines())
    assert handle.pid != old_pid
    assert await provisioner.status(handle) == WorkspaceState.RUNNING
    assert await read_file(provisioner, handle, "notes/plan.md") == "first, a deque\n"
    assert await read_file(provisioner, handle, STARTER) == "my solution\n"


async def test_destroy_archives_first_then_the_workspace_is_gone(
    provisioner: Provisioner,
) -> None:
    handle = await running_workspace(provisioner)
    await write_file(provisioner, handle, "answer.py", "print(42)\n")
    sink = Collect()
    log = Lines()

    assert await provisioner.destroy(handle, sink, log) is True

    members = sink.members()
    assert members["answer.py"] == b"print(42)\n"
    assert STARTER in members
    assert await provisioner.status(handle) == WorkspaceState.GONE
    assert handle.name not in [owned.name for owned in await provisioner.list_owned()]
    assert log.lines.index("workspace archived") < log.lines.index("workspace removed")


async def test_destroy_archives_through_an_agent_that_had_died(
    backend: Backend, provisioner: Provisioner
) -> None:
    handle = await running_workspace(provisioner)
    await write_file(provisioner, handle, "answer.py", "print(42)\n")
    await backend.kill_agent(handle)
    sink = Collect()

    assert await provisioner.destroy(handle, sink, Lines()) is True

    assert sink.members()["answer.py"] == b"print(42)\n"
    assert await provisioner.status(handle) == WorkspaceState.GONE


async def test_destroying_what_is_gone_succeeds_and_says_so(provisioner: Provisioner) -> None:
    never_created = await allocate(provisioner)
    assert await provisioner.destroy(never_created, Collect(), Lines()) is False

    handle = await running_workspace(provisioner)
    assert await provisioner.destroy(handle, None, Lines()) is True
    assert await provisioner.destroy(handle, Collect(), Lines()) is False
    assert await provisioner.status(handle) == WorkspaceState.GONE


async def test_a_failing_archive_leaves_the_workspace_running_and_intact(
    provisioner: Provisioner,
) -> None:
    handle = await running_workspace(provisioner)
    await write_file(provisioner, handle, "answer.py", "print(42)\n")

    async def broken_sink(chunks: AsyncIterator[bytes]) -> None:
        async for _ in chunks:
            raise OSError("the blob store is full")

    with pytest.raises(ProvisionError, match="blob store is full"):
        await provisioner.destroy(handle, broken_sink, Lines())

    assert await provisioner.status(handle) == WorkspaceState.RUNNING
    assert await read_file(provisioner, handle, "answer.py") == "print(42)\n"
    sink = Collect()
    assert await provisioner.destroy(handle, sink, Lines()) is True
    assert sink.members()["answer.py"] == b"print(42)\n"
    assert await provisioner.status(handle) == WorkspaceState.GONE


async def test_list_owned_finds_workspaces_no_database_knows(backend: Backend) -> None:
    handle = await running_workspace(backend.provisioner)
    await running_workspace(backend.provisioner)
    # A restarted portal with an empty database: only the backend's own labels remain.
    restarted = backend.reopen()
    try:
        owned = {o.name: o for o in await restarted.list_owned()}
        assert len(owned) == 2
        assert owned[handle.name].interview_id == handle.interview_id
        assert owned[handle.name].state == WorkspaceState.RUNNING

        # The reconciler destroys an orphan knowing only what list_owned said.
        orphan = Handle(interview_id=handle.interview_id, backend=restarted.name, name=handle.name)
        sink = Collect()
        assert await restarted.destroy(orphan, sink, Lines()) is True
        assert STARTER in sink.members()
        assert handle.name not in {o.name for o in await restarted.list_owned()}
    finally:
        await restarted.close()


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process that has nothing to do with any workspace."""
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.send_signal(signal.SIGKILL)
    process.wait()


async def test_an_orphan_whose_agent_died_is_archived_and_destroyed_by_name(
    backend: Backend,
) -> None:
    handle = await running_workspace(backend.provisioner)
    await write_file(backend.provisioner, handle, "answer.py", "print(42)\n")
    await backend.kill_agent(handle)
    restarted = backend.reopen()
    try:
        orphan = Handle(interview_id=handle.interview_id, backend=restarted.name, name=handle.name)
        assert await restarted.status(orphan) == WorkspaceState.EXITED
        sink = Collect()

        assert await restarted.destroy(orphan, sink, Lines()) is True

        assert sink.members()["answer.py"] == b"print(42)\n"
        assert await restarted.status(orphan) == WorkspaceState.GONE
    finally:
        await restarted.close()


async def test_a_reused_pid_is_neither_adopted_nor_killed(
    provisioner: Provisioner, stranger: subprocess.Popen[bytes]
) -> None:
    started = procinfo.start_time(stranger.pid)
    assert started is not None
    handle = await allocate(provisioner)
    # What the database holds after the machine rebooted and the pid went to another.
    handle.pid, handle.pid_started = stranger.pid, started + 1

    await provisioner.create(handle, sample_challenge(), Lines())
    await provisioner.configure(handle, sample_challenge(), Lines())

    assert handle.pid != stranger.pid
    assert await provisioner.status(handle) == WorkspaceState.RUNNING
    assert await provisioner.destroy(handle, None, Lines()) is True
    assert stranger.poll() is None, "the provisioner killed a process that was not its agent"


async def test_agent_client_speaks_to_the_workspace_agent_with_privilege(
    provisioner: Provisioner,
) -> None:
    handle = await running_workspace(provisioner)

    async with provisioner.agent_client(handle, timeout=5) as client:
        assert isinstance(client, httpx.AsyncClient)
        health = await client.get("/health")
        hidden = await client.post("/tests", json={"which": "hidden"})

    assert health.status_code == 200
    # The portal's token opens the privileged endpoints (hidden tests run, and fail on the
    # unsolved starter code).
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["summary"]["which"] == "hidden"


async def test_agent_endpoint_opens_websockets_with_the_portal_token(
    provisioner: Provisioner,
) -> None:
    handle = await running_workspace(provisioner)

    endpoint = provisioner.agent_endpoint(handle)

    assert (endpoint.unix_socket is None) != (endpoint.base_url is None)
    assert endpoint.token not in repr(endpoint)
    options: dict[str, Any] = {
        "additional_headers": {
            "Authorization": f"Bearer {endpoint.token}",
            "X-Prequel-Role": "interviewer",
            "X-Prequel-User-Id": "user-1",
            "X-Prequel-User-Name": "Ida%20%C3%9Cnterviewer",
        },
        "open_timeout": 30,
    }
    url = endpoint.ws_url("/collab/chat")
    opening = (
        ws_unix_connect(endpoint.unix_socket, url, **options)
        if endpoint.unix_socket is not None
        else ws_connect(url, **options)
    )
    async with opening as ws, asyncio.timeout(30):
        hello = json.loads(await ws.recv())
    # The portal token is what makes the agent believe the identity headers.
    assert hello["user"] == {"id": "user-1", "name": "Ida Ünterviewer", "role": "interviewer"}


async def test_concurrent_creates_of_different_workspaces_do_not_interfere(
    provisioner: Provisioner,
) -> None:
    handles = [await allocate(provisioner) for _ in range(3)]

    await asyncio.gather(*(provisioner.create(h, sample_challenge(), Lines()) for h in handles))
    await asyncio.gather(*(provisioner.configure(h, sample_challenge(), Lines()) for h in handles))

    states = [await provisioner.status(h) for h in handles]
    assert states == [WorkspaceState.RUNNING] * 3
    await write_file(provisioner, handles[0], "mine.txt", "only here\n")
    async with provisioner.agent_client(handles[1]) as client:
        assert (await client.get("/files/mine.txt")).status_code == 404
