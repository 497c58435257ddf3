"""The sandbox the workspace agent uses: start candidate commands in one workspace.

Safe mode (the default) needs bubblewrap with unprivileged user namespaces and the cgroup v1
memory, pids and cpuacct controllers; without them a run fails to start (fail closed) and
`prequel doctor` says what is missing. Unsafe mode (PREQUEL_UNSAFE_SANDBOX=1) falls back to
running commands directly with rlimits (and cgroups, where they work), and says so loudly on
every run: the code then sees the whole host filesystem and network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prequel.sandbox.bwrap import (
    SANDBOX_WORKSPACE,
    Bind,
    BwrapCommand,
    check_binds,
    child_setup,
    group_text,
    hosts_text,
    passwd_text,
    rlimits,
    sandbox_env,
    setpriv_path,
)
from prequel.sandbox.cgroups import REQUIRED, SLOT_NAME, CgroupError, CgroupRun, CgroupSlot
from prequel.sandbox.limits import DEFAULT_LIMITS, Limits
from prequel.sandbox.outcome import Outcome
from prequel.sandbox.process import SandboxProcess, Spawned
from prequel.sandbox.spawn import Plumbing, Stub, become_subreaper, spawn_direct

if TYPE_CHECKING:
    from prequel.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_TERM = "xterm-256color"


class Sandbox:
    """Runs commands for one workspace as one unprivileged uid, each in a fresh sandbox.

    Between runs it keeps `spares` launchers waiting (see spawn.py), so a run starts in a few
    milliseconds. Call close() when the workspace goes away.
    """

    def __init__(
        self,
        workspace: Path,
        *,
        uid: int | None = None,
        gid: int | None = None,
        slot: str,
        unsafe: bool = False,
        bwrap_path: str = "bwrap",
        cgroup_name: str = "prequel",
        spares: int = 1,
    ) -> None:
        euid = os.geteuid()
        if uid is None:
            if euid == 0:
                raise ValueError("running as root: pass the workspace's unprivileged uid")
            uid, gid = euid, os.getegid() if gid is None else gid
        gid = uid if gid is None else gid
        if uid == 0 or gid == 0:
            raise ValueError("candidate code never runs as uid or gid 0")
        if euid not in (0, uid):
            raise ValueError(f"only root can run commands as uid {uid} (we are {euid})")
        self.workspace = Path(workspace)
        self.uid, self.gid = uid, gid
        self.slot_name = f"{cgroup_name}-{slot}"
        if not SLOT_NAME.match(self.slot_name):
            raise ValueError(f"invalid slot name {self.slot_name!r}: letters, digits, _ . - only")
        self.unsafe = unsafe
        # Resolved now: the sandbox's launchers run with a fixed PATH, not the agent's.
        self.bwrap_path = shutil.which(bwrap_path) or bwrap_path
        self.spares = spares
        self._slot: CgroupSlot | None = None
        self._bwrap_works: bool | None = None if unsafe else True
        self._processes: set[SandboxProcess] = set()
        self._spares: list[Stub] = []
        self._background: set[asyncio.Future[None]] = set()
        self._closed = False

    @classmethod
    def from_settings(
        cls, settings: Settings, workspace: Path, *, slot: str, uid: int | None = None
    ) -> Sandbox:
        return cls(
            workspace,
            uid=uid,
            slot=slot,
            unsafe=settings.unsafe_sandbox,
            bwrap_path=settings.sandbox.bwrap_path,
            cgroup_name=settings.sandbox.cgroup_name,
        )

    # Public API ----------------------------------------------------------------------------

    async def start(
        self,
        argv: Sequence[str],
        limits: Limits,
        *,
        env: Mapping[str, str] | None = None,
        extra_ro_binds: Iterable[tuple[Path, str]] = (),
        rw_binds: Iterable[tuple[Path, str]] = (),
        pty: bool = False,
        workdir: str = SANDBOX_WORKSPACE,
        workspace: Path | None = None,
        term: str | None = None,
        time_limits: bool | None = None,
    ) -> SandboxProcess:
        """Start `argv` in a fresh sandbox. Problems starting it come back as a process whose
        wait() reports FAILED_TO_START, so callers have one path for every outcome.

        `workspace` replaces the bound workspace for this run (e.g. a throwaway copy for
        hidden tests). Bind sources must be reachable by the workspace uid: bwrap opens them
        as that uid. Terminal (pty) runs have no wall or CPU limit unless `time_limits`.
        """
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        try:
            run = _Run.checked(
                argv,
                limits,
                env=sandbox_env(env, term or (DEFAULT_TERM if pty else None)),
                binds=[(s, d, False) for s, d in extra_ro_binds]
                + [(s, d, True) for s, d in rw_binds],
                workspace=workspace if workspace is not None else self.workspace,
                workdir=workdir,
                pty=pty,
                time_limits=not pty if time_limits is None else time_limits,
            )
        except ValueError as error:  # BindError included
            return SandboxProcess.failed(limits, str(error))
        use_bwrap = await self._use_bwrap()
        if use_bwrap and not become_subreaper():
            log.warning("cannot become a child subreaper: sandbox inits are left to PID 1")
        if not use_bwrap:
            log.warning(
                "UNSAFE SANDBOX: bubblewrap is unavailable, running %r with rlimits only: "
                "it can read the host's files and reach its network",
                run.argv[0],
            )
        try:
            run.cgroup = (
                None if use_bwrap and not pty and self._has_spare() else self._new_cgroup(limits)
            )
            spawned = self._spawn(run, use_bwrap)
        except CgroupError as error:
            return SandboxProcess.failed(limits, f"{error} (run `prequel doctor`)")
        except (OSError, subprocess.SubprocessError) as error:
            if run.cgroup is not None:
                await run.cgroup.release()
            return SandboxProcess.failed(limits, f"cannot start {run.argv[0]!r}: {error}")
        finally:
            if use_bwrap:
                asyncio.get_running_loop().call_soon(self._refill)
        process = SandboxProcess(
            spawned, limits, time_limits=run.time_limits, on_finish=self._processes.discard
        )
        self._processes.add(process)
        return process

    async def run(
        self,
        argv: Sequence[str],
        limits: Limits,
        *,
        stdin: bytes = b"",
        env: Mapping[str, str] | None = None,
        extra_ro_binds: Iterable[tuple[Path, str]] = (),
        rw_binds: Iterable[tuple[Path, str]] = (),
        workdir: str = SANDBOX_WORKSPACE,
        workspace: Path | None = None,
    ) -> Outcome:
        """Run to the end with `stdin` as the whole input."""
        process = await self.start(
            argv,
            limits,
            env=env,
            extra_ro_binds=extra_ro_binds,
            rw_binds=rw_binds,
            workdir=workdir,
            workspace=workspace,
        )
        if process.done:
            return await process.wait()
        feeder = asyncio.ensure_future(self._feed(process, stdin))
        try:
            return await process.wait()
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder

    async def close(self) -> None:
        """Stop every run still going, dismiss the spare launchers, remove the cgroups."""
        self._closed = True
        await asyncio.gather(*(p.stop() for p in list(self._processes)))
        spares, self._spares = self._spares, []
        for stub in spares:
            stub.dismiss()
        await asyncio.gather(*(self._reap(stub) for stub in spares), *self._background)
        if self._slot is not None:
            with contextlib.suppress(CgroupError, OSError):
                await self._slot.remove()
            self._slot = None

    @property
    def slot(self) -> CgroupSlot:
        """The workspace's cgroups (created on first use)."""
        if self._slot is None or not self._slot.complete:
            self._slot = CgroupSlot.open(self.slot_name, owner_uid=self.uid, owner_gid=self.gid)
        return self._slot

    def prespawn(self) -> None:
        """Start the spare launchers now rather than at the first run."""
        self._refill()

    def spare_pids(self) -> set[int]:
        """Process ids of the waiting launchers (they run as us, not as the workspace uid)."""
        return {stub.popen.pid for stub in self._spares}

    # Internals -----------------------------------------------------------------------------

    @staticmethod
    async def _feed(process: SandboxProcess, data: bytes) -> None:
        if data:
            await process.write_stdin(data)
        await process.close_stdin()

    def _has_spare(self) -> bool:
        return any(stub.alive for stub in self._spares)

    def _new_cgroup(self, limits: Limits) -> CgroupRun | None:
        slot = self.slot
        if slot.complete:
            return slot.acquire(memory_bytes=limits.memory_bytes, processes=limits.processes)
        missing = [c for c in REQUIRED if c not in slot.dirs]
        if not self.unsafe:
            raise CgroupError(f"cgroup controllers unavailable: {', '.join(missing)}")
        log.warning(
            "UNSAFE SANDBOX: cgroup controllers %s unavailable: no memory, process or "
            "CPU-tree limits for this run",
            ", ".join(missing),
        )
        return None

    async def _use_bwrap(self) -> bool:
        if self._bwrap_works is None:
            self._bwrap_works = await asyncio.to_thread(self._probe_bwrap)
        return self._bwrap_works

    def _probe_bwrap(self) -> bool:
        argv = [self.bwrap_path, "--unshare-all", "--unshare-user", "--die-with-parent"]
        argv += ["--ro-bind", "/", "/", "--", "/bin/true"]
        if os.geteuid() == 0:
            argv = [setpriv_path(), f"--reuid={self.uid}", f"--regid={self.gid}", "--", *argv]
        try:
            done = subprocess.run(argv, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0

    def _etc_files(self) -> list[bytes]:
        return [passwd_text(self.uid, self.gid), group_text(self.gid), hosts_text()]

    def _bwrap_argv(self, plumbing: Plumbing, run: _Run) -> list[str]:
        assert plumbing.data is not None and plumbing.status_child is not None
        return BwrapCommand(
            bwrap=self.bwrap_path,
            workspace=run.workspace,
            limits=run.limits,
            argv=run.argv,
            env=run.env,
            data=plumbing.data,
            status_fd=plumbing.status_child,
            drop_to=(self.uid, self.gid) if os.geteuid() == 0 else None,
            binds=run.binds,
            workdir=run.workdir,
            new_session=not run.pty,
        ).build()

    def _spawn(self, run: _Run, use_bwrap: bool) -> Spawned:
        limits = rlimits(run.limits, cpu=run.time_limits)
        if use_bwrap and not run.pty:
            stub = self._take_spare()
            if stub is not None:
                run.cgroup = stub.cgroup
                with contextlib.suppress(CgroupError):  # then go the direct way
                    stub.cgroup.prepare(
                        memory_bytes=run.limits.memory_bytes, processes=run.limits.processes
                    )
                    if stub.launch(self._bwrap_argv(stub.plumbing, run), limits):
                        return self._spawned(stub.popen, stub.plumbing, run, sandboxed=True)
                stub.dismiss()
                self._reap_later(stub)
                run.cgroup = self._new_cgroup(run.limits)
        cgroup = run.cgroup
        setup = child_setup(
            cgroup.procs_files if cgroup is not None else [], limits, controlling_tty=run.pty
        )
        plumbing = Plumbing.create(pty=run.pty, etc_files=self._etc_files() if use_bwrap else None)
        try:
            if use_bwrap:
                popen = spawn_direct(self._bwrap_argv(plumbing, run), plumbing, setup)
            else:
                popen = self._spawn_unsafe(run, plumbing, setup)
        except BaseException:
            plumbing.close_all()
            raise
        return self._spawned(popen, plumbing, run, sandboxed=use_bwrap)

    @staticmethod
    def _spawned(
        popen: subprocess.Popen[bytes], plumbing: Plumbing, run: _Run, *, sandboxed: bool
    ) -> Spawned:
        return Spawned(
            popen=popen,
            stdin=plumbing.stdin,
            outputs=plumbing.outputs,
            status=plumbing.status,
            cgroup=run.cgroup,
            pty=run.pty,
            sandboxed=sandboxed,
        )

    def _spawn_unsafe(
        self, run: _Run, plumbing: Plumbing, setup: Callable[[], None]
    ) -> subprocess.Popen[bytes]:
        """No namespaces: sandbox paths in the command and environment are rewritten to the
        host paths they would have been mounted from (best effort)."""
        mounts = sorted(
            [(SANDBOX_WORKSPACE, run.workspace), *((b.dest, b.source) for b in run.binds)],
            key=lambda m: -len(m[0]),
        )

        def host(text: str) -> str:
            for dest, source in mounts:
                text = text.replace(dest, str(source))
            return text

        return spawn_direct(
            [host(a) for a in run.argv],
            plumbing,
            setup,
            env={k: host(v) for k, v in run.env.items()},
            cwd=host(run.workdir),
            user=(self.uid, self.gid) if os.geteuid() == 0 else None,
        )

    # Prespawned stubs ----------------------------------------------------------------------

    def _take_spare(self) -> Stub | None:
        while self._spares:
            stub = self._spares.pop(0)
            if stub.alive:
                return stub
            stub.dismiss()
            self._reap_later(stub)
        return None

    def _refill(self) -> None:
        """Keep `spares` stubs waiting (called soon after each start, off its path)."""
        if self._closed or not self.slot.complete:
            return
        try:
            while len(self._spares) < self.spares:
                cgroup = self.slot.acquire(
                    memory_bytes=DEFAULT_LIMITS.memory_bytes, processes=DEFAULT_LIMITS.processes
                )
                plumbing = Plumbing.create(pty=False, etc_files=self._etc_files())
                try:
                    self._spares.append(Stub.spawn(cgroup, plumbing))
                except BaseException:
                    plumbing.close_all()
                    raise
        except (OSError, CgroupError, subprocess.SubprocessError) as error:
            log.warning("cannot prespawn a sandbox launcher: %s", error)

    def _reap_later(self, stub: Stub) -> None:
        task = asyncio.ensure_future(self._reap(stub))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _reap(stub: Stub) -> None:
        for _ in range(500):
            if stub.popen.poll() is not None:
                break
            await asyncio.sleep(0.01)
        else:
            stub.popen.kill()
            stub.popen.wait()
        await stub.cgroup.release()


@dataclass
class _Run:
    """One start request, validated."""

    argv: list[str]
    limits: Limits
    env: dict[str, str]
    binds: list[Bind]
    workspace: Path
    workdir: str
    pty: bool
    time_limits: bool
    cgroup: CgroupRun | None = None

    @classmethod
    def checked(
        cls,
        argv: Sequence[str],
        limits: Limits,
        *,
        env: dict[str, str],
        binds: Iterable[tuple[Path, str, bool]],
        workspace: Path,
        workdir: str,
        pty: bool,
        time_limits: bool,
    ) -> _Run:
        """Validate a start request; ValueError says what is wrong with it."""
        if not argv or any("\0" in arg for arg in argv):
            raise ValueError("empty command or NUL byte in an argument")
        # Absolute paths: bwrap and its launchers run from "/", not from our directory.
        root = Path(os.path.abspath(workspace))
        if not root.is_dir():
            raise ValueError(f"workspace {root} is not a directory")
        checked = check_binds(
            Bind(Path(os.path.abspath(source)), dest, writable) for source, dest, writable in binds
        )
        return cls(list(argv), limits, env, checked, root, workdir, pty, time_limits)
