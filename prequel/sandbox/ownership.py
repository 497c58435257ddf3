"""Handing a folder tree to a workspace's uid (workspaces, scratch space, cgroups)."""

from __future__ import annotations

import os
from pathlib import Path


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """chown root and everything below it, never following links."""
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)
