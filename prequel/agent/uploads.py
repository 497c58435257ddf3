"""Receiving an upload: streamed into a temp file beside the target, then renamed over it.

The body is never held in memory. The target is checked before the first byte is accepted (a
link, a folder or an existing file without overwrite fails at once) and again, under the
workspace lock, when the upload is committed.
"""

from __future__ import annotations

import hashlib
import os
import stat

from prequel.agent.errors import AgentError, os_error, shown
from prequel.agent.files import FileInfo, Workspace, discard, open_tmp
from prequel.agent.paths import Located, lstat_at, not_regular, open_dir, parse_path
from prequel.agent.tree import VERSION_CHARS


class PendingUpload:
    """One upload in progress; call write() per chunk, then commit(), and always close()."""

    def __init__(
        self, workspace: Workspace, raw: str, *, expected: str | None, overwrite: bool
    ) -> None:
        parts = parse_path(raw)
        self._workspace = workspace
        self._expected = expected
        self._overwrite = overwrite
        self._fd = -1
        self._tmp: str | None = None
        self.size = 0
        self._digest = hashlib.sha256()
        parent_fd = open_dir(workspace.root_fd, parts[:-1], create=expected is None)
        self.at = Located("/".join(parts), parent_fd, parts[-1])
        try:
            self._check_target()
            self._fd, self._tmp = open_tmp(self.at)
        except BaseException:
            self.close()
            raise

    def _check_target(self) -> None:
        existing = lstat_at(self.at.parent_fd, self.at.name)
        if existing is None:
            if self._expected is not None:
                raise AgentError(
                    409,
                    "version_conflict",
                    f"{shown(self.at.path)} no longer exists (deleted or renamed since you read "
                    "it)",
                    details={"current_version": None},
                )
            return
        if not stat.S_ISREG(existing.st_mode):
            raise not_regular(self.at.path, existing.st_mode)
        if self._expected is None and not self._overwrite:
            raise AgentError(
                409,
                "exists",
                f"{shown(self.at.path)} already exists; upload with ?overwrite=true, or with the "
                "version you last saw (If-Match), to replace it",
            )

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        limit = self._workspace.max_upload_bytes
        if self.size > limit:
            raise AgentError(
                413, "too_large", f"the upload is larger than the limit of {limit} bytes"
            )
        self._digest.update(chunk)
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            raise os_error(exc, self.at.path) from None

    def commit(self) -> tuple[FileInfo, bool]:
        """Rename the received file over the target; returns its info and whether it is new."""
        assert self._tmp is not None and self._fd >= 0
        workspace = self._workspace
        with workspace.lock:
            current = workspace.current_file(self.at)
            if not (self._overwrite and self._expected is None):
                workspace.check_version(self.at.path, self._expected, current)
            fd, tmp = self._fd, self._tmp
            self._fd, self._tmp = -1, None  # commit_tmp owns them now
            version = self._digest.hexdigest()[:VERSION_CHARS]
            info = workspace.commit_tmp(self.at, fd, tmp, current, version)
        return info, current is None

    def close(self) -> None:
        """Discard the temp file unless committed, and release the folder."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._tmp is not None:
            discard(self.at.parent_fd, self._tmp)
            self._tmp = None
        if self.at.parent_fd >= 0:
            os.close(self.at.parent_fd)
            self.at = Located(self.at.path, -1, self.at.name)
