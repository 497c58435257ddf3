"""Processes are known by (pid, start time): parsing /proc, and stopping them safely."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from prequel.workspaces import procinfo

# A real line from /proc/PID/stat whose command name holds spaces and parentheses.
STAT = (
    "4242 (evil) name (x)) S 1 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 "
    "987654 4096 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0"
)


def test_stat_fields_are_counted_from_the_last_parenthesis() -> None:
    parsed = procinfo.parse_stat(STAT)

    assert parsed == procinfo.ProcStat(
        pid=4242, state="S", ppid=1, pgrp=4242, session=4242, started=987654
    )
    assert parsed.alive


@pytest.mark.parametrize("line", ["", "12 no parentheses S 1", "12 (short) S 1 2 3"])
def test_garbage_stat_lines_are_refused(line: str) -> None:
    with pytest.raises(ValueError, match="stat line"):
        procinfo.parse_stat(line)


def test_our_own_process_is_the_same_only_with_its_start_time() -> None:
    started = procinfo.start_time(os.getpid())

    assert started is not None
    assert procinfo.is_same_process(os.getpid(), started)
    assert not procinfo.is_same_process(os.getpid(), started + 1)
    assert not procinfo.is_same_process(None, started)
    assert not procinfo.is_same_process(os.getpid(), None)


def zombie() -> tuple[subprocess.Popen[bytes], int]:
    """A child that has exited and was not waited for."""
    child = subprocess.Popen(["true"])
    started = procinfo.start_time(child.pid)
    assert started is not None
    deadline = time.monotonic() + 10
    while procinfo.is_same_process(child.pid, started) and time.monotonic() < deadline:
        time.sleep(0.01)
    return child, started


def test_a_zombie_is_not_alive_and_reap_frees_it() -> None:
    child, started = zombie()
    stat = procinfo.read_stat(child.pid)
    assert stat is not None
    assert stat.state == "Z"

    procinfo.reap(child.pid, started)

    assert procinfo.read_stat(child.pid) is None
    child.returncode = 0  # reaped above; Popen would otherwise wait for it again


def test_reap_leaves_a_zombie_with_another_start_time_alone() -> None:
    child, started = zombie()

    procinfo.reap(child.pid, started + 1)

    assert child.wait(timeout=10) == 0  # its exit status was kept for its owner


@pytest.fixture
def group_leader() -> Iterator[subprocess.Popen[bytes]]:
    """A session leader that ignores SIGTERM and has a child of its own."""
    script = (
        "import signal, subprocess, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "subprocess.Popen(['sleep', '300']); print('ready', flush=True); time.sleep(300)"
    )
    leader = subprocess.Popen(
        [sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE
    )
    assert leader.stdout is not None
    with leader.stdout:
        assert leader.stdout.readline() == b"ready\n"
    yield leader
    if leader.poll() is None:
        leader.kill()
    leader.wait()


def living_members(group: int, patience: float = 5.0) -> list[int]:
    """Processes of the group still alive once `patience` is over (SIGKILL takes a moment)."""
    found = subprocess.run(["pgrep", "-g", str(group)], capture_output=True, text=True)
    deadline = time.monotonic() + patience
    alive = [int(pid) for pid in found.stdout.split()]
    while alive and time.monotonic() < deadline:
        time.sleep(0.01)
        alive = [pid for pid in alive if (s := procinfo.read_stat(pid)) is not None and s.alive]
    return alive


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.kill()
    process.wait()


async def test_terminate_ends_the_whole_process_group(
    group_leader: subprocess.Popen[bytes],
) -> None:
    started = procinfo.start_time(group_leader.pid)
    assert started is not None

    assert await procinfo.terminate(group_leader.pid, started, grace=0.2)

    # Gone and reaped (by terminate: it was our child), and its group with it.
    assert procinfo.read_stat(group_leader.pid) is None
    assert living_members(group_leader.pid) == []


async def test_terminate_never_signals_a_process_with_another_start_time(
    stranger: subprocess.Popen[bytes],
) -> None:
    started = procinfo.start_time(stranger.pid)
    assert started is not None

    assert await procinfo.terminate(stranger.pid, started - 1, grace=0.1)

    assert stranger.poll() is None


async def test_kill_uid_refuses_root() -> None:
    with pytest.raises(ValueError, match="root"):
        await procinfo.kill_uid(0)
