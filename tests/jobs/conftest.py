"""A real `prequel serve` (with its embedded worker and local workspaces) per test."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.portal_process import PortalProcess, agent_processes

# Interview minutes last 0.1 s here, so a 60-minute take-home ends in 6 s; the worker's
# safety nets run every second or two instead of every few minutes.
FAST_WORKER = {
    "PREQUEL_ENV": "test",
    "PREQUEL_SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests",
    "PREQUEL_WORKER__MINUTE_SECONDS": "0.1",
    "PREQUEL_WORKER__HEARTBEAT_SECONDS": "0.5",
    "PREQUEL_WORKER__STALE_AFTER_SECONDS": "3",
    "PREQUEL_WORKER__SWEEP_SECONDS": "2",
    "PREQUEL_WORKER__RECONCILE_SECONDS": "2",
}


@pytest.fixture
def portal() -> Iterator[PortalProcess]:
    # Agents drop to a workspace uid, which must be able to reach the data directory, and
    # pytest's tmp_path is private to root; so the data lives in a folder of its own.
    base = Path(tempfile.mkdtemp(prefix="pq-portal-", dir="/tmp"))
    base.chmod(0o755)
    process = PortalProcess(base / "data", **FAST_WORKER)
    try:
        process.start()
        yield process
    finally:
        process.cleanup_workspaces()
        leaked = agent_processes(process.data_dir)
        if not leaked:
            shutil.rmtree(base, ignore_errors=True)
        assert leaked == [], f"agents left running; see {base}/serve.log"
