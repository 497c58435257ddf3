"""The blob store port: challenge bundles, workspace archives and snapshots live here."""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

import anyio.to_thread


class BlobError(Exception):
    """Base class for blob store failures; the message is safe to show to an operator."""


class BlobNotFound(BlobError):
    def __init__(self, key: str) -> None:
        super().__init__(f"blob {key!r} does not exist")
        self.key = key


class InvalidBlobKey(BlobError):
    pass


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    modified_at: datetime


# Keys are relative, slash-separated paths of safe characters, like "history/abc/workspace.tar.gz".
_KEY_PART = re.compile(r"^[A-Za-z0-9._-]+$")


def validate_key(key: str) -> str:
    """Return the key unchanged, or raise InvalidBlobKey saying what is wrong with it."""
    if not key or len(key) > 1024:
        raise InvalidBlobKey("blob key must be 1 to 1024 characters")
    if key.startswith("/") or key.endswith("/"):
        raise InvalidBlobKey(f"blob key {key!r} must not start or end with '/'")
    for part in key.split("/"):
        if part in ("", ".", "..") or not _KEY_PART.match(part):
            raise InvalidBlobKey(
                f"blob key {key!r} has an invalid part {part!r}; use letters, digits, '.', '_', '-'"
            )
    return key


def is_valid_key(key: str) -> bool:
    """For listings, which skip what is not a blob (temporary files, folder markers)."""
    try:
        validate_key(key)
    except InvalidBlobKey:
        return False
    return True


def validate_prefix(prefix: str) -> str:
    """A listing prefix is a key or a key followed by '/', or empty for everything."""
    if prefix:
        validate_key(prefix.removesuffix("/"))
    return prefix


# Large enough to keep per-call overhead negligible, small enough to stream big archives.
CHUNK_SIZE = 1024 * 1024


def iter_chunks(file: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk


def write_atomically(
    path: Path, chunks: Iterable[bytes], *, make_parents: bool = False
) -> os.stat_result:
    """Write chunks to path so that readers see the old content or all of the new, never part.

    The temporary file sits beside the target because os.replace is atomic only within one
    file system; its name contains '~', which no blob key may, so listings never show it.
    Returns the stat of the written file (a rename keeps size and mtime).
    """
    fd, tmp = _temporary_beside(path, make_parents)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            # Without fsync, a crash shortly after the rename can leave an empty file under
            # the final name on some file systems (ext4 delalloc, XFS).
            os.fsync(out.fileno())
            info = os.fstat(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return info


def _temporary_beside(path: Path, make_parents: bool) -> tuple[int, str]:
    attempts = 3
    while True:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return tempfile.mkstemp(dir=path.parent, prefix=".", suffix="~tmp")
        except FileNotFoundError:
            # A concurrent delete may prune the folder we just made; make it again.
            attempts -= 1
            if not make_parents or attempts == 0:
                raise


@runtime_checkable
class BlobStore(Protocol):
    """Async blob store. Every backend passes tests/contracts/test_blob_store.py."""

    name: str

    async def put(self, key: str, data: bytes) -> BlobInfo:
        """Store data under key, replacing any previous blob atomically."""
        ...

    async def put_file(self, key: str, path: Path) -> BlobInfo:
        """Store a local file's content under key without reading it all into memory."""
        ...

    async def get(self, key: str) -> bytes:
        """The blob's content; BlobNotFound if missing."""
        ...

    async def get_to_file(self, key: str, path: Path) -> BlobInfo:
        """Write the blob to a local file; BlobNotFound if missing."""
        ...

    async def stat(self, key: str) -> BlobInfo | None:
        """Size and time of the blob, or None if missing."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    async def list(self, prefix: str = "") -> list[BlobInfo]:
        """Blobs whose key starts with prefix, sorted by key."""
        ...

    async def close(self) -> None:
        """Release clients and connections."""
        ...


class ThreadedBlobStore(ABC):
    """The async protocol on top of blocking implementations run in worker threads.

    Both backends do blocking I/O (files, boto3), so they implement the underscore methods
    and inherit the async surface from here.
    """

    name: str

    @abstractmethod
    def _put(self, key: str, data: bytes) -> BlobInfo: ...

    @abstractmethod
    def _put_file(self, key: str, source: Path) -> BlobInfo: ...

    @abstractmethod
    def _get(self, key: str) -> bytes: ...

    @abstractmethod
    def _get_to_file(self, key: str, dest: Path) -> BlobInfo: ...

    @abstractmethod
    def _stat(self, key: str) -> BlobInfo | None: ...

    @abstractmethod
    def _delete(self, key: str) -> None: ...

    @abstractmethod
    def _list(self, prefix: str) -> builtins.list[BlobInfo]: ...

    async def put(self, key: str, data: bytes) -> BlobInfo:
        return await anyio.to_thread.run_sync(self._put, key, data)

    async def put_file(self, key: str, path: Path) -> BlobInfo:
        return await anyio.to_thread.run_sync(self._put_file, key, path)

    async def get(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(self._get, key)

    async def get_to_file(self, key: str, path: Path) -> BlobInfo:
        return await anyio.to_thread.run_sync(self._get_to_file, key, path)

    async def stat(self, key: str) -> BlobInfo | None:
        return await anyio.to_thread.run_sync(self._stat, key)

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._delete, key)

    async def list(self, prefix: str = "") -> builtins.list[BlobInfo]:
        return await anyio.to_thread.run_sync(self._list, prefix)

    async def close(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Release clients; nothing to release by default."""
