"""Blobs as files under one directory: the default for a single-machine install.

A key maps to the path of the same name under the root. Unlike S3, a file system cannot
hold both a blob "a" and a blob "a/b"; writing one while the other exists is a BlobError.
Errors about the store are BlobError; errors about a caller's own file (the source of
put_file, the destination of get_to_file) stay OSError, as with the S3 backend.
"""

from __future__ import annotations

import builtins
import os
import stat as stat_mode
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from prequel.storage.base import (
    BlobError,
    BlobInfo,
    BlobNotFound,
    InvalidBlobKey,
    ThreadedBlobStore,
    is_valid_key,
    iter_chunks,
    validate_key,
    validate_prefix,
    write_atomically,
)

# What the OS says when a key has no blob: nothing there, a directory there, or a blob
# where the key expects a directory ("a/b" when "a" is a blob).
_MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class LocalBlobStore(ThreadedBlobStore):
    name = "local"

    def __init__(self, root: Path) -> None:
        # Resolved once so that a root reached through a symlink (/srv/data -> /mnt/disk)
        # is the reference of the escape check rather than something it refuses.
        self.root = root.resolve()

    # Blocking halves, run in worker threads ----------------------------------------------

    def _path(self, key: str) -> Path:
        validate_key(key)
        # validate_key already rules out "..", but a symlink planted inside the root could
        # still lead elsewhere; resolving catches that too.
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidBlobKey(f"blob key {key!r} leads outside the blob directory {self.root}")
        return path

    @contextmanager
    def _store_errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise BlobError(f"cannot {action} blob {key!r} in {self.root}: {reason}") from exc

    def _put(self, key: str, data: bytes) -> BlobInfo:
        return self._write(key, (data,))

    def _write(self, key: str, chunks: Iterable[bytes]) -> BlobInfo:
        path = self._path(key)
        with self._store_errors("write", key):
            return _info(key, write_atomically(path, chunks, make_parents=True))

    def _put_file(self, key: str, source: Path) -> BlobInfo:
        self._path(key)  # refuse a bad key before touching the caller's file
        with source.open("rb") as src:
            return self._write(key, iter_chunks(src))

    def _get(self, key: str) -> bytes:
        path = self._path(key)
        with self._store_errors("read", key):
            try:
                return path.read_bytes()
            except _MISSING:
                raise BlobNotFound(key) from None

    def _get_to_file(self, key: str, dest: Path) -> BlobInfo:
        path = self._path(key)
        with self._store_errors("read", key):
            try:
                src = path.open("rb")
            except _MISSING:
                raise BlobNotFound(key) from None
        with src:
            # The open file is the snapshot we copy, even if a put replaces the blob now.
            info = os.fstat(src.fileno())
            write_atomically(dest, iter_chunks(src))
        return _info(key, info)

    def _stat(self, key: str) -> BlobInfo | None:
        path = self._path(key)
        with self._store_errors("inspect", key):
            try:
                info = path.stat()
            except _MISSING:
                return None
        return _info(key, info) if stat_mode.S_ISREG(info.st_mode) else None

    def _delete(self, key: str) -> None:
        path = self._path(key)
        with self._store_errors("delete", key):
            try:
                path.unlink()
            except _MISSING:
                return
        # Empty directories left behind would block a later blob of the same name
        # ("a" after "a/b" is gone) and slow down listings.
        directory = path.parent
        while directory != self.root and directory.is_relative_to(self.root):
            try:
                directory.rmdir()
            except OSError:
                break
            directory = directory.parent

    def _list(self, prefix: str) -> builtins.list[BlobInfo]:
        validate_prefix(prefix)
        # Walk only the deepest directory the prefix pins down: "a/b/" -> a/b, "a/bc" -> a.
        head = prefix.rpartition("/")[0]
        start = self._path(head) if head else self.root
        found: builtins.list[BlobInfo] = []
        # followlinks=False: a symlinked directory is never walked into, wherever it leads.
        for dirpath, _dirnames, filenames in os.walk(start):
            for filename in filenames:
                path = Path(dirpath, filename)
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix) or not is_valid_key(key):
                    continue  # temporary files and anything else that is not a blob
                try:
                    if path.is_symlink() and not path.resolve().is_relative_to(self.root):
                        continue
                    info = path.stat()
                except OSError:
                    continue  # deleted while we walked
                if stat_mode.S_ISREG(info.st_mode):
                    found.append(_info(key, info))
        found.sort(key=lambda blob: blob.key)
        return found


def _info(key: str, info: os.stat_result) -> BlobInfo:
    return BlobInfo(
        key=key, size=info.st_size, modified_at=datetime.fromtimestamp(info.st_mtime, tz=UTC)
    )
