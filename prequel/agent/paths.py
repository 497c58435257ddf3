"""Safe path resolution inside the workspace.

A path from a client is relative and '/'-separated. It is checked as text first (no absolute
paths, no '.' or '..', no empty components, no control characters, no overlong names), then
resolved by walking from a directory fd of the workspace root: every folder is opened with
O_DIRECTORY|O_NOFOLLOW relative to the previous one, and the leaf with O_NOFOLLOW. So a
symbolic link anywhere in the path is refused, never followed, even one swapped in while the
request runs: there is no moment at which a path string is resolved by the kernel from the
top. Only regular files and folders are ever opened; devices, FIFOs and sockets are refused
before they are opened, and FIFOs are opened non-blocking so a swapped-in one cannot hang us.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prequel.agent.errors import AgentError, os_error, shown, symlink_refused

MAX_PATH_CHARS = 4096
MAX_NAME_BYTES = 255
MAX_DEPTH = 64

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def invalid_path(message: str) -> AgentError:
    return AgentError(400, "invalid_path", message)


def parse_path(raw: str) -> tuple[str, ...]:
    """Split a client's path into checked components, or raise 400 invalid_path."""
    if not raw:
        raise invalid_path("the path is empty; give one relative to the workspace, e.g. 'app.py'")
    if len(raw) > MAX_PATH_CHARS:
        raise invalid_path(f"the path is longer than {MAX_PATH_CHARS} characters")
    if "\x00" in raw:
        raise invalid_path("the path contains a NUL byte")
    if raw.startswith("/"):
        raise invalid_path(
            f"{shown(raw)} is absolute; give paths relative to the workspace root, e.g. 'src/a.py'"
        )
    parts = raw.split("/")
    if len(parts) > MAX_DEPTH:
        raise invalid_path(f"the path is nested more than {MAX_DEPTH} folders deep")
    for part in parts:
        if part == "":
            raise invalid_path(f"{shown(raw)} has an empty component (a doubled or trailing '/')")
        if part in (".", ".."):
            raise invalid_path(
                f"{shown(raw)} contains '{part}'; give the path from the workspace root without "
                "'.' or '..'"
            )
        if _CONTROL.search(part):
            raise invalid_path(f"{shown(raw)} contains a control character (a newline, tab...)")
        try:
            encoded = part.encode("utf-8")
        except UnicodeEncodeError:
            raise invalid_path(f"{shown(raw)} is not valid Unicode text") from None
        if len(encoded) > MAX_NAME_BYTES:
            raise invalid_path(f"a name in the path is longer than {MAX_NAME_BYTES} bytes")
    return tuple(parts)


def joined(parts: Sequence[str]) -> str:
    return "/".join(parts)


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    """The entry itself (a link is not followed), or None when it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "special"


def not_regular(path: str, mode: int) -> AgentError:
    """The refusal for an entry of the wrong kind, saying what it is."""
    kind = kind_of(mode)
    if kind == "symlink":
        return symlink_refused(path)
    if kind == "dir":
        return AgentError(422, "is_a_directory", f"{shown(path)} is a folder, not a file")
    return AgentError(
        422,
        "not_a_regular_file",
        f"{shown(path)} is a device, FIFO or socket; the file API handles only regular files "
        "and folders",
    )


def _refusal(dir_fd: int, name: str, path: str, exc: OSError) -> AgentError:
    """Why opening `name` as a folder failed, from what the entry really is."""
    info = lstat_at(dir_fd, name)
    if info is None:
        return AgentError(404, "not_found", f"the folder {shown(path)} does not exist")
    if stat.S_ISLNK(info.st_mode):
        return symlink_refused(path)
    if stat.S_ISREG(info.st_mode):
        return AgentError(422, "not_a_directory", f"{shown(path)} is a file, not a folder")
    if not stat.S_ISDIR(info.st_mode):
        return not_regular(path, info.st_mode)
    return os_error(exc, path)


def open_dir(root_fd: int, parts: Sequence[str], *, create: bool = False) -> int:
    """Open the folder `parts` (relative to root_fd) without following any link; return a new
    fd the caller closes. With create, missing folders are made (mode 0755) on the way."""
    current = os.open(".", DIR_FLAGS, dir_fd=root_fd)
    try:
        for depth, part in enumerate(parts):
            here = joined(parts[: depth + 1])
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=current)
            except FileNotFoundError:
                if not create:
                    raise AgentError(
                        404, "not_found", f"the folder {shown(here)} does not exist"
                    ) from None
                try:
                    os.mkdir(part, 0o755, dir_fd=current)
                except FileExistsError:
                    pass  # made concurrently; the open below checks what it is
                except OSError as exc:
                    raise os_error(exc, here) from None
                try:
                    child = os.open(part, DIR_FLAGS, dir_fd=current)
                except OSError as exc:
                    raise _refusal(current, part, here, exc) from None
            except OSError as exc:
                raise _refusal(current, part, here, exc) from None
            os.close(current)
            current = child
        return current
    except BaseException:
        os.close(current)
        raise


@dataclass(frozen=True)
class Located:
    """A path split into its open parent folder and the leaf's name in it."""

    path: str
    parent_fd: int
    name: str


@contextmanager
def locate(
    root_fd: int, parts: Sequence[str], *, create_parents: bool = False
) -> Iterator[Located]:
    """Open the parent folder of `parts` for the duration of the block."""
    parent_fd = open_dir(root_fd, parts[:-1], create=create_parents)
    try:
        yield Located(joined(parts), parent_fd, parts[-1])
    finally:
        os.close(parent_fd)


def open_regular(at: Located, flags: int = FILE_FLAGS) -> tuple[int, os.stat_result]:
    """Open the leaf as a regular file (never a link, device, FIFO or socket).

    The entry is inspected with lstat before it is opened, so a device is never opened at all;
    O_NOFOLLOW and the fstat afterwards catch an entry swapped between the two calls.
    """
    info = lstat_at(at.parent_fd, at.name)
    if info is None:
        raise AgentError(404, "not_found", f"{shown(at.path)} does not exist in the workspace")
    if not stat.S_ISREG(info.st_mode):
        raise not_regular(at.path, info.st_mode)
    try:
        fd = os.open(at.name, flags, dir_fd=at.parent_fd)
    except OSError as exc:
        raise os_error(exc, at.path) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise not_regular(at.path, opened.st_mode)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise AgentError(
                409, "changed", f"{shown(at.path)} was replaced while it was being opened; retry"
            )
        if flags & os.O_NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, opened


# renameat2(RENAME_NOREPLACE) refuses atomically to overwrite; os.rename would replace.
_RENAME_NOREPLACE = 1
_renameat2: Any = None
with contextlib.suppress(OSError, AttributeError):  # glibc < 2.28, or not glibc: fall back
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2


def rename_noreplace(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    if _renameat2 is not None:
        result = _renameat2(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), _RENAME_NOREPLACE)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(code, os.strerror(code))
        if code == errno.EINVAL and lstat_at(dst_fd, dst) is None:
            # EINVAL is also "a folder into itself"; let rename report that one.
            os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            return
    # No renameat2 on this file system: check, then rename (API calls hold the lock).
    if lstat_at(dst_fd, dst) is not None:
        raise FileExistsError(errno.EEXIST, "exists")
    os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
