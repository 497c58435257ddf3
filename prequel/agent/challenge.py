"""What the agent knows of its challenge, from a private copy of the challenge folder.

Only challenge.toml is read here, with tomllib: the full validation (prequel.challenges) pulls
in pydantic and the portal's settings, which would cost more than the agent's whole start-up
budget. The portal validated the challenge when it was imported.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prequel.sandbox.limits import DEFAULT_LIMITS, LimitError

MANIFEST = "challenge.toml"
VERSION_FILE = "version"
MAX_MANIFEST_BYTES = 64 * 1024


class ChallengeError(ValueError):
    """The challenge folder cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class ChallengeInfo:
    root: Path
    slug: str
    title: str
    version: str | None
    language: str | None
    test_format: str | None
    # The challenge's own [limits] for runs and tests (validated: see load_challenge_info).
    limits: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "version": self.version,
            "language": self.language,
            "test_format": self.test_format,
            "limits": self.limits,
        }


def _text(table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _version(version_file: str | None, manifest: dict[str, Any]) -> str | None:
    """The provisioner writes the library's version number to a `version` file; a
    `version` key in challenge.toml is the fallback."""
    if version_file is not None:
        return version_file.strip()[:100] or None
    value = manifest.get("version")
    if isinstance(value, int | str) and not isinstance(value, bool):
        return str(value)[:100] or None
    return None


def load_challenge_info(root: Path) -> ChallengeInfo:
    path = root / MANIFEST
    try:
        if not root.is_dir():
            raise ChallengeError(f"--challenge-dir {root} is not a folder")
        raw = path.read_bytes()
        version_path = root / VERSION_FILE
        version_file = version_path.read_text("utf-8") if version_path.is_file() else None
    except FileNotFoundError:
        raise ChallengeError(f"{path} is missing; is {root} a challenge folder?") from None
    except UnicodeDecodeError:
        raise ChallengeError(f"{root / VERSION_FILE} is not UTF-8 text") from None
    except OSError as exc:
        raise ChallengeError(
            f"{exc.filename or root} cannot be read: {exc.strerror} (the agent runs as uid "
            f"{os.geteuid()})"
        ) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ChallengeError(f"{path} is larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        manifest = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ChallengeError(f"{path} is not valid TOML: {exc}") from None
    slug = _text(manifest, "slug")
    title = _text(manifest, "title")
    if slug is None or title is None:
        raise ChallengeError(f"{path} needs a 'slug' and a 'title'")
    tests = manifest.get("tests")
    test_format = _text(tests, "format") if isinstance(tests, dict) else None
    limits = manifest.get("limits", {})
    if not isinstance(limits, dict):
        raise ChallengeError(f"{path}: [limits] must be a table")
    try:
        DEFAULT_LIMITS.merged(limits)
    except (LimitError, TypeError) as exc:
        raise ChallengeError(f"{path}: [limits] {exc}") from None
    return ChallengeInfo(
        root=root.resolve(),
        slug=slug,
        title=title,
        version=_version(version_file, manifest),
        language=_text(manifest, "language"),
        test_format=test_format,
        limits=limits,
    )
