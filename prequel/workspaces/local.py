"""The local provisioner: each workspace is a folder on this machine served by its own
workspace agent, a subprocess that drops to the workspace's uid and sandboxes candidate code.

Why it is shaped this way:

- Every name (folder, socket, cgroup slot) derives from the handle, so each call can be
  repeated after a crash and converges: create adopts a live agent, destroy of nothing is
  success, a retried create never touches the candidate's files.
- Agents run in a session of their own, detached from the portal: a portal that is killed
  or upgraded leaves interviews running, and the next one adopts them. A process is known by
  (pid, start time), never by pid alone, so a reused pid is neither adopted nor killed.
- The portal never reads or writes the candidate's files: starter files go in and the final
  archive comes out through the agent, exactly as with a remote backend.

The on-disk layout and its blocking file work live in local_disk.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from prequel.agent.collab.settings import STATE_DIR_ENV
from prequel.agent.config import AgentConfig
from prequel.challenges.layout import FILES_DIR
from prequel.sandbox.cgroups import CgroupError, CgroupSlot, discover
from prequel.settings import Settings
from prequel.workspaces import local_disk as disk
from prequel.workspaces import procinfo
from prequel.workspaces.base import (
    NAME_PREFIX,
    AgentEndpoint,
    ArchiveSink,
    ChallengeFiles,
    Handle,
    LogLine,
    OwnedWorkspace,
    ProvisionError,
    WorkspaceState,
)

# The agent names its cgroup slot "<cgroup_name>-<slot>"; it takes no option for the prefix.
AGENT_CGROUP_NAME = AgentConfig.cgroup_name
HEALTH_TIMEOUT = 2.0
HEALTH_POLL = 0.01
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
ARCHIVE_TIMEOUT = 120.0  # per read: a large workspace is compressed while it is sent
# The agent's environment: enough to run Python, none of the portal's secrets (a candidate's
# process shares the agent's uid, so anything in the agent's environment is theirs to read).
KEPT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH")


class LocalProvisioner:
    """Workspaces under settings.workspace_root, one agent subprocess each."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.workspace_root.absolute()

    # The protocol --------------------------------------------------------------------------

    async def allocate(self, handle: Handle, taken_uids: set[int]) -> Handle:
        disk.check_name(handle.name)
        if handle.uid is None:
            first = self.settings.sandbox.uid_base
            count = self.settings.workspaces.uid_count
            free = (uid for uid in range(first, first + count) if uid not in taken_uids)
            handle.uid = next(free, None)
            if handle.uid is None:
                raise ProvisionError(
                    f"all {count} workspace uids from {first} are in use; raise "
                    "PREQUEL_WORKSPACES__UID_COUNT or destroy finished workspaces"
                )
        if handle.endpoint is None:
            handle.endpoint = f"unix:{disk.socket_path(self.root, handle.name)}"
        return handle

    async def create(self, handle: Handle, challenge: ChallengeFiles, log: LogLine) -> Handle:
        layout = self._layout(handle)
        uid = self._uid(handle)
        running = self._agent_process(handle, layout)
        if running is not None and await self._healthy(handle):
            handle.pid, handle.pid_started = running
            await log(f"agent already running (pid {running[0]}); adopted it")
            return handle
        await asyncio.to_thread(self._check_uid_is_ours, handle.name, uid)
        # Whatever is left of an earlier attempt (an agent that never became healthy, stray
        # processes of the uid) goes before anything is rewritten.
        await self._stop(handle, layout)
        await asyncio.to_thread(self._prepare, handle, layout, uid, challenge)
        await log("workspace folder ready")
        await self._start(handle, layout, uid)
        await log(f"agent started (pid {handle.pid})")
        return handle

    async def configure(self, handle: Handle, challenge: ChallengeFiles, log: LogLine) -> None:
        layout = self._layout(handle)
        await self._wait_healthy(handle, layout)
        await log("agent healthy")
        copied = kept = 0
        files = await asyncio.to_thread(disk.starter_files, layout, FILES_DIR)
        async with self.agent_client(handle) as client:
            for path, source in files:
                content = await asyncio.to_thread(source.read_bytes)
                # Without ?overwrite the agent only creates: a file the candidate already has
                # (a retried configure) answers 409 exists and is kept as it is.
                response = await client.post(f"/upload/{quote(path)}", content=content)
                if response.status_code == 201:
                    copied += 1
                elif response.status_code == 409 and _error_code(response) == "exists":
                    kept += 1
                else:
                    raise ProvisionError(
                        f"the agent refused starter file {path}: "
                        f"{response.status_code} {response.text[:300]}"
                    )
        await log(f"{copied} starter files copied" + (f", {kept} already there" if kept else ""))

    async def status(self, handle: Handle) -> WorkspaceState:
        layout = self._layout(handle)
        if not layout.dir.is_dir():
            return WorkspaceState.GONE
        if self._agent_process(handle, layout) is None:
            return WorkspaceState.EXITED
        return WorkspaceState.RUNNING if await self._healthy(handle) else WorkspaceState.STARTING

    async def destroy(self, handle: Handle, archive: ArchiveSink | None, log: LogLine) -> bool:
        self._complete_from_label(handle)
        layout = self._layout(handle)
        if not layout.dir.is_dir():
            # Finish what a destroy that crashed after removing the folder left behind.
            await self._stop(handle, layout)
            await self._remove_leftovers(handle, layout)
            return False
        if archive is not None and layout.workspace.is_dir():
            await self._archive(handle, layout, archive, log)
        await self._stop(handle, layout)
        await log("agent stopped")
        await self._remove_leftovers(handle, layout)
        await asyncio.to_thread(disk.remove_tree, layout.dir)
        handle.pid = handle.pid_started = None
        await log("workspace removed")
        return True

    async def list_owned(self) -> list[OwnedWorkspace]:
        owned: list[OwnedWorkspace] = []
        for folder in await asyncio.to_thread(self._labelled_folders):
            label = disk.read_label(folder)
            if label is None:
                continue
            handle = Handle(
                interview_id=label.interview_id,
                backend=self.name,
                name=label.name,
                uid=label.uid,
                endpoint=label.endpoint,
            )
            state = await self.status(handle)
            owned.append(OwnedWorkspace(label.name, label.interview_id, state))
        return owned

    def agent_client(self, handle: Handle, *, timeout: float = 30.0) -> httpx.AsyncClient:
        layout = self._layout(handle)
        token = disk.read_token(layout.portal_token)
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(layout.socket)),
            base_url="http://agent",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def agent_endpoint(self, handle: Handle) -> AgentEndpoint:
        layout = self._layout(handle)
        return AgentEndpoint(
            token=disk.read_token(layout.portal_token), unix_socket=str(layout.socket)
        )

    async def close(self) -> None:
        """Nothing to release: agents outlive the portal on purpose, clients are per call."""

    # Where things are ---------------------------------------------------------------------

    def _layout(self, handle: Handle) -> disk.Layout:
        disk.check_name(handle.name)
        # The recorded endpoint wins: the fallback folder depends on TMPDIR, which a
        # restarted portal may see differently.
        if handle.endpoint is not None and handle.endpoint.startswith("unix:"):
            socket = Path(handle.endpoint.removeprefix("unix:"))
        else:
            socket = disk.socket_path(self.root, handle.name)
        return disk.Layout(dir=self.root / handle.name, socket=socket)

    def _complete_from_label(self, handle: Handle) -> None:
        """The reconciler destroys orphans knowing only their name; the label has the rest."""
        if handle.uid is not None and handle.endpoint is not None:
            return
        disk.check_name(handle.name)
        label = disk.read_label(self.root / handle.name)
        if label is not None:
            handle.uid = handle.uid if handle.uid is not None else label.uid
            handle.endpoint = handle.endpoint or label.endpoint

    def _uid(self, handle: Handle) -> int:
        if handle.uid is None:
            raise ProvisionError(f"workspace {handle.name} has no uid; call allocate first")
        if os.geteuid() != 0:
            raise ProvisionError(
                "the local backend runs every workspace as a uid of its own and needs root; "
                "start the portal (or worker) as root"
            )
        return handle.uid

    def _labelled_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(
            entry
            for entry in self.root.iterdir()
            if entry.name.startswith(NAME_PREFIX) and entry.is_dir() and not entry.is_symlink()
        )

    def _check_uid_is_ours(self, name: str, uid: int) -> None:
        """Refuse a uid another workspace under this root holds: stopping this one kills
        every process of its uid, and the uid is what keeps workspaces apart. (The database
        hands out unique uids; two portals sharing a root with different databases do not.)"""
        for folder in self._labelled_folders():
            label = disk.read_label(folder)
            if folder.name != name and label is not None and label.uid == uid:
                raise ProvisionError(f"uid {uid} already belongs to workspace {folder.name}")

    def _known_processes(self, handle: Handle, layout: disk.Layout) -> Iterator[tuple[int, int]]:
        """(pid, start time) pairs that may name this workspace's agent: the handle's, and
        the pid file's (written at every start, so it survives a handle that was not saved)."""
        if handle.pid is not None and handle.pid_started is not None:
            yield handle.pid, handle.pid_started
        recorded = disk.read_pid_file(layout)
        if recorded is not None:
            yield recorded

    def _agent_process(self, handle: Handle, layout: disk.Layout) -> tuple[int, int] | None:
        """The agent's (pid, start time) if it is alive."""
        for pid, started in self._known_processes(handle, layout):
            if procinfo.is_same_process(pid, started):
                return pid, started
            procinfo.reap(pid, started)  # our own child that died: free its pid
        return None

    # Starting and stopping ----------------------------------------------------------------

    def _prepare(
        self, handle: Handle, layout: disk.Layout, uid: int, challenge: ChallengeFiles
    ) -> None:
        disk.ensure_root(self.root)
        disk.prepare_folders(layout, uid)
        disk.write_label(layout, handle.interview_id, uid, f"unix:{layout.socket}")
        disk.install_challenge(
            layout, challenge.bundle, challenge.version, uid, self.settings.challenges
        )
        disk.ensure_tokens(layout)

    async def _start(self, handle: Handle, layout: disk.Layout, uid: int) -> None:
        handle.pid, handle.pid_started = await asyncio.to_thread(self._spawn, layout, uid)
        handle.endpoint = f"unix:{layout.socket}"

    def _spawn(self, layout: disk.Layout, uid: int) -> tuple[int, int]:
        disk.ensure_socket_dir(layout.socket, self.root)
        disk.ensure_tokens(layout)
        argv = [
            sys.executable,
            "-m",
            "prequel.agent",
            "--workspace",
            str(layout.workspace),
            "--listen",
            f"unix:{layout.socket}",
            "--token-file",
            str(layout.agent_token),
            "--portal-token-file",
            str(layout.portal_token),
            "--user",
            f"{uid}:{uid}",
            "--slot",
            layout.dir.name,
        ]
        if layout.challenge.is_dir():
            argv += ["--challenge-dir", str(layout.challenge)]
        if self.settings.unsafe_sandbox:
            argv.append("--unsafe-sandbox")
        environment = {key: os.environ[key] for key in KEPT_ENVIRONMENT if key in os.environ}
        environment.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        # Collaboration state outlives the agent process (and the machine's /tmp): a restarted
        # agent restores the shared document, the chat and the notes from there.
        environment[STATE_DIR_ENV] = str(layout.state)
        log_fd = os.open(layout.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(log_fd, f"--- starting the agent at {time.ctime()}\n".encode())
            # posix_spawn rather than Popen: the agent is detached on purpose (a session of
            # its own, setsid), and no Popen object must outlive it or be waited for.
            pid = os.posix_spawn(
                sys.executable,
                argv,
                environment,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                ],
                setsid=True,
            )
        finally:
            os.close(log_fd)
        started = procinfo.start_time(pid)
        if started is None:  # cannot happen: an exited child stays a zombie until reaped
            raise ProvisionError(f"the agent (pid {pid}) vanished as it started")
        disk.write_pid_file(layout, pid, started)
        return pid, started

    async def _healthy(self, handle: Handle) -> bool:
        try:
            async with self.agent_client(handle, timeout=HEALTH_TIMEOUT) as client:
                response = await client.get("/health")
        except (httpx.HTTPError, ProvisionError, OSError):
            return False
        return response.status_code == 200

    async def _wait_healthy(self, handle: Handle, layout: disk.Layout) -> None:
        timeout = self.settings.workspaces.start_timeout_seconds
        deadline = time.monotonic() + timeout
        async with self.agent_client(handle, timeout=HEALTH_TIMEOUT) as client:
            while True:
                try:
                    if (await client.get("/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet
                if self._agent_process(handle, layout) is None:
                    tail = await asyncio.to_thread(disk.log_tail, layout)
                    raise ProvisionError(f"the agent exited before it was healthy:\n{tail}")
                if time.monotonic() >= deadline:
                    tail = await asyncio.to_thread(disk.log_tail, layout)
                    raise ProvisionError(f"the agent was not healthy after {timeout} s:\n{tail}")
                await asyncio.sleep(HEALTH_POLL)

    async def _stop(self, handle: Handle, layout: disk.Layout) -> None:
        """Stop the agent (its whole process group), then anything else still running as
        the workspace's uid: a leftover of this workspace, whatever started it."""
        for pid, started in list(self._known_processes(handle, layout)):
            if not await procinfo.terminate(pid, started, grace=STOP_GRACE):
                raise ProvisionError(f"the agent (pid {pid}) did not stop, even on SIGKILL")
        uid = handle.uid
        if uid is not None and uid != 0 and not await procinfo.kill_uid(uid):
            raise ProvisionError(f"processes of uid {uid} survived SIGKILL; retry later")

    async def _remove_leftovers(self, handle: Handle, layout: disk.Layout) -> None:
        """The agent's socket (after dropping root it cannot remove it) and its cgroup slot
        (it lives in the portal's cgroup, where only root may remove it)."""
        slot = f"{AGENT_CGROUP_NAME}-{handle.name}"
        dirs = {c: base / slot for c, base in discover().items() if (base / slot).is_dir()}
        if dirs:
            try:
                await CgroupSlot(name=slot, dirs=dirs).remove()
            except CgroupError as exc:
                raise ProvisionError(f"cannot remove the workspace's cgroups: {exc}") from exc
        disk.remove_socket(layout.socket)

    async def _archive(
        self, handle: Handle, layout: disk.Layout, archive: ArchiveSink, log: LogLine
    ) -> None:
        """Stream GET /archive into the sink. The portal never reads a workspace's disk, so
        an agent that is not running is started again just for this."""
        if self._agent_process(handle, layout) is None:
            await log("the agent is not running; starting it to take the final archive")
            await self._stop(handle, layout)
            await self._start(handle, layout, self._uid(handle))
        await self._wait_healthy(handle, layout)
        try:
            async with (
                self.agent_client(handle, timeout=ARCHIVE_TIMEOUT) as client,
                client.stream("GET", "/archive") as response,
            ):
                if response.status_code != 200:
                    body = (await response.aread())[:300].decode(errors="replace")
                    raise ProvisionError(
                        f"the agent refused the archive: {response.status_code} {body}"
                    )
                await archive(response.aiter_bytes())
        except ProvisionError:
            raise
        except Exception as exc:
            raise ProvisionError(f"archiving the workspace failed: {exc!r}") from exc
        await log("workspace archived")


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None
