"""Provisioners under test: real backends with real agents, and teardown that proves nothing
was left running.

The contract suite (tests/contracts/test_provisioner_contract.py) and the local backend's own
tests share these. A backend joins the contract by adding a factory to BACKENDS.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prequel.challenges.bundle import pack
from prequel.settings import Settings, load_settings
from prequel.workspaces import procinfo
from prequel.workspaces.base import (
    ChallengeFiles,
    Handle,
    Provisioner,
    workspace_name,
)
from prequel.workspaces.local import LocalProvisioner
from tests.support import uids

SAMPLES = Path(__file__).resolve().parents[2] / "challenges"
UID_BLOCK = 64


@functools.cache
def sample_challenge(slug: str = "rate-limiter", version: int = 3) -> ChallengeFiles:
    return ChallengeFiles(slug=slug, version=version, bundle=pack(SAMPLES / slug))


def new_handle(backend: str) -> Handle:
    interview_id = uuid.uuid4().hex
    return Handle(interview_id=interview_id, backend=backend, name=workspace_name(interview_id))


def short_root() -> Path:
    """A workspace root every uid can traverse (pytest's tmp_path is 0700) whose socket
    paths stay short."""
    root = Path(tempfile.mkdtemp(prefix="pqw-", dir="/tmp"))
    os.chmod(root, 0o711)  # noqa: S103
    return root


def local_settings(data_dir: Path, root: Path, **overrides: Any) -> Settings:
    return load_settings(
        env="test",
        data_dir=data_dir,
        workspaces={"root": root, "uid_count": UID_BLOCK, "start_timeout_seconds": 30},
        # Each backend instance gets uids of its own (tests/support/uids.py).
        sandbox={"uid_base": uids.take(UID_BLOCK)},
        **overrides,
    )


@dataclass
class Lines:
    """A LogLine that keeps what it is told."""

    lines: list[str] = field(default_factory=list)

    async def __call__(self, line: str) -> None:
        self.lines.append(line)


@dataclass
class Backend:
    """One provisioner implementation as the contract drives it."""

    name: str
    provisioner: Provisioner
    # A second instance on the same configuration: what a restarted portal would build.
    reopen: Callable[[], Provisioner]
    # Make the workspace's agent die under it, as a crash would.
    kill_agent: Callable[[Handle], Awaitable[None]]
    # Processes of this backend instance still running (empty after a clean teardown).
    leftovers: Callable[[], list[str]]


async def kill_local_agent(handle: Handle) -> None:
    assert handle.pid is not None and handle.pid_started is not None
    os.kill(handle.pid, signal.SIGKILL)
    # It is our child: it stays a zombie (not alive) until the provisioner reaps it.
    assert await procinfo.terminate(handle.pid, handle.pid_started, grace=0.0)


def processes_mentioning(text: str) -> list[str]:
    """Living processes whose command line holds `text` (zombies have none)."""
    found = subprocess.run(["pgrep", "-af", text], capture_output=True, text=True, check=False)
    own = str(os.getpid())
    return [line for line in found.stdout.splitlines() if line.split(" ", 1)[0] != own]


@asynccontextmanager
async def local_backend(data_dir: Path, root: Path | None = None) -> AsyncIterator[Backend]:
    root = root or short_root()
    settings = local_settings(data_dir, root)
    provisioner = LocalProvisioner(settings)
    backend = Backend(
        name="local",
        provisioner=provisioner,
        reopen=lambda: LocalProvisioner(settings),
        kill_agent=kill_local_agent,
        leftovers=lambda: processes_mentioning(str(root)),
    )
    try:
        yield backend
    finally:
        try:
            await destroy_everything(provisioner)
        finally:
            await provisioner.close()
            shutil.rmtree(root, ignore_errors=True)
    assert not backend.leftovers(), f"agents left running: {backend.leftovers()}"


async def destroy_everything(provisioner: Provisioner) -> None:
    """What the reconciler does with orphans: everything the backend lists goes."""
    for owned in await provisioner.list_owned():
        handle = Handle(interview_id=owned.interview_id, backend=provisioner.name, name=owned.name)
        await provisioner.destroy(handle, None, Lines())
    assert await provisioner.list_owned() == []


BackendFactory = Callable[[Path], AbstractAsyncContextManager[Backend]]  # data_dir -> Backend
BACKENDS: dict[str, BackendFactory] = {"local": local_backend}
