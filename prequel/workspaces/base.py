"""The provisioner protocol, in the spirit of JupyterHub's Spawner but idempotent and keyed by
interview: every call may be repeated after a crash and converges on the same world.

The caller (the operations worker) records the handle in the database *before* `create`, so a
crash at any point leaves a row naming what may exist. "Not found" is success for `destroy`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import httpx

# Every workspace carries this label (the local backend: its folder name prefix and a label
# file; Kubernetes: a pod label) so reconciliation can find the ones no live row owns.
NAME_PREFIX = "pq-"


def workspace_name(interview_id: str) -> str:
    """Deterministic, so a retried create finds what a crashed one began."""
    return f"{NAME_PREFIX}{interview_id}"


class WorkspaceState(StrEnum):
    STARTING = "starting"  # exists, agent not yet healthy
    RUNNING = "running"  # agent answers /health
    EXITED = "exited"  # the workspace exists but its agent is not running
    GONE = "gone"  # nothing left


class ProvisionError(RuntimeError):
    """The backend could not do what was asked; the message is shown in the operation log."""


@dataclass
class Handle:
    """What the database records about one workspace (table workspace_handles)."""

    interview_id: str
    backend: str
    name: str
    uid: int | None = None
    endpoint: str | None = None  # "unix:/path/agent.sock" or "http://host:port"
    pid: int | None = None
    pid_started: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentEndpoint:
    """Where a workspace's agent listens and the portal's token for it: what a client that
    httpx does not cover (the WebSocket relay) needs. Exactly one of unix_socket and base_url
    says where; `ws_url(path)` builds the URL to pass to a WebSocket client."""

    token: str = field(repr=False)
    unix_socket: str | None = None  # a unix socket path (the URL's host is then ignored)
    base_url: str | None = None  # "http://host:port"

    def ws_url(self, path_and_query: str) -> str:
        base = self.base_url or "http://agent"
        return "ws" + base.removeprefix("http").rstrip("/") + path_and_query


@dataclass(frozen=True)
class ChallengeFiles:
    """The challenge a workspace is configured with: the bundle (a .tar.gz made by
    prequel.challenges.bundle.pack) plus its version number in the library."""

    slug: str
    version: int
    bundle: bytes


@dataclass(frozen=True)
class OwnedWorkspace:
    """One workspace the backend found carrying our label."""

    name: str
    interview_id: str
    state: WorkspaceState


# Receives the final archive (.tar.gz) as a stream and returns once it is safely stored.
ArchiveSink = Callable[[AsyncIterator[bytes]], Awaitable[None]]
# One progress line for the operation log.
LogLine = Callable[[str], Awaitable[None]]


class Provisioner(Protocol):
    name: str

    async def allocate(self, handle: Handle, taken_uids: set[int]) -> Handle:
        """Fill in the handle's deterministic fields (uid, endpoint) without creating
        anything; the caller saves it before calling create."""
        ...

    async def create(self, handle: Handle, challenge: ChallengeFiles, log: LogLine) -> Handle:
        """Make the workspace and start its agent. An existing one is adopted, not doubled.
        Returns the handle with what became known (pid, start time)."""
        ...

    async def configure(self, handle: Handle, challenge: ChallengeFiles, log: LogLine) -> None:
        """Put the challenge's starter files in and wait until the agent is healthy."""
        ...

    async def status(self, handle: Handle) -> WorkspaceState: ...

    async def destroy(self, handle: Handle, archive: ArchiveSink | None, log: LogLine) -> bool:
        """Archive the workspace into `archive` (when given and it still exists), then remove
        it. Returns True when there was something to archive. Raises if the archive fails,
        leaving the workspace in place. Destroying what is already gone succeeds."""
        ...

    async def list_owned(self) -> list[OwnedWorkspace]: ...

    def agent_client(self, handle: Handle, *, timeout: float = 30.0) -> httpx.AsyncClient:
        """An HTTP client for the workspace's agent, authenticated with the portal's own
        (privileged) token; the caller closes it. See docs/agent-protocol.md."""
        ...

    def agent_endpoint(self, handle: Handle) -> AgentEndpoint:
        """Where the agent listens, with the portal's token: for WebSocket clients (the
        portal's proxy to /terminal and /collab/*). Raises OSError when the token cannot be
        read."""
        ...

    async def close(self) -> None: ...
