"""The real sandbox: bubblewrap, cgroups and a distinct unprivileged uid per test. No mocks.

These tests need root (to give each test its own uid and chown its workspace) and Debian's
bubblewrap; without either they fail with a message saying so, since CI provides both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from prequel.sandbox.limits import KIB, MIB, Limits
from prequel.sandbox.outcome import Outcome, StopReason
from prequel.sandbox.runner import Sandbox
from tests.support import uids
from tests.support.uid_processes import uid_processes

# Tight limits keep the hostile cases fast: a runaway ends within about a second.
TIGHT = Limits(
    cpu_seconds=1,
    wall_seconds=3,
    memory_bytes=64 * MIB,
    processes=32,
    file_size_bytes=1 * MIB,
    output_bytes=64 * KIB,
    tmp_bytes=4 * MIB,
)
PYTHON = "/usr/bin/python3"


def fail_without_sandbox() -> None:
    if os.geteuid() != 0:
        pytest.fail("the sandbox tests run as root: they give each test its own uid")
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is missing: install Debian's bubblewrap (make system-deps)")


@pytest.fixture(scope="session")
def sandbox_base() -> Iterator[Path]:
    """A directory every test uid can traverse (pytest's tmp_path is 0700 root)."""
    fail_without_sandbox()
    base = Path(tempfile.mkdtemp(prefix="prequel-sandbox-tests-"))
    base.chmod(0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def uid() -> int:
    """A fresh uid with no process on the host (a zombie of an earlier run, say)."""
    while True:
        candidate = uids.take()
        if not uid_processes(candidate):
            return candidate


@pytest.fixture
def workspace(sandbox_base: Path, uid: int) -> Iterator[Path]:
    path = sandbox_base / f"ws-{uid}"
    path.mkdir()
    os.chown(path, uid, uid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def sandbox(workspace: Path, uid: int) -> AsyncIterator[Sandbox]:
    box = Sandbox(workspace, uid=uid, slot=f"t{uid}")
    box.prespawn()  # so runs take the usual path, through a waiting launcher
    try:
        yield box
    finally:
        slot_dirs = list(box.slot.dirs.values())
        await box.close()
    assert uid_processes(uid) == [], "processes of the test uid outlived the sandbox"
    leftovers = [str(path) for path in slot_dirs if path.exists()]
    assert leftovers == [], f"cgroups left behind: {leftovers}"


def busy_run_cgroups(box: Sandbox) -> list[str]:
    """Run cgroups with processes in them, other than the spare launchers (root's bash)."""
    spares = box.spare_pids()
    busy = []
    for name in box.slot.runs():
        for path in box.slot.dirs.values():
            procs = (path / name / "cgroup.procs").read_text().split()
            if any(int(pid) not in spares for pid in procs):
                busy.append(f"{path / name}: {procs}")
    return busy


async def assert_contained(box: Sandbox, uid: int) -> None:
    """After a hostile run: nothing of it is left, and the workspace still works."""
    assert uid_processes(uid) == [], "a process of the sandbox uid outlived its run"
    assert busy_run_cgroups(box) == [], "a run cgroup still holds processes"
    normal = await box.run([PYTHON, "-c", "print(1)"], TIGHT)
    assert (normal.reason, normal.exit_code, normal.stdout) == (StopReason.EXIT, 0, b"1\n"), (
        normal.to_json()
    )
    assert uid_processes(uid) == []


def python(code: str) -> list[str]:
    return [PYTHON, "-c", code]


def text(outcome: Outcome) -> str:
    return (outcome.stdout + outcome.stderr).decode(errors="replace")
