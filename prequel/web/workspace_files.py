"""The workspace's files as the workspace page lists them, read through the workspace agent.

The portal never touches a workspace's disk: it asks the agent (docs/agent-protocol.md) with
the portal's own token, for the tree and for one file at a time. Anything that goes wrong
becomes a sentence for the page rather than an error, since the page has more to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.jobs.context import handle_from_row, load_handle
from prequel.workspaces.base import Provisioner

# Bigger files are listed but not shown in the page: a browser tab is no place for them.
SHOW_MAX_BYTES = 512 * 1024
AGENT_TIMEOUT_SECONDS = 5.0
UNREACHABLE = "The workspace is not answering right now. Reload the page in a moment."


@dataclass(frozen=True)
class FileEntry:
    path: str
    type: str  # file, dir, symlink or special
    size: int
    target: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def depth(self) -> int:
        return self.path.count("/")


@dataclass(frozen=True)
class OpenedFile:
    path: str
    size: int
    text: str | None  # None when it is not shown; `note` says why
    note: str | None = None


@dataclass
class WorkspaceFiles:
    entries: list[FileEntry] = field(default_factory=list)
    truncated: bool = False
    opened: OpenedFile | None = None
    error: str | None = None


def _entry(raw: dict[str, Any]) -> FileEntry:
    target = raw.get("target")
    return FileEntry(
        path=str(raw.get("path", "")),
        type=str(raw.get("type", "file")),
        size=int(raw.get("size") or 0),
        target=str(target) if target is not None else None,
    )


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = f"the workspace answered {response.status_code}"
    return str(message)


async def _open(client: httpx.AsyncClient, path: str) -> OpenedFile:
    response = await client.get(f"/files/{quote(path, safe='/')}")
    if response.status_code == 413:
        return OpenedFile(path, 0, None, "This file is too large to show here.")
    if response.status_code != 200:
        return OpenedFile(path, 0, None, f"This file cannot be shown: {_error_message(response)}.")
    body = response.json()
    size = int(body.get("size") or 0)
    if body.get("encoding") != "utf-8":
        return OpenedFile(path, size, None, "This is a binary file; it is not shown here.")
    if size > SHOW_MAX_BYTES:
        return OpenedFile(path, size, None, "This file is too large to show here.")
    return OpenedFile(path, size, str(body.get("content", "")))


async def read_workspace_files(
    db: AsyncSession, provisioner: Provisioner, interview_id: str, path: str | None
) -> WorkspaceFiles:
    """The tree of the interview's workspace, and the file at `path` when one is asked for."""
    row = await load_handle(db, interview_id)
    if row is None:
        return WorkspaceFiles(error=UNREACHABLE)
    try:
        client = provisioner.agent_client(handle_from_row(row), timeout=AGENT_TIMEOUT_SECONDS)
    except OSError:
        return WorkspaceFiles(error=UNREACHABLE)
    try:
        async with client:
            response = await client.get("/files", params={"versions": "false"})
            if response.status_code != 200:
                return WorkspaceFiles(error=UNREACHABLE)
            listing = response.json()
            files = WorkspaceFiles(
                entries=[_entry(raw) for raw in listing.get("entries", [])],
                truncated=bool(listing.get("truncated")),
            )
            if path:
                files.opened = await _open(client, path)
            return files
    except (httpx.HTTPError, OSError, ValueError):
        return WorkspaceFiles(error=UNREACHABLE)
