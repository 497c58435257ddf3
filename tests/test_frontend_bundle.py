"""The committed IDE bundle (prequel/web/static/dist/) is what frontend/ builds today.

`pip install` ships the committed bundle without Node, so a change to frontend/ that was not
rebuilt and committed would silently ship stale JavaScript. This builds into a temporary
folder and compares byte for byte, like `make frontend-check`. node_modules is installed
with `npm ci` from the lockfile only when missing or older than the lockfile.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
DIST = ROOT / "prequel" / "web" / "static" / "dist"
STALE = "the committed IDE bundle is stale: run make frontend and commit"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run 'make system-deps' (Debian package nodejs)")
    return path


def _ensure_node_modules() -> None:
    installed = FRONTEND / "node_modules" / ".package-lock.json"
    lockfile = FRONTEND / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lockfile.stat().st_mtime:
        return
    subprocess.run(
        [_tool("npm"), "ci", "--no-audit", "--no-fund"],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
        timeout=120,
    )
    installed.touch()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_committed_bundle_matches_a_fresh_build(tmp_path: Path) -> None:
    _ensure_node_modules()
    fresh = tmp_path / "dist"
    subprocess.run(
        [_tool("node"), "build.mjs", "--outdir", str(fresh)],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert _files(fresh) == _files(DIST), STALE
    _, mismatch, errors = filecmp.cmpfiles(fresh, DIST, _files(fresh), shallow=False)
    assert not mismatch and not errors, f"{STALE} (differs: {mismatch + errors})"


def test_bundle_is_package_data() -> None:
    """pyproject's package-data ships every file of the bundle, chunks included."""
    text = (ROOT / "pyproject.toml").read_text()
    assert '"web/static/**/*"' in text
    assert (DIST / "ide.js").is_file() and (DIST / "ide.css").is_file()
