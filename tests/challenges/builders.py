"""Build challenge folders and archives for the tests (real files, no mocks)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

# The sample challenges shipped in the repository.
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "challenges"

MANIFEST = """\
slug = "{slug}"
title = "{title}"
difficulty = "easy"
tags = ["strings"]
language = "python"
environment = "python3.11"
time_estimate_minutes = 20

[tests]
command = "python -m pytest -q --junitxml={{report}} {{tests}}"
format = "junit"
"""

STARTER = "def reverse(text: str) -> str:\n    raise NotImplementedError\n"
SOLUTION = "def reverse(text: str) -> str:\n    return text[::-1]\n"
TEST = (
    "from reverse import reverse\n\n\n"
    "def test_reverse() -> None:\n    assert reverse('ab') == 'ba'\n"
)


def challenge_files(
    slug: str = "reverse-string", title: str = "Reverse a String"
) -> dict[str, str]:
    """Relative path -> content of a small valid challenge."""
    return {
        "challenge.toml": MANIFEST.format(slug=slug, title=title),
        "README.md": f"# {title}\n\nReturn the text reversed.\n\n<script>alert(1)</script>\n",
        "files/reverse.py": STARTER,
        "tests/visible/test_reverse.py": TEST,
        "tests/hidden/test_reverse_hidden.py": TEST.replace("'ab'", "'abc'").replace(
            "'ba'", "'cba'"
        ),
        "solution/reverse.py": SOLUTION,
    }


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


def write_challenge(root: Path, **kwargs: str) -> Path:
    return write_tree(root, challenge_files(**kwargs))


def tar_gz(entries: dict[str, bytes], *, prefix: str = "") -> bytes:
    """A .tar.gz with regular files only."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def zip_bytes(entries: dict[str, bytes], *, prefix: str = "") -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(prefix + name, data)
    return raw.getvalue()


def as_bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {name: content.encode() for name, content in files.items()}
