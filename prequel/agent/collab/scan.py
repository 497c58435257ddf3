"""Which workspace files belong in the shared document, and a cheap look at all of them.

Every poll lists the workspace from its root's directory fd (never following a link, like
paths.py) and records each regular file's inode, size, mtime and ctime; only files whose
record changed are read. Tool folders (`.git`, `node_modules`, caches, virtualenvs) are not
descended into, and the agent's own temporary files are skipped. The content test (UTF-8
without NUL bytes) and the size limit are the file API's (bodies.encode_content,
Workspace.read).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from prequel.agent.errors import AgentError
from prequel.agent.paths import DIR_FLAGS, MAX_DEPTH, parse_path

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".cache",
        ".npm",
    }
)
TEMP_PREFIX = ".prequel-"
TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class FileStat:
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> FileStat:
        return cls(info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def shareable_path(path: str) -> bool:
    """A path the document may hold: valid for the file API, outside tool folders, and not
    one of the agent's temporary files."""
    try:
        parts = parse_path(path)
    except AgentError:
        return False
    if any(part in SKIPPED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1]
    return not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX))


@dataclass
class Scan:
    files: dict[str, FileStat]
    truncated: bool = False


def scan_workspace(root_fd: int, *, max_file_bytes: int, max_entries: int) -> Scan:
    """Every shareable regular file up to `max_file_bytes`, at most `max_entries` of them.
    Blocking: run it in a thread."""
    result = Scan(files={})
    seen = 0

    def visit(fd: int, base: str, depth: int) -> None:
        nonlocal seen
        try:
            with os.scandir(fd) as entries:
                items = sorted(entries, key=lambda e: e.name)
        except OSError:
            return
        for item in items:
            seen += 1
            if seen > max_entries * 4 or len(result.files) >= max_entries:
                result.truncated = True
                return
            name = item.name
            try:
                name.encode("utf-8")
                info = item.stat(follow_symlinks=False)
            except (UnicodeEncodeError, OSError):
                continue
            path = f"{base}{name}"
            if stat.S_ISDIR(info.st_mode):
                if name in SKIPPED_DIRS or depth + 1 >= MAX_DEPTH:
                    continue
                try:
                    child = os.open(name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                try:
                    visit(child, path + "/", depth + 1)
                finally:
                    os.close(child)
                if result.truncated:
                    return
            elif (
                stat.S_ISREG(info.st_mode)
                and info.st_size <= max_file_bytes
                and shareable_path(path)
            ):
                result.files[path] = FileStat.of(info)

    root = os.open(".", DIR_FLAGS, dir_fd=root_fd)
    try:
        visit(root, "", 0)
    finally:
        os.close(root)
    return result
