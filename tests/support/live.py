"""Start the real `prequel` server as a subprocess on a free port, as `make run` does."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import uids

PREQUEL = [sys.executable, "-c", "from prequel.cli import main; main()"]


@dataclass(frozen=True)
class LivePortal:
    url: str
    email: str
    password: str
    env: dict[str, str]

    def prequel(self, *args: str) -> str:
        """Run another `prequel` command against the same data; return its stdout."""
        return run_prequel(self.env, *args)


def run_prequel(env: dict[str, str], *args: str) -> str:
    """Run one `prequel` command that must succeed; return its stdout."""
    done = subprocess.run(
        [*PREQUEL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"server exited early:\n{output}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not answer within {seconds} s") from None
            time.sleep(0.2)


@contextmanager
def live_portal(data_dir: Path, **extra_env: str) -> Iterator[LivePortal]:
    """`prequel init` (printing the admin login) then `prequel serve`, like `make run`."""
    port = free_port()
    env = {
        **os.environ,
        "PREQUEL_DATA_DIR": str(data_dir),
        "PREQUEL_PORT": str(port),
        "PREQUEL_LOG_LEVEL": "warning",
        **uids.portal_env(),
        **extra_env,
    }
    init = subprocess.run(
        [*PREQUEL, "init"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert init.returncode == 0, init.stdout + init.stderr
    url = re.search(r"ready at (\S+)", init.stdout)
    email = re.search(r"Admin email:\s+(\S+)", init.stdout)
    password = re.search(r"Admin password:\s+(\S+)", init.stdout)
    assert url and email and password, init.stdout
    with subprocess.Popen(
        [*PREQUEL, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as server:
        try:
            wait_until_serving(url.group(1), server)
            yield LivePortal(url.group(1), email.group(1), password.group(1), env)
        finally:
            server.terminate()
