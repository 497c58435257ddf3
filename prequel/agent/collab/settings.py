"""Where collaboration keeps its private state, and its limits.

The agent's command line belongs to the provisioners; collaboration reads its few knobs from
the environment once, when its service starts:

- `PREQUEL_AGENT_STATE_DIR`: the agent's private state folder (update logs, checkpoints,
  chat, notes, mode). It must be outside the workspace and is never mounted into the
  sandbox. Without it, a folder of this agent's own under the system's temporary folder,
  named after the uid and the workspace's real path, so a restarted agent finds it again.
- `PREQUEL_AGENT_COLLAB_*`: limits (see `CollabSettings`), mostly for tests.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prequel.agent.config import MIB

STATE_DIR_ENV = "PREQUEL_AGENT_STATE_DIR"
ENV_PREFIX = "PREQUEL_AGENT_COLLAB_"


class StateDirError(Exception):
    """The state folder cannot be used; the message says why."""


@dataclass(frozen=True)
class CollabSettings:
    state_dir: Path
    # How often the workspace is scanned for changes made outside the editor (terminal, git).
    poll_seconds: float = 0.5
    # How long after an edit the file is written (always well under the 1 s promise).
    flush_seconds: float = 0.2
    # Per client: what may wait to be sent before the client is disconnected as too slow.
    max_queue_bytes: int = 8 * MIB
    max_queue_messages: int = 4096
    # Largest message a client may send (one Yjs update or awareness change).
    max_message_bytes: int = 8 * MIB
    # Per room: the encoded document may not grow past this; edits beyond it are refused.
    max_room_bytes: int = 64 * MIB
    # The shared document holds at most this many files; larger workspaces are cut.
    max_files: int = 2000
    # The update log is folded into a new checkpoint once it passes this size.
    compact_bytes: int = 4 * MIB
    # Chat: longest message, and the most kept (older ones stay on disk only).
    max_chat_chars: int = 4000
    max_chat_history: int = 1000
    max_chat_bytes: int = 8 * MIB

    @classmethod
    def from_env(cls, workspace: Path, environ: Mapping[str, str] = os.environ) -> CollabSettings:
        raw_dir = environ.get(STATE_DIR_ENV, "").strip()
        state_dir = Path(raw_dir) if raw_dir else default_state_dir(workspace)
        values: dict[str, float | int] = {}
        for name, kind in (
            ("poll_seconds", float),
            ("flush_seconds", float),
            ("max_queue_bytes", int),
            ("max_queue_messages", int),
            ("max_message_bytes", int),
            ("max_room_bytes", int),
            ("max_files", int),
            ("compact_bytes", int),
        ):
            raw = environ.get(ENV_PREFIX + name.upper(), "").strip()
            if not raw:
                continue
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a number") from None
            if value <= 0:
                raise ValueError(f"{ENV_PREFIX}{name.upper()} must be positive")
            values[name] = value
        settings = cls(state_dir=state_dir, **values)  # type: ignore[arg-type]
        if settings.flush_seconds >= 1:
            raise ValueError(f"{ENV_PREFIX}FLUSH_SECONDS must stay under 1 second")
        return settings

    def limits(self) -> dict[str, float | int]:
        return {
            "poll_seconds": self.poll_seconds,
            "flush_seconds": self.flush_seconds,
            "max_queue_bytes": self.max_queue_bytes,
            "max_queue_messages": self.max_queue_messages,
            "max_message_bytes": self.max_message_bytes,
            "max_room_bytes": self.max_room_bytes,
            "max_files": self.max_files,
            "max_chat_chars": self.max_chat_chars,
        }


def default_state_dir(workspace: Path) -> Path:
    """`<tmp>/prequel-agent-<uid>-<hash of the workspace's real path>`: stable across restarts
    of the same workspace's agent, private to its uid, and outside the sandbox (which has a
    /tmp of its own)."""
    digest = hashlib.sha256(str(workspace.resolve()).encode("utf-8", "surrogateescape"))
    return Path(tempfile.gettempdir()) / f"prequel-agent-{os.geteuid()}-{digest.hexdigest()[:16]}"


def prepare_state_dir(path: Path, workspace: Path) -> Path:
    """Create the folder (0700) if needed, and refuse one that is not ours alone: a link, a
    file, another uid's folder, one others can write or read, or one inside the workspace."""
    try:
        path.resolve().relative_to(workspace.resolve())
    except ValueError:
        pass
    else:
        raise StateDirError(
            f"{STATE_DIR_ENV}={path} is inside the workspace; the candidate could change it"
        )
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StateDirError(f"cannot create the state folder {path}: {exc.strerror}") from None
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise StateDirError(f"the state folder {path} is not a folder (a link or a file?)")
    if info.st_uid != os.geteuid():
        raise StateDirError(
            f"the state folder {path} belongs to uid {info.st_uid}, not to the agent's uid "
            f"{os.geteuid()}"
        )
    if info.st_mode & 0o077:
        raise StateDirError(
            f"the state folder {path} is open to group or others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 700 {path}"
        )
    return path


__all__ = [
    "ENV_PREFIX",
    "STATE_DIR_ENV",
    "CollabSettings",
    "StateDirError",
    "default_state_dir",
    "prepare_state_dir",
]
