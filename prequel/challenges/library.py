"""The challenge library service: import folders and uploads as immutable versions, and read
them back.

Every import validates the folder, packs it reproducibly and compares its SHA-256 with the
latest version of the same slug: identical content is a no-op, anything else becomes version
N+1 with its bundle in the blob store at ``challenges/{org}/{slug}/v{N}-{sha12}.tar.gz``.
Two imports of one slug racing each other are settled by the unique (org, slug, version)
constraint: the loser retries once on top of the winner.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.challenges.bundle import pack, unpack_upload
from prequel.challenges.manifest import MANIFEST_NAME, LoadedChallenge, load_challenge_dir
from prequel.db.models import Challenge, Organization, User
from prequel.settings import ChallengeSettings
from prequel.storage.base import BlobStore

log = logging.getLogger(__name__)

INSERT_ATTEMPTS = 2


class ImportConflict(RuntimeError):
    """Concurrent imports of the same slug kept colliding; try the import again."""


@dataclass(frozen=True)
class ImportResult:
    challenge: Challenge
    created: bool
    # The latest version before this import (equal to challenge.version when unchanged),
    # None when the slug was new.
    previous_version: int | None


@dataclass(frozen=True)
class _Packed:
    loaded: LoadedChallenge
    data: bytes
    sha256: str


def _load_and_pack(path: Path, limits: ChallengeSettings | None) -> _Packed:
    loaded = load_challenge_dir(path, limits)
    data = pack(loaded.root)
    return _Packed(loaded, data, hashlib.sha256(data).hexdigest())


def bundle_key(organization: Organization, slug: str, version: int, sha256: str) -> str:
    return f"challenges/{organization.slug}/{slug}/v{version}-{sha256[:12]}.tar.gz"


def manifest_json(loaded: LoadedChallenge) -> dict[str, Any]:
    """The parsed challenge.toml plus what a candidate may see: starter files and visible
    tests. Hidden tests and the solution are never listed."""
    data = loaded.manifest.model_dump(mode="json")
    data["files"] = loaded.public_files
    return data


def _new_row(
    organization: Organization, packed: _Packed, version: int, user: User | None
) -> Challenge:
    manifest = packed.loaded.manifest
    return Challenge(
        org_id=organization.id,
        slug=manifest.slug,
        version=version,
        title=manifest.title,
        difficulty=manifest.difficulty,
        tags=list(manifest.tags),
        language=manifest.language,
        environment=manifest.environment,
        time_estimate_minutes=manifest.time_estimate_minutes,
        test_command=manifest.tests.command,
        test_format=manifest.tests.format,
        statement=packed.loaded.statement,
        manifest=manifest_json(packed.loaded),
        bundle_key=bundle_key(organization, manifest.slug, version, packed.sha256),
        bundle_sha256=packed.sha256,
        bundle_size=len(packed.data),
        created_by_id=user.id if user is not None else None,
    )


async def _store(
    db: AsyncSession,
    blobs: BlobStore,
    organization: Organization,
    packed: _Packed,
    user: User | None,
) -> ImportResult:
    slug = packed.loaded.manifest.slug
    for attempt in range(1, INSERT_ATTEMPTS + 1):
        latest = await get_latest(db, organization, slug)
        previous = latest.version if latest is not None else None
        if latest is not None and latest.bundle_sha256 == packed.sha256:
            if not await blobs.exists(latest.bundle_key):
                # Same content, same bytes: put back a bundle the blob store lost.
                log.warning(
                    "challenge %s v%d: bundle was missing, stored it again", slug, latest.version
                )
                await blobs.put(latest.bundle_key, packed.data)
            return ImportResult(latest, created=False, previous_version=previous)
        row = _new_row(organization, packed, (previous or 0) + 1, user)
        await blobs.put(row.bundle_key, packed.data)
        try:
            # A savepoint, so losing the race leaves the caller's transaction usable.
            async with db.begin_nested():
                db.add(row)
        except IntegrityError:
            winner = await get_latest(db, organization, slug)
            if winner is None or winner.bundle_key != row.bundle_key:
                await blobs.delete(row.bundle_key)
            log.info(
                "challenge %s v%d was imported concurrently (attempt %d)",
                slug,
                row.version,
                attempt,
            )
            continue
        log.info("imported challenge %s v%d (%s)", slug, row.version, packed.sha256[:12])
        return ImportResult(row, created=True, previous_version=previous)
    raise ImportConflict(
        f"another import of challenge {slug!r} kept taking the next version number; "
        "run the import again"
    )


async def import_challenge_dir(
    db: AsyncSession,
    blobs: BlobStore,
    organization: Organization,
    path: Path,
    *,
    user: User | None = None,
    limits: ChallengeSettings | None = None,
) -> ImportResult:
    """Validate (ChallengeInvalid lists every problem), pack and store the folder at path."""
    packed = await asyncio.to_thread(_load_and_pack, Path(path), limits)
    return await _store(db, blobs, organization, packed, user)


async def import_challenge_upload(
    db: AsyncSession,
    blobs: BlobStore,
    organization: Organization,
    data: bytes,
    filename: str | None,
    limits: ChallengeSettings,
    *,
    user: User | None = None,
) -> ImportResult:
    """Unpack an uploaded .tar.gz/.tgz/.zip safely (BundleRejected says why not), then import
    it like a folder."""
    with tempfile.TemporaryDirectory(prefix="prequel-upload-") as tmp:
        root = await asyncio.to_thread(unpack_upload, data, filename, Path(tmp) / "bundle", limits)
        packed = await asyncio.to_thread(_load_and_pack, root, limits)
    return await _store(db, blobs, organization, packed, user)


def _sample_folders(samples_dir: Path) -> list[Path]:
    return sorted(child for child in samples_dir.iterdir() if (child / MANIFEST_NAME).is_file())


async def import_samples(
    db: AsyncSession, blobs: BlobStore, organization: Organization, samples_dir: Path
) -> list[ImportResult]:
    """Import every subfolder of samples_dir that has a challenge.toml, in name order."""
    folders = await asyncio.to_thread(_sample_folders, Path(samples_dir))
    return [await import_challenge_dir(db, blobs, organization, folder) for folder in folders]


async def list_latest(db: AsyncSession, organization: Organization) -> list[Challenge]:
    """The latest version of every challenge in the organization, ordered by title."""
    latest = (
        select(Challenge.slug, func.max(Challenge.version).label("version"))
        .where(Challenge.org_id == organization.id)
        .group_by(Challenge.slug)
        .subquery()
    )
    rows = await db.scalars(
        select(Challenge)
        .join(latest, (Challenge.slug == latest.c.slug) & (Challenge.version == latest.c.version))
        .where(Challenge.org_id == organization.id)
        .order_by(Challenge.title, Challenge.slug)
    )
    return list(rows)


async def get_latest(db: AsyncSession, organization: Organization, slug: str) -> Challenge | None:
    return await db.scalar(
        select(Challenge)
        .where(Challenge.org_id == organization.id, Challenge.slug == slug)
        .order_by(Challenge.version.desc())
        .limit(1)
    )


async def get_version(
    db: AsyncSession, organization: Organization, slug: str, version: int
) -> Challenge | None:
    return await db.scalar(
        select(Challenge).where(
            Challenge.org_id == organization.id,
            Challenge.slug == slug,
            Challenge.version == version,
        )
    )


async def list_versions(db: AsyncSession, organization: Organization, slug: str) -> list[Challenge]:
    """Every version of one challenge, newest first."""
    rows = await db.scalars(
        select(Challenge)
        .where(Challenge.org_id == organization.id, Challenge.slug == slug)
        .order_by(Challenge.version.desc())
    )
    return list(rows)
