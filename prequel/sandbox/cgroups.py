"""cgroup v1 groups for sandboxed runs: one slot per workspace, one child group per run.

Layout, in every hierarchy we use, always under *this* process's own cgroup (never at the root
of a hierarchy, so the limits of whatever runs Prequel still apply above ours):

    <own cgroup>/<cgroup_name>-<slot>/          the workspace's slot, owned by its uid
    <own cgroup>/<cgroup_name>-<slot>/run-...   one run: limits, accounting, kill switch

Root creates the slot and chowns it to the workspace uid, so an agent running as that uid can
create, limit, join and remove its own run groups (cgroup v1 delegation). Candidate code never
sees cgroupfs (the sandbox mounts no /sys), so it cannot raise its own limits.

cgroup v2 (unified) is not supported yet: hosts with only v2 report the controllers as
missing, and the sandbox fails closed unless run in unsafe mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import re
import secrets
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ("memory", "pids", "cpuacct")
OPTIONAL = ("freezer",)  # lets a kill stop fork races; without it we loop SIGKILL longer
SLOT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_RUN_COUNTER = itertools.count(1)


class CgroupError(RuntimeError):
    """A cgroup could not be created, limited or removed; the message says which and why."""


def discover(
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    mountinfo: Path = Path("/proc/self/mountinfo"),
) -> dict[str, Path]:
    """Controller name -> this process's own cgroup directory, for every mounted v1 controller."""
    try:
        membership = proc_cgroup.read_text()
        mounts = mountinfo.read_text()
    except OSError:
        return {}
    own: dict[str, str] = {}
    for line in membership.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[1]:  # "0::/path" is cgroup v2: not supported here
            for controller in parts[1].split(","):
                own[controller] = parts[2]
    found: dict[str, Path] = {}
    for line in mounts.splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] != "cgroup":
            continue
        root, mount_point = fields[3], _unescape(fields[4])
        for option in tail[2].split(","):
            if option not in own or option in found:
                continue
            path = own[option]
            # A container may mount only a sub-tree: the mount's root is a prefix of our path.
            if root != "/" and (path == root or path.startswith(root + "/")):
                path = path[len(root) :]
            found[option] = Path(mount_point) / path.lstrip("/")
    return {name: path for name, path in found.items() if path.is_dir()}


def _unescape(value: str) -> str:
    """mountinfo escapes spaces and a few other characters as octal (\\040)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), value)


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass
class CgroupRun:
    """The cgroups of one run: limits, accounting and a kill switch for the whole tree.

    Run groups are pooled by their slot and reused: moving a process into a *new* cgroup
    costs an RCU grace period in the kernel (milliseconds), so the launcher joins a pooled
    group ahead of time. Counters that cannot be reset are read relative to a baseline.
    """

    dirs: dict[str, Path]
    slot: CgroupSlot | None = None
    _oom_base: int = 0
    _pids_base: int = 0

    @property
    def procs_files(self) -> list[str]:
        """What a child writes "0" into before exec, to join every hierarchy."""
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def set_limits(self, *, memory_bytes: int, processes: int) -> None:
        memory = self.dirs["memory"]
        # memory+swap may never be below memory: raise it first when the limit goes up.
        memsw = memory / "memory.memsw.limit_in_bytes"
        current = _read(memory / "memory.limit_in_bytes").strip()
        order = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        if current.isdigit() and memory_bytes > int(current):
            order.reverse()
        for name in order:
            try:
                _write(memory / name, str(memory_bytes))
            except (FileNotFoundError, PermissionError):
                if memory / name != memsw:  # no swap accounting: nothing to cap
                    raise
        # Prefer not to swap at all (absent or read-only on some hosts: then fine).
        with contextlib.suppress(FileNotFoundError, PermissionError, OSError):
            _write(memory / "memory.swappiness", "0")
        _write(self.dirs["pids"] / "pids.max", str(processes))

    def prepare(self, *, memory_bytes: int, processes: int) -> None:
        """Limits and fresh accounting for the next run in this (possibly reused) group."""
        try:
            self.set_limits(memory_bytes=memory_bytes, processes=processes)
        except OSError:
            # A lower limit than what an earlier run left charged (its files' page cache):
            # drop that cache and try again.
            with contextlib.suppress(OSError):
                _write(self.dirs["memory"] / "memory.force_empty", "0")
            try:
                self.set_limits(memory_bytes=memory_bytes, processes=processes)
            except OSError as error:
                raise CgroupError(f"cannot limit run cgroup: {error}") from error
        self.start_accounting()

    def start_accounting(self) -> None:
        """Zero what can be zeroed and remember the rest, at the start of a run."""
        for path, name in (
            (self.dirs["cpuacct"], "cpuacct.usage"),
            (self.dirs["memory"], "memory.max_usage_in_bytes"),
        ):
            with contextlib.suppress(OSError):
                _write(path / name, "0")
        self._oom_base = self._oom_total()
        self._pids_base = self._pids_total()

    def cpu_ns(self) -> int:
        """CPU time of every process that ran in the group, in nanoseconds."""
        text = _read(self.dirs["cpuacct"] / "cpuacct.usage").strip()
        return int(text) if text.isdigit() else 0

    def peak_memory(self) -> int:
        text = _read(self.dirs["memory"] / "memory.max_usage_in_bytes").strip()
        return int(text) if text.isdigit() else 0

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer ended in this group during the run."""
        return self._oom_total() - self._oom_base

    def pids_limit_hits(self) -> int:
        """How many forks or thread creations pids.max refused during the run."""
        return self._pids_total() - self._pids_base

    def _oom_total(self) -> int:
        for line in _read(self.dirs["memory"] / "memory.oom_control").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def _pids_total(self) -> int:
        key, _, value = _read(self.dirs["pids"] / "pids.events").strip().partition(" ")
        return int(value) if key == "max" and value.isdigit() else 0

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            found.update(int(p) for p in _read(path / "cgroup.procs").split() if p.isdigit())
        return found

    async def kill(self, patience: float = 5.0, *, reap_except: Iterable[int] = ()) -> bool:
        """SIGKILL everything in the group until it is empty; False if it never emptied.

        With the freezer, every process is stopped first, so a fork bomb cannot make new
        processes between reading the list and signalling it. Frozen processes die once thawed.
        Killed processes that end up as our children (we are a subreaper) are reaped, except
        `reap_except`: those have a waiter of their own.
        """
        deadline = time.monotonic() + patience
        freezer = self.dirs.get("freezer")
        killed: set[int] = set()
        if not self.pids():  # the usual case after a normal exit: nothing to do
            return True
        while True:
            frozen = freezer is not None and self._freeze(freezer)
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            if frozen and freezer is not None:
                _write(freezer / "freezer.state", "THAWED")
            for _ in range(20):
                if not self.pids():
                    _reap(killed - set(reap_except))
                    return True
                await asyncio.sleep(0.005)
            if time.monotonic() > deadline:
                return False

    @staticmethod
    def _freeze(freezer: Path) -> bool:
        try:
            _write(freezer / "freezer.state", "FROZEN")
        except OSError:
            return False
        # FREEZING -> FROZEN is quick unless a task is stuck in the kernel; don't wait long,
        # the kill loop copes with stragglers anyway.
        for _ in range(50):
            if _read(freezer / "freezer.state").strip() == "FROZEN":
                break
            time.sleep(0.001)
        return True

    async def release(self) -> None:
        """The run is over: give the (empty) group back to its slot's pool, or remove it."""
        if self.slot is not None:
            await self.slot.release(self)
        else:
            await self.remove()

    async def remove(self) -> None:
        """Remove the group (after kill). A group empties a moment after its last exit."""
        for path in self.dirs.values():
            for attempt in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY or attempt == 49:
                        raise CgroupError(f"cannot remove {path}: {error.strerror}") from error
                    await asyncio.sleep(0.01)


@dataclass
class CgroupSlot:
    """One workspace's cgroups; runs are created beneath it."""

    name: str
    dirs: dict[str, Path]
    missing: tuple[str, ...] = field(default=())
    owner: tuple[int, int] | None = None  # (uid, gid) that may join runs
    max_idle: int = 4
    _idle: list[CgroupRun] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        name: str,
        *,
        owner_uid: int,
        owner_gid: int,
        hierarchies: dict[str, Path] | None = None,
    ) -> CgroupSlot:
        """Create the slot (as root: owned by owner_uid) or reuse it if it exists and is ours.

        Controllers that are not mounted, or where the slot cannot be created or written, are
        listed in `missing` rather than raising: the caller decides whether that is fatal.
        """
        if not SLOT_NAME.match(name):
            raise CgroupError(f"invalid cgroup slot name {name!r}")
        found = discover() if hierarchies is None else hierarchies
        dirs: dict[str, Path] = {}
        missing: list[str] = []
        for controller in (*REQUIRED, *OPTIONAL):
            base = found.get(controller)
            if base is None:
                missing.append(controller)
                continue
            path = base / name
            try:
                path.mkdir(exist_ok=True)
                if os.geteuid() == 0:
                    _chown_tree(path, owner_uid, owner_gid)
            except OSError:
                missing.append(controller)
                continue
            if not os.access(path, os.W_OK) or not os.access(path / "cgroup.procs", os.W_OK):
                missing.append(controller)
                continue
            dirs[controller] = path
        slot = cls(name=name, dirs=dirs, missing=tuple(missing), owner=(owner_uid, owner_gid))
        slot.remove_stale_runs()
        return slot

    @property
    def complete(self) -> bool:
        """Every required controller is usable."""
        return all(c in self.dirs for c in REQUIRED)

    def acquire(self, *, memory_bytes: int, processes: int) -> CgroupRun:
        """An empty run group with these limits, from the pool or new."""
        if not self.complete:
            raise CgroupError(
                "cgroup controllers unavailable: "
                + ", ".join(c for c in REQUIRED if c not in self.dirs)
            )
        while self._idle:
            run = self._idle.pop()
            if all(path.is_dir() for path in run.dirs.values()) and not run.pids():
                break
        else:
            run = self._create()
        run.prepare(memory_bytes=memory_bytes, processes=processes)
        return run

    def _create(self) -> CgroupRun:
        run_name = f"run-{os.getpid()}-{next(_RUN_COUNTER)}-{secrets.token_hex(3)}"
        run = CgroupRun({}, slot=self)
        try:
            for controller, path in self.dirs.items():
                child = path / run_name
                child.mkdir()
                run.dirs[controller] = child
                if os.geteuid() == 0 and self.owner is not None:
                    # A child that already dropped to the workspace uid can still join.
                    os.chown(child / "cgroup.procs", *self.owner)
        except OSError as error:
            for child in run.dirs.values():
                with contextlib.suppress(OSError):
                    child.rmdir()
            raise CgroupError(f"cannot create run cgroup {run_name}: {error}") from error
        return run

    async def release(self, run: CgroupRun) -> None:
        if run.pids() and not await run.kill():
            return  # unkillable (stuck in the kernel): leave it rather than reuse it
        if len(self._idle) < self.max_idle and run not in self._idle:
            self._idle.append(run)
        else:
            await run.remove()

    def runs(self) -> list[str]:
        """Names of run groups that currently exist under the slot (any hierarchy)."""
        names: set[str] = set()
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                names.update(p.name for p in path.iterdir() if p.is_dir())
        return sorted(names)

    def busy_runs(self) -> list[str]:
        """Run groups with a process in them (none once every run has ended)."""
        return [
            name
            for name in self.runs()
            if CgroupRun({c: p / name for c, p in self.dirs.items()}).pids()
        ]

    def remove_stale_runs(self) -> None:
        """Drop empty run groups a crashed agent left behind (busy ones stay)."""
        for name in self.runs():
            for path in self.dirs.values():
                with contextlib.suppress(OSError):
                    (path / name).rmdir()

    async def remove(self) -> None:
        """Kill whatever still runs in the slot, then remove it and its run groups."""
        self._idle.clear()
        for name in self.runs():
            run = CgroupRun({c: p / name for c, p in self.dirs.items() if (p / name).is_dir()})
            await run.kill()
            await run.remove()
        await CgroupRun(dict(self.dirs)).remove()


def _reap(pids: Iterable[int]) -> None:
    """Collect the zombies among `pids` that are our children; leave everything else."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    """Hand a cgroup directory and its control files to the workspace uid (delegation)."""
    targets: Iterable[Path] = [path, *path.iterdir()]
    for target in targets:
        if target.is_dir() and target != path:
            _chown_tree(target, uid, gid)
        else:
            os.chown(target, uid, gid)
