"""The agent's configuration: what one `prequel agent` process serves and how."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB

DEFAULT_MAX_FILE_BYTES = 5 * MIB
DEFAULT_MAX_UPLOAD_BYTES = 100 * MIB
DEFAULT_MAX_TREE_ENTRIES = 20_000


@dataclass(frozen=True)
class AgentConfig:
    """Tokens are kept out of repr so a logged config never shows them."""

    workspace: Path
    token: str = field(repr=False)
    portal_token: str | None = field(default=None, repr=False)
    challenge_dir: Path | None = None
    # Largest file the JSON file API reads or writes (the editor's files).
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # Largest single upload (POST /upload); downloads and the archive are streamed, unlimited.
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    # A tree listing stops after this many entries and says it was truncated.
    max_tree_entries: int = DEFAULT_MAX_TREE_ENTRIES
    # Candidate code: which uid runs it (None: the agent's own, when it is not root), the
    # cgroup slot of this workspace, and whether a missing sandbox may fall back to rlimits.
    sandbox_uid: int | None = None
    sandbox_gid: int | None = None
    slot: str = "workspace"
    cgroup_name: str = "prequel"
    bwrap_path: str = "bwrap"
    unsafe_sandbox: bool = False

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("the workspace token must not be empty")
        if self.portal_token is not None and self.portal_token == self.token:
            raise ValueError("the portal token must differ from the workspace token")
        if self.max_file_bytes < 1 or self.max_upload_bytes < 1 or self.max_tree_entries < 1:
            raise ValueError("size and entry limits must be positive")
