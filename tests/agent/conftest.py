"""Start the real workspace agent as a subprocess on a unix socket and talk HTTP to it.

Fixtures for every agent test (runs, tests and the terminal reuse them):

- `start_agent(...)` -> RunningAgent: starts an agent and waits for its ready line; every
  agent started is stopped at teardown. Options: workspace (default: a fresh copy of the
  rate-limiter starter files), challenge (copy the challenge folder as --challenge-dir),
  user (--user), extra_args, portal (also pass a portal token).
- `agent`: one default RunningAgent.
- `client`: an httpx.AsyncClient on `agent` with the workspace token.

RunningAgent has socket_path, workspace, token, portal_token, token_file, challenge_dir,
pid, client(token=...), portal_client(), anonymous_client(), stop() and log().
"""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import pytest

from prequel.sandbox.ownership import chown_tree
from tests.support import uids

ROOT = Path(__file__).resolve().parent.parent.parent
SAMPLE = ROOT / "challenges" / "rate-limiter"
# The provisioner's entry point (the fastest); tests/agent/test_cli.py also runs `prequel agent`.
AGENT_COMMAND = [sys.executable, "-m", "prequel.agent"]
READY_PREFIX = "agent ready on "
START_TIMEOUT = 20.0


def write_token(path: Path, token: str | None = None, mode: int = 0o600) -> str:
    token = token or secrets.token_urlsafe(32)
    path.write_text(token + "\n", encoding="utf-8")
    os.chmod(path, mode)
    return token


def fresh_uid() -> int:
    """A uid of its own for one agent's workspace, with nothing of it running on the host."""
    while True:
        uid = uids.take()
        found = subprocess.run(["pgrep", "-u", str(uid)], capture_output=True, check=False)
        if found.returncode == 1:
            return uid


def short_tempdir(prefix: str = "pqa-") -> Path:
    """Unix socket paths must stay under ~100 bytes; pytest's tmp_path can be longer."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@dataclass
class RunningAgent:
    process: subprocess.Popen[bytes]
    socket_path: Path
    workspace: Path
    token: str
    portal_token: str | None
    token_file: Path
    challenge_dir: Path | None
    log_path: Path
    ready_line: str = ""
    _stopped: bool = field(default=False, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, token: str | None = None, *, timeout: float = 30) -> httpx.AsyncClient:
        """An HTTP client over the agent's socket, sending `token` (default: workspace)."""
        return self._client(token or self.token, timeout)

    def portal_client(self) -> httpx.AsyncClient:
        assert self.portal_token is not None, "started with portal=False"
        return self._client(self.portal_token, 30)

    def anonymous_client(self) -> httpx.AsyncClient:
        return self._client(None, 30)

    def _client(self, token: str | None, timeout: float) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(self.socket_path)),
            base_url="http://agent",
            headers=headers,
            timeout=timeout,
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Signal the agent and wait; returns its exit code."""
        if not self._stopped:
            self._stopped = True
            if self.process.poll() is None:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the agent ignored signal {sig}:\n{self.log()}") from None
            finally:
                if self.process.stdout is not None:
                    self.process.stdout.close()
        return self.process.returncode


def wait_ready(process: subprocess.Popen[bytes], log_path: Path) -> str:
    """The agent's ready line; fails with its log if it exits or takes too long."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the agent was not ready in {START_TIMEOUT} s")
            if selector.select(timeout=left):
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    process.wait(timeout=10)
                    log = log_path.read_text(errors="replace")
                    raise AssertionError(f"the agent exited ({process.returncode}):\n{log}")
                buffer += chunk
    line = buffer.split(b"\n", 1)[0].decode()
    assert line.startswith(READY_PREFIX), line
    return line


class StartAgent(Protocol):
    def __call__(
        self,
        *,
        workspace: Path | None = None,
        challenge: bool = True,
        user: str | None = None,
        extra_args: Sequence[str] = (),
        portal: bool = True,
        command: Sequence[str] = ...,
        sample: Path = ...,
        solution: bool = False,
    ) -> RunningAgent: ...


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[StartAgent]:
    started: list[RunningAgent] = []
    socket_dirs: list[Path] = []  # short folders under /tmp, removed at teardown

    def start(
        *,
        workspace: Path | None = None,
        challenge: bool = True,
        user: str | None = None,
        extra_args: Sequence[str] = (),
        portal: bool = True,
        command: Sequence[str] = AGENT_COMMAND,
        sample: Path = SAMPLE,
        solution: bool = False,
    ) -> RunningAgent:
        index = len(started)
        if user is None:
            home = tmp_path / f"agent{index}"
            home.mkdir()
        else:
            # The dropped uid must reach the challenge folder; pytest's tmp_path is 0700.
            home = short_tempdir("pqa-home-")
            socket_dirs.append(home)
            os.chmod(home, 0o755)  # noqa: S103
        if workspace is None:
            workspace = home / "workspace"
            shutil.copytree(sample / "files", workspace)
            if solution:
                shutil.copytree(sample / "solution", workspace, dirs_exist_ok=True)
            if user is not None:
                uid, _, gid = user.partition(":")
                chown_tree(workspace, int(uid), int(gid or uid))
        token_file = home / "token"
        token = write_token(token_file)
        args = [*command, "--workspace", str(workspace), "--token-file", str(token_file)]
        portal_token = None
        if portal:
            portal_token = write_token(home / "portal-token")
            args += ["--portal-token-file", str(home / "portal-token")]
        challenge_dir = None
        if challenge:
            challenge_dir = home / "challenge"
            shutil.copytree(sample, challenge_dir)
            (challenge_dir / "version").write_text("7\n")
            args += ["--challenge-dir", str(challenge_dir)]
        if user is not None:
            args += ["--user", user]
        socket_dir = short_tempdir()
        socket_dirs.append(socket_dir)
        socket_path = socket_dir / "agent.sock"
        args += ["--listen", f"unix:{socket_path}", *extra_args]
        log_path = home / "agent.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, cwd=home)
        running = RunningAgent(
            process=process,
            socket_path=socket_path,
            workspace=workspace,
            token=token,
            portal_token=portal_token,
            token_file=token_file,
            challenge_dir=challenge_dir,
            log_path=log_path,
        )
        started.append(running)
        running.ready_line = wait_ready(process, log_path)
        return running

    yield start
    for running in started:
        running.stop()
    for socket_dir in socket_dirs:
        shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture
def agent(start_agent: StartAgent) -> RunningAgent:
    return start_agent()


@pytest.fixture
async def client(agent: RunningAgent) -> AsyncIterator[httpx.AsyncClient]:
    async with agent.client() as c:
        yield c
