"""cgroup v1 slots and run groups on the real hierarchies."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prequel.sandbox.bwrap import child_setup
from prequel.sandbox.cgroups import OPTIONAL, REQUIRED, CgroupError, CgroupSlot, discover
from prequel.sandbox.limits import MIB
from tests.sandbox.conftest import fail_without_sandbox


@pytest.fixture
async def slot(uid: int) -> AsyncIterator[CgroupSlot]:
    fail_without_sandbox()
    opened = CgroupSlot.open(f"cgtest-{uid}", owner_uid=uid, owner_gid=uid)
    try:
        yield opened
    finally:
        await opened.remove()
    assert not any(path.exists() for path in opened.dirs.values())


def test_discover_finds_our_own_cgroup_in_each_hierarchy() -> None:
    fail_without_sandbox()
    found = discover()
    assert set(REQUIRED) <= set(found)
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            own[controller] = path
    for controller in REQUIRED:
        assert found[controller].as_posix().endswith(own[controller].rstrip("/"))
        assert (found[controller] / "cgroup.procs").exists()


def test_discover_maps_a_container_sub_tree(tmp_path: Path) -> None:
    # A container that mounts only its own sub-tree of the memory hierarchy.
    mount = tmp_path / "memory"
    (mount / "job").mkdir(parents=True)
    (tmp_path / "cgroup").write_text("4:memory:/ns/job\n2:cpu,cpuacct:/\n0::/\n")
    (tmp_path / "mountinfo").write_text(
        f"35 31 0:32 /ns {mount} rw,relatime - cgroup cgroup rw,memory\n"
        f"36 31 0:33 / {tmp_path / 'cpu'} rw - cgroup cgroup rw,cpu,cpuacct\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    (tmp_path / "cpu").mkdir()
    found = discover(tmp_path / "cgroup", tmp_path / "mountinfo")
    assert found == {"memory": mount / "job", "cpu": tmp_path / "cpu", "cpuacct": tmp_path / "cpu"}


def test_cgroup_v2_only_means_missing_controllers(tmp_path: Path) -> None:
    (tmp_path / "cgroup").write_text("0::/user.slice\n")
    (tmp_path / "mountinfo").write_text("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    assert discover(tmp_path / "cgroup", tmp_path / "mountinfo") == {}
    slot = CgroupSlot.open("v2only", owner_uid=1000, owner_gid=1000, hierarchies={})
    assert slot.missing == (*REQUIRED, *OPTIONAL) and not slot.complete
    with pytest.raises(CgroupError, match="memory, pids, cpuacct"):
        slot.acquire(memory_bytes=64 * MIB, processes=8)


def test_slot_names_are_checked() -> None:
    with pytest.raises(CgroupError):
        CgroupSlot.open("../escape", owner_uid=1000, owner_gid=1000)


async def test_slot_is_delegated_to_the_workspace_uid(slot: CgroupSlot, uid: int) -> None:
    assert slot.complete and slot.missing == ()
    for controller, path in slot.dirs.items():
        assert path.name == f"cgtest-{uid}"
        assert path.stat().st_uid == uid
        assert (path / "cgroup.procs").stat().st_uid == uid
        # Always under our own cgroup, never at the root of the hierarchy.
        assert path.parent == discover()[controller]


async def test_run_groups_carry_limits_and_are_pooled(slot: CgroupSlot) -> None:
    run = slot.acquire(memory_bytes=64 * MIB, processes=17)
    memory, pids = run.dirs["memory"], run.dirs["pids"]
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(64 * MIB)
    assert (pids / "pids.max").read_text().strip() == "17"
    assert slot.runs() == [memory.name]
    await run.release()
    again = slot.acquire(memory_bytes=128 * MIB, processes=5)
    assert again.dirs == run.dirs  # reused: joining a fresh cgroup costs an RCU grace period
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(128 * MIB)
    assert (pids / "pids.max").read_text().strip() == "5"
    assert again.cpu_ns() == 0 and again.oom_kills() == 0 and again.pids_limit_hits() == 0


async def test_kill_empties_a_group_of_forking_processes(slot: CgroupSlot, uid: int) -> None:
    run = slot.acquire(memory_bytes=64 * MIB, processes=64)
    script = "for i in 1 2 3 4 5; do (while :; do sleep 0.01 & wait; done) & done; wait"
    process = await asyncio.create_subprocess_exec(
        *["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "sh", "-c", script],
        preexec_fn=child_setup(run.procs_files, []),
    )
    try:
        for _ in range(500):  # the shell and its five loops
            if len(run.pids()) >= 6:
                break
            await asyncio.sleep(0.01)
        assert len(run.pids()) >= 6
        assert await run.kill(reap_except={process.pid})  # asyncio waits for that one
        assert run.pids() == set()
    finally:
        await asyncio.wait_for(process.wait(), 5)
    assert process.returncode == -9
    assert run.cpu_ns() > 0
    await run.release()


async def test_removing_a_slot_kills_what_is_left(uid: int) -> None:
    fail_without_sandbox()
    slot = CgroupSlot.open(f"cgtest-rm-{uid}", owner_uid=uid, owner_gid=uid)
    run = slot.acquire(memory_bytes=64 * MIB, processes=8)
    # A detached sleep (setsid -f returns at once): nothing of ours waits for it.
    process = await asyncio.create_subprocess_exec(
        "setsid", "-f", "sleep", "60", preexec_fn=child_setup(run.procs_files, [])
    )
    assert await process.wait() == 0
    left = run.pids()
    assert len(left) == 1
    await slot.remove()
    assert all(_gone(pid) for pid in left)
    assert not any(path.exists() for path in slot.dirs.values())


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its (re)parent has yet to collect."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, ProcessLookupError):
        return True


async def test_an_existing_slot_is_reused(slot: CgroupSlot, uid: int) -> None:
    run = slot.acquire(memory_bytes=64 * MIB, processes=8)
    again = CgroupSlot.open(slot.name, owner_uid=uid, owner_gid=uid)
    assert again.dirs == slot.dirs
    assert again.runs() == []  # an empty run group left behind is cleaned up on open
    assert not run.dirs["memory"].exists()


def test_our_process_is_not_moved(slot: CgroupSlot) -> None:
    before = Path("/proc/self/cgroup").read_text()
    slot.acquire(memory_bytes=64 * MIB, processes=8)
    assert Path("/proc/self/cgroup").read_text() == before
    assert os.getpid() not in {
        int(p) for p in (slot.dirs["memory"] / "cgroup.procs").read_text().split()
    }
