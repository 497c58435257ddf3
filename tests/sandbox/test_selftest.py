"""The self-test on this machine (which CI keeps safe), and when it must say unsafe."""

from __future__ import annotations

import time

from prequel.sandbox.selftest import self_test
from tests.sandbox.conftest import fail_without_sandbox
from tests.support.uid_processes import uid_processes


async def test_this_machine_is_safe_and_the_check_is_quick(uid: int) -> None:
    fail_without_sandbox()
    started = time.monotonic()
    report = await self_test(uid=uid)
    elapsed = time.monotonic() - started
    assert report.safe, report.to_json()
    assert elapsed < 1.0
    names = [check.name for check in report.checks]
    for expected in (
        "bubblewrap",
        "unprivileged uid",
        "cgroup memory",
        "cgroup pids",
        "cgroup cpuacct",
        "sandboxed run",
        "user namespace",
        "network namespace",
        "/etc/shadow unreadable",
    ):
        assert expected in names
    assert uid_processes(uid) == []


async def test_root_as_the_sandbox_uid_is_unsafe() -> None:
    fail_without_sandbox()
    report = await self_test(uid=0)
    assert not report.safe
    assert [c.name for c in report.checks if not c.ok] == ["unprivileged uid", "sandboxed run"]


async def test_missing_bubblewrap_is_unsafe(uid: int) -> None:
    fail_without_sandbox()
    report = await self_test(uid=uid, bwrap_path="/nonexistent/bwrap")
    failed = {c.name: c for c in report.checks if not c.ok and c.required}
    assert not report.safe
    assert set(failed) == {"bubblewrap", "sandboxed run"}
    assert "make system-deps" in failed["bubblewrap"].fix
