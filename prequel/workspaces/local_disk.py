"""What a local workspace is on disk, and the blocking file work of preparing and removing it.

Everything is derived from the workspace root and the handle's name, so a restarted portal
(or a retried operation) finds exactly what an earlier one made. One folder per workspace:

    <root>/pq-<interview>/            root:<uid> 0710 (the agent's uid may only traverse it)
        owner.json                    the label: who this belongs to (list_owned scans these)
        workspace/                    the candidate's files, <uid>:<uid> 0700
        challenge/                    private challenge copy, root:<uid> 0750/0640, never
                                      bound into the sandbox (hidden tests live here)
        agent.token, portal.token     root 0600: the agent reads them before dropping root
        agent.pid                     {"pid", "started"} of the agent last started
        agent.log                     the agent's stdout and stderr
        agent.sock                    its socket, unless that path is too long (see below)

Only the portal's own private copies are touched here; the candidate's files go in and out
through the agent (local.py), never by the portal reading the workspace.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prequel.challenges.bundle import BundleRejected, unpack_upload
from prequel.sandbox.ownership import chown_tree
from prequel.settings import ChallengeSettings
from prequel.workspaces.base import NAME_PREFIX, ProvisionError

# The agent refuses unix socket paths over 100 bytes (sun_path holds 108 with the NUL).
MAX_SOCKET_BYTES = 100
# A name becomes a folder and the cgroup slot "prequel-<name>" (at most 64 characters).
_NAME = re.compile(rf"^{re.escape(NAME_PREFIX)}[A-Za-z0-9_-]{{1,50}}$")


def check_name(name: str) -> None:
    """Refuse names that could climb out of the root or break the cgroup slot's name."""
    if not _NAME.match(name):
        raise ProvisionError(
            f"invalid workspace name {name!r}: expected {NAME_PREFIX} followed by up to 50 "
            "letters, digits, '-' or '_'"
        )


def socket_path(root: Path, name: str) -> Path:
    """`<folder>/agent.sock` when it fits; else a short per-root runtime folder, so deep
    data directories still work. Deterministic, so it can always be recomputed."""
    beside = root / name / "agent.sock"
    if len(os.fsencode(str(beside))) <= MAX_SOCKET_BYTES:
        return beside
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    short = Path(tempfile.gettempdir()) / f"prequel-{digest}" / f"{name}.sock"
    if len(os.fsencode(str(short))) > MAX_SOCKET_BYTES:
        raise ProvisionError(f"no unix socket path under {MAX_SOCKET_BYTES} bytes for {name}")
    return short


@dataclass(frozen=True)
class Layout:
    dir: Path
    socket: Path

    @property
    def workspace(self) -> Path:
        return self.dir / "workspace"

    @property
    def challenge(self) -> Path:
        return self.dir / "challenge"

    @property
    def state(self) -> Path:
        """The agent's collaboration state (document log, chat, notes, mode): beside the
        workspace, never in it, so it is neither in the sandbox nor in the archive."""
        return self.dir / "state"

    @property
    def agent_token(self) -> Path:
        return self.dir / "agent.token"

    @property
    def portal_token(self) -> Path:
        return self.dir / "portal.token"

    @property
    def label(self) -> Path:
        return self.dir / "owner.json"

    @property
    def pid_file(self) -> Path:
        return self.dir / "agent.pid"

    @property
    def log(self) -> Path:
        return self.dir / "agent.log"


@dataclass(frozen=True)
class Label:
    interview_id: str
    name: str
    uid: int | None
    endpoint: str | None
    created_at: str


def _write_atomic(path: Path, text: str, mode: int) -> None:
    """Readers see the old content or the new, never half a file (a crash mid-write)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_label(folder: Path) -> Label | None:
    """The folder's owner.json, or None when it is missing or unreadable (not ours)."""
    try:
        data = json.loads((folder / "owner.json").read_text(encoding="utf-8"))
        label = Label(
            interview_id=str(data["interview_id"]),
            name=str(data["name"]),
            uid=int(data["uid"]) if data.get("uid") is not None else None,
            endpoint=str(data["endpoint"]) if data.get("endpoint") else None,
            created_at=str(data.get("created_at", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return label if label.name == folder.name else None


def write_label(layout: Layout, interview_id: str, uid: int, endpoint: str) -> None:
    """Write the label, keeping the first creation time when a retry rewrites it."""
    earlier = read_label(layout.dir)
    label: dict[str, Any] = {
        "interview_id": interview_id,
        "name": layout.dir.name,
        "uid": uid,
        "endpoint": endpoint,
        "created_at": earlier.created_at if earlier else datetime.now(UTC).isoformat(),
    }
    _write_atomic(layout.label, json.dumps(label, indent=2) + "\n", 0o644)


def read_pid_file(layout: Layout) -> tuple[int, int] | None:
    try:
        data = json.loads(layout.pid_file.read_text(encoding="utf-8"))
        return int(data["pid"]), int(data["started"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_pid_file(layout: Layout, pid: int, started: int) -> None:
    _write_atomic(layout.pid_file, json.dumps({"pid": pid, "started": started}) + "\n", 0o644)


def read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ProvisionError(f"cannot read the workspace's token {path}: {exc.strerror}") from exc
    if not token:
        raise ProvisionError(f"the workspace's token file {path} is empty")
    return token


def ensure_tokens(layout: Layout) -> None:
    """Write both tokens once; later starts reuse them, so open IDE sessions keep working."""
    for path in (layout.agent_token, layout.portal_token):
        if path.is_file() and path.stat().st_size > 0:
            os.chmod(path, 0o600)  # the agent refuses a token readable by anyone else
            continue
        _write_atomic(path, secrets.token_urlsafe(32) + "\n", 0o600)


def ensure_root(root: Path) -> None:
    """Make the workspace root, and check the workspace uids can reach through it."""
    if not root.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o711)  # noqa: S103 - every workspace uid traverses it, none lists it
    for folder in (root, *root.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            raise ProvisionError(
                f"{folder} is not searchable by other users (mode {stat.S_IMODE(mode):04o}), "
                f"so workspace agents cannot reach {root}; run: chmod o+x {folder} "
                "(or set PREQUEL_WORKSPACES__ROOT elsewhere)"
            )


def ensure_socket_dir(socket: Path, root: Path) -> None:
    """The socket's folder: the workspace folder, or a shared runtime folder in /tmp that
    must be ours and private (anyone could have made that name first)."""
    folder = socket.parent
    if folder.parent == root:
        return
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise ProvisionError(f"{folder} is not a folder owned by this user; remove it")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)


def remove_socket(socket: Path) -> None:
    """Remove the agent's socket; anything else at that path is left alone."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(socket.lstat().st_mode):
            socket.unlink()


def prepare_folders(layout: Layout, uid: int) -> None:
    """The workspace's folder and an (empty, uid-owned) candidate folder; an existing
    candidate folder and its files are kept whatever happened before."""
    layout.dir.mkdir(exist_ok=True)
    os.chown(layout.dir, 0, uid)
    os.chmod(layout.dir, 0o710)  # noqa: S103 - group is the workspace's own gid
    try:
        layout.workspace.mkdir(mode=0o700)
    except FileExistsError:
        info = layout.workspace.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise ProvisionError(f"{layout.workspace} is not a folder") from None
        if info.st_uid != uid:
            # Only when it belonged to another uid; no process of this workspace is running
            # (its agent was stopped first), so nothing can swap links in meanwhile.
            chown_tree(layout.workspace, uid, uid)
    else:
        os.chown(layout.workspace, uid, uid)
    _ensure_private_folder(layout.state, uid)


def _ensure_private_folder(folder: Path, uid: int) -> None:
    """A real folder (not a link) owned by `uid`, mode 0700: what the agent demands of its
    state folder. An existing one is kept, with what it holds (a restarted agent needs it)."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise ProvisionError(f"{folder} is not a folder")
    if info.st_uid != uid:
        chown_tree(folder, uid, uid)
    os.chmod(folder, 0o700)


def install_challenge(
    layout: Layout, bundle: bytes, version: int, uid: int, limits: ChallengeSettings
) -> None:
    """Replace challenge/ with the bundle's content: readable by the workspace uid (the
    agent reads the manifest and the tests), by nobody else."""
    for stale in layout.dir.glob(".challenge-*"):
        remove_tree(stale)  # left by a crash mid-install
    staging = layout.dir / f".challenge-{secrets.token_hex(4)}"
    try:
        root = unpack_upload(bundle, "bundle.tar.gz", staging, limits)
    except BundleRejected as exc:
        remove_tree(staging)
        raise ProvisionError(f"the challenge bundle cannot be unpacked: {exc}") from exc
    (root / "version").write_text(f"{version}\n", encoding="utf-8")
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            os.chown(path, 0, uid, follow_symlinks=False)
            os.chmod(path, (stat.S_IMODE(os.lstat(path).st_mode) & 0o750) | 0o640)
    os.chown(root, 0, uid)
    os.chmod(root, 0o750)  # noqa: S103 - group is the workspace's own gid
    old = layout.dir / f".challenge-old-{secrets.token_hex(4)}"
    if layout.challenge.exists():
        os.rename(layout.challenge, old)
    os.rename(root, layout.challenge)
    remove_tree(staging)
    remove_tree(old)


def starter_files(layout: Layout, files_dir: str) -> list[tuple[str, Path]]:
    """(workspace path, file in the private challenge copy) of every starter file."""
    base = layout.challenge / files_dir
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(base):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                found.append((path.relative_to(base).as_posix(), path))
    return found


def log_tail(layout: Layout, lines: int = 20) -> str:
    try:
        text = layout.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no agent log)"
    return "\n".join(text.splitlines()[-lines:]) or "(the agent log is empty)"


def remove_tree(path: Path) -> None:
    """Remove a folder whatever the candidate did to its modes (read-only folders)."""

    def retry(func: Callable[..., Any], failed: str, *_: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
        func(failed)

    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    elif sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)
