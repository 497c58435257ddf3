"""Listing the workspace: every entry with its kind, size, mtime and content version.

The walk is fd-relative like paths.py: folders are opened with O_NOFOLLOW from their parent's
fd, so a link is listed as a link (with its target text) and never descended into. Versions
are content hashes, cached by inode and change time so a listing does not re-read files that
did not change; ctime moves on every content change and cannot be set back by the candidate.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from dataclasses import dataclass
from typing import Any

from prequel.agent.paths import DIR_FLAGS, FILE_FLAGS

VERSION_CHARS = 32  # 128 bits of sha256: collisions are not a practical concern
HASH_CHUNK = 256 * 1024
MAX_WALK_DEPTH = 128


def content_version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:VERSION_CHARS]


def hash_fd(fd: int) -> str:
    digest = hashlib.sha256()
    while chunk := os.read(fd, HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()[:VERSION_CHARS]


def _stat_key(info: os.stat_result) -> tuple[int, int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class VersionCache:
    """Content versions by (device, inode, size, mtime, ctime); bounded, thread-safe."""

    def __init__(self, limit: int = 50_000) -> None:
        self._limit = limit
        self._entries: dict[tuple[int, int], tuple[tuple[int, int, int, int, int], str]] = {}
        self._lock = threading.Lock()

    def get(self, info: os.stat_result) -> str | None:
        with self._lock:
            found = self._entries.get((info.st_dev, info.st_ino))
        if found is not None and found[0] == _stat_key(info):
            return found[1]
        return None

    def put(self, info: os.stat_result, version: str) -> None:
        with self._lock:
            if len(self._entries) >= self._limit:
                self._entries.clear()  # crude but bounded; versions are cheap to recompute
            self._entries[(info.st_dev, info.st_ino)] = (_stat_key(info), version)

    def version_of(self, dir_fd: int, name: str, info: os.stat_result) -> str | None:
        """The version of a regular file, from the cache or by hashing it; None if unreadable."""
        cached = self.get(info)
        if cached is not None:
            return cached
        try:
            fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
        except OSError:
            return None
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                return None
            os.set_blocking(fd, True)
            version = hash_fd(fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        self.put(opened, version)
        return version


@dataclass(frozen=True)
class Entry:
    path: str
    type: str  # file | dir | symlink | special
    size: int
    mtime: float
    version: str | None = None
    executable: bool = False
    target: str | None = None
    invalid_name: bool = False

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "type": self.type,
            "size": self.size,
            "mtime": self.mtime,
        }
        if self.type == "file":
            data["version"] = self.version
            data["executable"] = self.executable
        if self.type == "symlink":
            data["target"] = self.target
        if self.invalid_name:
            data["invalid_name"] = True
        return data


def _printable(name: str) -> tuple[str, bool]:
    """A name that came off disk as non-UTF-8 bytes, shown with U+FFFD in their place."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "replace"), True
    return name, False


@dataclass
class Listing:
    entries: list[Entry]
    truncated: bool


def list_tree(dir_fd: int, prefix: str, *, cache: VersionCache | None, max_entries: int) -> Listing:
    """Every entry under dir_fd, depth first and sorted by name, folders before their content.
    dir_fd must be the caller's own open (not shared with a concurrent listing).

    `prefix` is the folder's own workspace path ('' for the root). With cache None, file
    versions are left out (a cheap listing). At most `max_entries` entries are returned.
    """
    out: list[Entry] = []
    truncated = False

    def visit(fd: int, base: str, depth: int) -> None:
        nonlocal truncated
        try:
            with os.scandir(fd) as scan:
                items = sorted(scan, key=lambda e: e.name)
        except OSError:
            return  # an unreadable folder is listed (by its parent) but shows no content
        for item in items:
            if len(out) >= max_entries:
                truncated = True
                return
            try:
                info = item.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished while listing
            name, invalid = _printable(item.name)
            rel = f"{base}{name}"
            kind = "file"
            version = None
            target = None
            mode = info.st_mode
            if stat.S_ISREG(mode):
                if cache is not None and not invalid:
                    version = cache.version_of(fd, item.name, info)
            elif stat.S_ISDIR(mode):
                kind = "dir"
            elif stat.S_ISLNK(mode):
                kind = "symlink"
                try:
                    target = os.fsencode(os.readlink(item.name, dir_fd=fd)).decode(
                        "utf-8", "replace"
                    )
                except OSError:
                    target = None
            else:
                kind = "special"
            out.append(
                Entry(
                    path=rel,
                    type=kind,
                    size=info.st_size if kind == "file" else 0,
                    mtime=info.st_mtime,
                    version=version,
                    executable=kind == "file" and bool(mode & stat.S_IXUSR),
                    target=target,
                    invalid_name=invalid,
                )
            )
            if kind == "dir" and depth < MAX_WALK_DEPTH:
                try:
                    child = os.open(item.name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                try:
                    visit(child, rel + "/", depth + 1)
                finally:
                    os.close(child)
                if truncated:
                    return

    visit(dir_fd, f"{prefix}/" if prefix else "", 0)
    return Listing(out, truncated)


@dataclass(frozen=True)
class Stats:
    files: int
    dirs: int
    bytes: int
    symlinks: int
    truncated: bool


def workspace_stats(root_fd: int, max_entries: int) -> Stats:
    # A fresh open file description: a directory's read position is shared by every fd
    # dup'ed from it, so two listings of the same fd at once would interleave.
    fd = os.open(".", DIR_FLAGS, dir_fd=root_fd)
    try:
        listing = list_tree(fd, "", cache=None, max_entries=max_entries)
    finally:
        os.close(fd)
    files = [e for e in listing.entries if e.type == "file"]
    return Stats(
        files=len(files),
        dirs=sum(1 for e in listing.entries if e.type == "dir"),
        bytes=sum(e.size for e in files),
        symlinks=sum(1 for e in listing.entries if e.type == "symlink"),
        truncated=listing.truncated,
    )
