"""File operations on the workspace: read, write, create, rename, delete, upload.

Everything goes through paths.py, so no operation follows a link or touches a device. Methods
are blocking and run in worker threads. Mutations take one lock, so the version check of an
optimistic write and the replace that follows it are atomic with respect to other API calls
(the terminal can still change a file in between; the next write then sees its version).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prequel.agent.errors import AgentError, os_error, shown
from prequel.agent.paths import (
    DIR_FLAGS,
    Located,
    kind_of,
    locate,
    lstat_at,
    not_regular,
    open_dir,
    open_regular,
    parse_path,
    rename_noreplace,
)
from prequel.agent.tree import Entry, VersionCache, content_version, hash_fd

NEW_FILE_MODE = 0o644
NEW_DIR_MODE = 0o755
READ_CHUNK = 1024 * 1024


# What the file routes answer about one entry: the same shape as a tree listing's entries.
FileInfo = Entry


@dataclass(frozen=True)
class FileContent:
    info: FileInfo
    data: bytes


def _info(path: str, st: os.stat_result, version: str | None) -> FileInfo:
    kind = kind_of(st.st_mode)
    return FileInfo(
        path=path,
        type=kind,
        size=st.st_size if kind == "file" else 0,
        mtime=st.st_mtime,
        version=version,
        executable=kind == "file" and bool(st.st_mode & stat.S_IXUSR),
    )


def tmp_name() -> str:
    return f".prequel-{secrets.token_hex(8)}.tmp"


def open_tmp(at: Located) -> tuple[int, str]:
    """A new, private temp file next to the target (renamed over it when complete)."""
    name = tmp_name()
    try:
        fd = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=at.parent_fd,
        )
    except OSError as exc:
        raise os_error(exc, at.path) from None
    return fd, name


def finish_tmp(fd: int, mode: int, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.fchown(fd, *owner)
    os.fchmod(fd, mode)  # after fchown, which clears setuid bits
    os.fsync(fd)


def discard(parent_fd: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=parent_fd)


def version_conflict(path: str, expected: str | None, current: str | None) -> AgentError:
    if current is None:
        message = f"{shown(path)} no longer exists (it was deleted or renamed since you read it)"
    elif expected is None:
        message = (
            f"{shown(path)} already exists; send the version you last read to replace it "
            "(or choose another name)"
        )
    else:
        message = (
            f"{shown(path)} changed since you read it (your version {expected}, now {current}); "
            "read it again and reapply your change"
        )
    return AgentError(
        409,
        "version_conflict" if expected is not None else "exists",
        message,
        details={"current_version": current},
    )


class Workspace:
    """The workspace folder, reached only through a directory fd opened at start."""

    def __init__(self, root: Path, *, max_file_bytes: int, max_upload_bytes: int) -> None:
        # The root itself is the operator's choice and may be reached through a link; from
        # here down, nothing is followed.
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.max_file_bytes = max_file_bytes
        self.max_upload_bytes = max_upload_bytes
        self.lock = threading.Lock()
        self.versions = VersionCache()
        # Files the agent writes as root go to whoever owns the folder, not to root.
        self._chown = os.geteuid() == 0

    def close(self) -> None:
        os.close(self.root_fd)

    # reading --------------------------------------------------------------------------

    def read(self, raw: str) -> FileContent:
        parts = parse_path(raw)
        with locate(self.root_fd, parts) as at:
            fd, st = open_regular(at)
            try:
                if st.st_size > self.max_file_bytes:
                    raise self._too_big_to_read(at.path, st.st_size)
                data = self._read_all(fd, at.path)
            finally:
                os.close(fd)
        version = content_version(data)
        self.versions.put(st, version)
        return FileContent(_info(at.path, st, version), data)

    def _read_all(self, fd: int, path: str) -> bytes:
        chunks: list[bytes] = []
        total = 0
        try:
            while chunk := os.read(fd, READ_CHUNK):
                total += len(chunk)
                if total > self.max_file_bytes:  # grew while being read
                    raise self._too_big_to_read(path, total)
                chunks.append(chunk)
        except OSError as exc:
            raise os_error(exc, path) from None
        return b"".join(chunks)

    def _too_big_to_read(self, path: str, size: int) -> AgentError:
        return AgentError(
            413,
            "too_large",
            f"{shown(path)} is {size} bytes; the editor API reads files up to "
            f"{self.max_file_bytes} bytes; fetch it with GET /download/{path} instead",
        )

    def open_download(self, raw: str) -> tuple[int, os.stat_result, str]:
        """An open fd of a regular file (the caller closes it), its stat and its name."""
        parts = parse_path(raw)
        with locate(self.root_fd, parts) as at:
            fd, st = open_regular(at)
        return fd, st, parts[-1]

    # writing --------------------------------------------------------------------------

    def write(self, raw: str, data: bytes, expected: str | None) -> tuple[FileInfo, bool]:
        """Replace a file whose version is `expected`, or create it when expected is None.
        Returns the new info and whether the file was created."""
        parts = parse_path(raw)
        self._check_size(parts, len(data))
        try:
            # A create makes missing folders; a conditional write to a file whose folder is
            # gone is a version conflict (the file is gone too), not a reason to recreate it.
            parent_fd = open_dir(self.root_fd, parts[:-1], create=expected is None)
        except AgentError as exc:
            if exc.code == "not_found" and expected is not None:
                raise version_conflict("/".join(parts), expected, None) from None
            raise
        at = Located("/".join(parts), parent_fd, parts[-1])
        try:
            with self.lock:
                current = self.current_file(at)
                self.check_version(at.path, expected, current)
                info = self._replace(at, data, current)
                return info, current is None
        finally:
            os.close(parent_fd)

    def _check_size(self, parts: Sequence[str], size: int) -> None:
        if size > self.max_file_bytes:
            raise AgentError(
                413,
                "too_large",
                f"the content is {size} bytes; files written through the editor API may be at "
                f"most {self.max_file_bytes} bytes (upload larger files with POST /upload/...)",
            )

    def current_file(self, at: Located) -> tuple[os.stat_result, str] | None:
        """The existing file's stat and version, None if there is no entry; refuses links,
        folders and special files."""
        if lstat_at(at.parent_fd, at.name) is None:
            return None
        fd, st = open_regular(at)
        try:
            version = self.versions.get(st) or hash_fd(fd)
        except OSError as exc:
            raise os_error(exc, at.path) from None
        finally:
            os.close(fd)
        self.versions.put(st, version)
        return st, version

    @staticmethod
    def check_version(
        path: str, expected: str | None, current: tuple[os.stat_result, str] | None
    ) -> None:
        current_version = current[1] if current else None
        if expected is None and current is None:
            return
        if expected is not None and current is not None and expected == current_version:
            return
        raise version_conflict(path, expected, current_version)

    def owner_for(self, at: Located, current: os.stat_result | None) -> tuple[int, int] | None:
        if not self._chown:
            return None
        if current is not None:
            return current.st_uid, current.st_gid
        parent = os.fstat(at.parent_fd)
        return parent.st_uid, parent.st_gid

    def _replace(
        self, at: Located, data: bytes, current: tuple[os.stat_result, str] | None
    ) -> FileInfo:
        """Write a temp file next to the target and rename it over: readers see the old or the
        new content, never half of it. The mode (and owner, as root) is kept."""
        fd, tmp = open_tmp(at)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException as exc:
            os.close(fd)
            discard(at.parent_fd, tmp)
            if isinstance(exc, OSError):
                raise os_error(exc, at.path) from None
            raise
        return self.commit_tmp(at, fd, tmp, current, content_version(data))

    def commit_tmp(
        self,
        at: Located,
        fd: int,
        tmp: str,
        current: tuple[os.stat_result, str] | None,
        version: str,
    ) -> FileInfo:
        """Give the complete temp file (open as fd, closed here) the target's mode, and owner
        as root, then rename it over the target. Removes the temp file if anything fails."""
        previous = current[0] if current else None
        # Permission bits only: an API write never yields a setuid or setgid file.
        mode = previous.st_mode & 0o777 if previous else NEW_FILE_MODE
        try:
            try:
                finish_tmp(fd, mode, self.owner_for(at, previous))
            finally:
                os.close(fd)
            os.replace(tmp, at.name, src_dir_fd=at.parent_fd, dst_dir_fd=at.parent_fd)
            st = os.stat(at.name, dir_fd=at.parent_fd, follow_symlinks=False)
        except BaseException as exc:
            discard(at.parent_fd, tmp)
            if isinstance(exc, OSError):
                raise os_error(exc, at.path) from None
            raise
        self.versions.put(st, version)
        return _info(at.path, st, version)

    # creating, deleting, renaming --------------------------------------------------------

    def create_file(self, raw: str, data: bytes) -> FileInfo:
        info, _created = self.write(raw, data, None)
        return info

    def create_dir(self, raw: str) -> FileInfo:
        parts = parse_path(raw)
        with self.lock, locate(self.root_fd, parts, create_parents=True) as at:
            existing = lstat_at(at.parent_fd, at.name)
            if existing is not None:
                if stat.S_ISLNK(existing.st_mode):
                    raise not_regular(at.path, existing.st_mode)
                raise AgentError(409, "exists", f"{shown(at.path)} already exists")
            try:
                os.mkdir(at.name, NEW_DIR_MODE, dir_fd=at.parent_fd)
                if self._chown:
                    parent = os.fstat(at.parent_fd)
                    os.chown(
                        at.name,
                        parent.st_uid,
                        parent.st_gid,
                        dir_fd=at.parent_fd,
                        follow_symlinks=False,
                    )
                st = os.stat(at.name, dir_fd=at.parent_fd, follow_symlinks=False)
            except OSError as exc:
                raise os_error(exc, at.path) from None
            return _info(at.path, st, None)

    def delete(self, raw: str) -> str:
        """Delete a file, or a folder with everything in it; returns what it was."""
        parts = parse_path(raw)
        with self.lock, locate(self.root_fd, parts) as at:
            existing = lstat_at(at.parent_fd, at.name)
            if existing is None:
                raise AgentError(404, "not_found", f"{shown(at.path)} does not exist")
            kind = kind_of(existing.st_mode)
            if kind not in ("file", "dir"):
                raise not_regular(at.path, existing.st_mode)
            try:
                if kind == "dir":
                    # rmtree with dir_fd works through fds and never follows links inside.
                    assert shutil.rmtree.avoids_symlink_attacks
                    shutil.rmtree(at.name, dir_fd=at.parent_fd)
                else:
                    os.unlink(at.name, dir_fd=at.parent_fd)
            except OSError as exc:
                raise os_error(exc, at.path) from None
            return kind

    def rename(self, raw_src: str, raw_dst: str, *, overwrite: bool) -> FileInfo:
        src_parts = parse_path(raw_src)
        dst_parts = parse_path(raw_dst)
        if src_parts == dst_parts:
            raise AgentError(400, "invalid_move", "the source and the destination are the same")
        if dst_parts[: len(src_parts)] == src_parts:
            raise AgentError(400, "invalid_move", "a folder cannot be moved inside itself")
        with self.lock, locate(self.root_fd, src_parts) as src:
            moving = lstat_at(src.parent_fd, src.name)
            if moving is None:
                raise AgentError(404, "not_found", f"{shown(src.path)} does not exist")
            if kind_of(moving.st_mode) not in ("file", "dir"):
                raise not_regular(src.path, moving.st_mode)
            with locate(self.root_fd, dst_parts, create_parents=True) as dst:
                self._check_destination(dst, moving, overwrite=overwrite)
                try:
                    if overwrite:
                        os.replace(
                            src.name, dst.name, src_dir_fd=src.parent_fd, dst_dir_fd=dst.parent_fd
                        )
                    else:
                        rename_noreplace(src.parent_fd, src.name, dst.parent_fd, dst.name)
                    st = os.stat(dst.name, dir_fd=dst.parent_fd, follow_symlinks=False)
                except OSError as exc:
                    if exc.errno == errno.EINVAL:
                        raise AgentError(
                            400, "invalid_move", "a folder cannot be moved inside itself"
                        ) from None
                    raise os_error(exc, dst.path) from None
                version = None
                if stat.S_ISREG(st.st_mode):
                    version = self.versions.version_of(dst.parent_fd, dst.name, st)
                return _info(dst.path, st, version)

    @staticmethod
    def _check_destination(dst: Located, moving: os.stat_result, *, overwrite: bool) -> None:
        there = lstat_at(dst.parent_fd, dst.name)
        if there is None:
            return
        if stat.S_ISLNK(there.st_mode) or not (
            stat.S_ISREG(there.st_mode) or stat.S_ISDIR(there.st_mode)
        ):
            raise not_regular(dst.path, there.st_mode)
        if not overwrite:
            raise AgentError(
                409,
                "exists",
                f"{shown(dst.path)} already exists; send overwrite: true to replace it",
            )
        if not (stat.S_ISREG(there.st_mode) and stat.S_ISREG(moving.st_mode)):
            raise AgentError(
                409, "exists", f"{shown(dst.path)} exists; only a file can replace a file"
            )

    # folders ----------------------------------------------------------------------------

    def open_folder(self, raw: str | None) -> tuple[int, str]:
        """An fd of a folder to list (the root for None or ''), with its workspace path."""
        if not raw:
            return os.open(".", DIR_FLAGS, dir_fd=self.root_fd), ""
        parts = parse_path(raw)
        return open_dir(self.root_fd, parts), "/".join(parts)
