"""The Sandbox facade: who code runs as, failing closed, the unsafe fallback, closing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from prequel.sandbox.outcome import StopReason
from prequel.sandbox.runner import Sandbox
from prequel.settings import Settings
from tests.sandbox.conftest import TIGHT, fail_without_sandbox
from tests.support.uid_processes import uid_processes


def test_root_must_name_an_unprivileged_uid(tmp_path: Path) -> None:
    fail_without_sandbox()
    with pytest.raises(ValueError, match="unprivileged uid"):
        Sandbox(tmp_path, slot="x")
    with pytest.raises(ValueError, match="never runs as uid or gid 0"):
        Sandbox(tmp_path, uid=0, slot="x")
    with pytest.raises(ValueError, match="never runs as uid or gid 0"):
        Sandbox(tmp_path, uid=210_000, gid=0, slot="x")


def test_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        sandbox={"cgroup_name": "pq", "bwrap_path": "/usr/bin/bwrap"},
        unsafe_sandbox=True,
    )
    box = Sandbox.from_settings(settings, tmp_path, slot="w1", uid=210_000)
    assert (box.slot_name, box.bwrap_path, box.unsafe, box.uid, box.gid) == (
        "pq-w1",
        "/usr/bin/bwrap",
        True,
        210_000,
        210_000,
    )


async def test_without_bubblewrap_runs_fail_closed(workspace: Path, uid: int) -> None:
    box = Sandbox(workspace, uid=uid, slot=f"t{uid}", bwrap_path="/nonexistent/bwrap")
    try:
        outcome = await box.run(["true"], TIGHT)
    finally:
        await box.close()
    assert outcome.reason is StopReason.FAILED_TO_START
    assert "/nonexistent/bwrap" in outcome.detail


async def test_unsafe_mode_falls_back_to_rlimits_loudly(
    workspace: Path, uid: int, caplog: pytest.LogCaptureFixture
) -> None:
    box = Sandbox(workspace, uid=uid, slot=f"t{uid}", bwrap_path="/nonexistent/bwrap", unsafe=True)
    try:
        with caplog.at_level(logging.WARNING, logger="prequel.sandbox.runner"):
            outcome = await box.run(["sh", "-c", "id -u; pwd; echo $HOME"], TIGHT)
            limited = await box.run(
                ["python3", "-c", "open('big', 'wb').write(b'0' * (4 << 20))"], TIGHT
            )
    finally:
        await box.close()
    assert outcome.reason is StopReason.EXIT, outcome.to_json()
    # Still the workspace uid, with the workspace's host path standing in for /workspace.
    assert outcome.stdout.decode().split() == [str(uid), str(workspace), str(workspace)]
    assert "File too large" in limited.stderr.decode()
    unsafe = [r for r in caplog.records if "UNSAFE SANDBOX" in r.getMessage()]
    assert len(unsafe) == 2  # once per run
    assert uid_processes(uid) == []


async def test_close_stops_runs_and_removes_the_slot(workspace: Path, uid: int) -> None:
    box = Sandbox(workspace, uid=uid, slot=f"t{uid}")
    process = await box.start(["sleep", "30"], TIGHT.merged({"wall_seconds": 30}))
    slot_dirs = list(box.slot.dirs.values())
    await box.close()
    assert (await process.wait()).reason is StopReason.KILLED
    assert uid_processes(uid) == []
    assert not any(path.exists() for path in slot_dirs)
    with pytest.raises(RuntimeError, match="closed"):
        await box.start(["true"], TIGHT)


async def test_a_missing_workspace_fails_to_start(sandbox: Sandbox, sandbox_base: Path) -> None:
    outcome = await sandbox.run(["true"], TIGHT, workspace=sandbox_base / "nowhere")
    assert outcome.reason is StopReason.FAILED_TO_START
    assert outcome.detail.endswith("is not a directory")
