"""A real `prequel serve` process that tests can SIGKILL and restart on the same data."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support import uids
from tests.support.live import PREQUEL, free_port, run_prequel, wait_until_serving

# Interview minutes last 0.1 s by default here, so a 60-minute take-home ends in 6 s; the
# worker's safety nets run every second or two instead of every few minutes.
FAST_WORKER = {
    "PREQUEL_ENV": "test",
    "PREQUEL_SECRET_KEY": "test-secret-key-that-is-long-enough-for-tests",
    "PREQUEL_WORKER__MINUTE_SECONDS": "0.1",
    "PREQUEL_WORKER__HEARTBEAT_SECONDS": "0.5",
    "PREQUEL_WORKER__STALE_AFTER_SECONDS": "3",
    "PREQUEL_WORKER__SWEEP_SECONDS": "2",
    "PREQUEL_WORKER__RECONCILE_SECONDS": "2",
}


class PortalProcess:
    def __init__(self, data_dir: Path, **extra_env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "PREQUEL_DATA_DIR": str(data_dir),
            "PREQUEL_PORT": str(self.port),
            "PREQUEL_LOG_LEVEL": "warning",
            **uids.portal_env(),
            **extra_env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / "serve.log"
        init = self.prequel("init")
        email = re.search(r"Admin email:\s+(\S+)", init)
        password = re.search(r"Admin password:\s+(\S+)", init)
        assert email and password, init
        self.email = email.group(1)
        self.password = password.group(1)
        token = self.prequel("admin", "token", "--email", self.email)
        found = re.search(r"(pq_\S+)", token)
        assert found, token
        self.token = found.group(1)

    def prequel(self, *args: str) -> str:
        return run_prequel(self.env, *args)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*PREQUEL, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_until_serving(self.url, self.process, seconds=60)

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no cleanup; what a power cut or OOM kill does."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cleanup_workspaces(self) -> None:
        """Stop every agent started under this data directory (tests must not leak them)."""
        self.stop()
        subprocess.run(["pkill", "-KILL", "-f", str(self.data_dir)], check=False)
        time.sleep(0.2)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )


def agent_processes(data_dir: Path) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", f"prequel.agent.*{data_dir}"], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


@contextmanager
def running_portal(**extra_env: str) -> Iterator[PortalProcess]:
    """A started portal with FAST_WORKER timings (override any with extra_env), whose agents
    are all gone when the block ends."""
    # Agents drop to a workspace uid, which must be able to reach the data directory, and
    # pytest's tmp_path is private to root; so the data lives in a folder of its own.
    base = Path(tempfile.mkdtemp(prefix="pq-portal-", dir="/tmp"))
    base.chmod(0o755)
    process = PortalProcess(base / "data", **{**FAST_WORKER, **extra_env})
    try:
        process.start()
        yield process
    finally:
        process.cleanup_workspaces()
        leaked = agent_processes(process.data_dir)
        if not leaked:
            shutil.rmtree(base, ignore_errors=True)
        assert leaked == [], f"agents left running; see {base}/serve.log"
