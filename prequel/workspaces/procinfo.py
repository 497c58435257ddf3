"""Processes named by (pid, start time): telling them apart from reused pids, and ending them.

A pid alone is not an identity: once a process is gone its number is handed to the next one,
and a portal that restarts hours later must never adopt, or kill, a stranger. The kernel's
start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot) never changes
and is never shared by two processes with the same pid, so the pair is what the database
records and what every check here compares.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
# A zombie has exited already (only its exit status is left); "X" is dead while being reaped.
DEAD_STATES = frozenset("ZX")
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/PID/stat we use."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    started: int  # clock ticks after boot

    @property
    def alive(self) -> bool:
        return self.state not in DEAD_STATES


def parse_stat(text: str) -> ProcStat:
    """Parse one /proc/PID/stat line.

    The second field is the command name in parentheses, and that name may itself hold
    spaces and parentheses ("(a) b)"), so the fields are counted from the *last* ')'."""
    head, sep, tail = text.rpartition(")")
    if not sep or "(" not in head:
        raise ValueError(f"not a /proc stat line: {text[:80]!r}")
    pid = int(head.split("(", 1)[0])
    # tail holds fields 3 (state) onwards; field N is tail[N - 3].
    fields = tail.split()
    if len(fields) < 20:
        raise ValueError(f"short /proc stat line: {text[:80]!r}")
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        started=int(fields[19]),
    )


def read_stat(pid: int, proc: Path = PROC) -> ProcStat | None:
    """The process's stat, or None when no process has that pid."""
    if pid <= 0:
        return None
    try:
        text = (proc / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:  # no such process (or it vanished while being read)
        return None
    try:
        return parse_stat(text)
    except ValueError:
        return None


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot; None when there is none."""
    found = read_stat(pid)
    return found.started if found is not None else None


def is_same_process(pid: int | None, started: int | None) -> bool:
    """True only when `pid` names a living process that started at `started`."""
    if pid is None or started is None:
        return False
    found = read_stat(pid)
    return found is not None and found.alive and found.started == started


def reap(pid: int, started: int) -> None:
    """Collect the exit status of our own child that has died, so its pid is freed.

    Only a zombie with the expected start time is waited for: a pid that now belongs to
    another child of ours must keep its exit status for whoever waits for it."""
    found = read_stat(pid)
    if found is None or found.alive or found.started != started:
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _signal(pid: int, started: int, sig: signal.Signals, *, group: bool) -> None:
    """Send sig to the process (and its group when it leads one), if it is still the same."""
    found = read_stat(pid)
    if found is None or found.started != started:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # The group id of a group leader is its pid and is not reused while the group lives.
        if group and found.pgrp == pid:
            os.killpg(pid, sig)
        elif found.alive:
            os.kill(pid, sig)


async def _wait_gone(pid: int, started: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while is_same_process(pid, started):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True


async def terminate(pid: int, started: int, *, grace: float = 5.0, patience: float = 5.0) -> bool:
    """Stop a process and its process group: SIGTERM, up to `grace` seconds, then SIGKILL.

    Agents lead their own session (they were started with a new one), so the group also
    holds whatever helpers they forked. Returns False only when even SIGKILL did not end
    the process within `patience` seconds (stuck in the kernel)."""
    if not is_same_process(pid, started):
        reap(pid, started)
        return True
    _signal(pid, started, signal.SIGTERM, group=True)
    gone = await _wait_gone(pid, started, grace)
    # Even when the leader left on its own, stragglers of its group get SIGKILL. The zombie
    # (if it is our child) is reaped only after that, so its pid cannot be reused meanwhile.
    _signal(pid, started, signal.SIGKILL, group=True)
    if not gone:
        gone = await _wait_gone(pid, started, patience)
    reap(pid, started)
    return gone


def pids_of_uid(uid: int, proc: Path = PROC) -> list[int]:
    """Living processes whose real, effective or saved uid is `uid`."""
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # gone meanwhile
        zombie = False
        for line in status.splitlines():
            if line.startswith("State:"):
                zombie = line.split()[1:2] in (["Z"], ["X"])
            elif line.startswith("Uid:"):
                ids = line.split()[1:4]
                if not zombie and str(uid) in ids:
                    found.append(int(entry.name))
                break
    return found


async def kill_uid(uid: int, *, patience: float = 5.0) -> bool:
    """SIGKILL every process running as `uid` until none is left; False if some never went.

    Each workspace has a uid of its own, so after its agent is stopped anything still
    running as that uid is a leftover of that workspace (a detached shell, a sandboxed run
    whose supervisor died) and must not outlive it."""
    if uid == 0:
        raise ValueError("refusing to kill every process of root")
    deadline = time.monotonic() + patience
    while pids := pids_of_uid(uid):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
    return True
