"""Importing challenges as immutable versions, on a real migrated database and blob store."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.challenges.library import (
    ImportResult,
    get_latest,
    get_version,
    import_challenge_dir,
    import_challenge_upload,
    import_samples,
    list_latest,
    list_versions,
)
from prequel.challenges.manifest import ChallengeInvalid
from prequel.db.models import Organization
from prequel.settings import ChallengeSettings
from prequel.storage.base import BlobInfo, BlobStore
from tests.challenges.builders import (
    SAMPLES_DIR,
    as_bytes,
    challenge_files,
    tar_gz,
    write_challenge,
    zip_bytes,
)
from tests.conftest import MakeUser

LIMITS = ChallengeSettings()


async def test_import_creates_version_one(
    tmp_path: Path, db: AsyncSession, blobs: BlobStore, org: Organization, make_user: MakeUser
) -> None:
    user = await make_user()
    result = await import_challenge_dir(db, blobs, org, write_challenge(tmp_path / "c"), user=user)
    await db.commit()
    challenge = result.challenge
    assert result.created and result.previous_version is None
    assert (challenge.slug, challenge.version, challenge.title) == (
        "reverse-string",
        1,
        "Reverse a String",
    )
    assert (challenge.difficulty, challenge.language, challenge.environment) == (
        "easy",
        "python",
        "python3.11",
    )
    assert challenge.tags == ["strings"] and challenge.time_estimate_minutes == 20
    assert challenge.test_format == "junit" and "{tests}" in challenge.test_command
    assert challenge.statement.startswith("# Reverse a String")
    assert challenge.created_by_id == user.id
    assert challenge.manifest["slug"] == "reverse-string"
    assert challenge.manifest["tests"]["format"] == "junit"
    assert challenge.manifest["files"] == ["files/reverse.py", "tests/visible/test_reverse.py"]
    sha12 = challenge.bundle_sha256[:12]
    assert challenge.bundle_key == f"challenges/{org.slug}/reverse-string/v1-{sha12}.tar.gz"
    stored = await blobs.get(challenge.bundle_key)
    assert hashlib.sha256(stored).hexdigest() == challenge.bundle_sha256
    assert len(stored) == challenge.bundle_size


async def test_reimporting_unchanged_content_is_a_no_op(
    tmp_path: Path, db: AsyncSession, blobs: BlobStore, org: Organization
) -> None:
    root = write_challenge(tmp_path / "c")
    first = await import_challenge_dir(db, blobs, org, root)
    await db.commit()
    (root / "files" / "__pycache__").mkdir()  # caches are not content
    (root / "files" / "__pycache__" / "reverse.cpython-311.pyc").write_bytes(b"\0")
    again = await import_challenge_dir(db, blobs, org, root)
    assert not again.created
    assert again.challenge.id == first.challenge.id
    assert again.previous_version == 1
    assert len(await list_versions(db, org, "reverse-string")) == 1

    await blobs.delete(first.challenge.bundle_key)  # a lost bundle is stored again
    healed = await import_challenge_dir(db, blobs, org, root)
    assert not healed.created
    stored = await blobs.get(first.challenge.bundle_key)
    assert hashlib.sha256(stored).hexdigest() == first.challenge.bundle_sha256


async def test_a_change_adds_version_two_and_keeps_version_one(
    tmp_path: Path, db: AsyncSession, blobs: BlobStore, org: Organization
) -> None:
    root = write_challenge(tmp_path / "c")
    first = await import_challenge_dir(db, blobs, org, root)
    (root / "README.md").write_text("# Reverse a String\n\nNow with Unicode.\n")
    second = await import_challenge_dir(db, blobs, org, root)
    await db.commit()
    assert second.created and second.previous_version == 1
    assert second.challenge.version == 2
    assert second.challenge.bundle_sha256 != first.challenge.bundle_sha256
    latest = await get_latest(db, org, "reverse-string")
    assert latest is not None and latest.version == 2
    assert [c.version for c in await list_versions(db, org, "reverse-string")] == [2, 1]
    old = await get_version(db, org, "reverse-string", 1)
    assert old is not None and "Now with Unicode" not in old.statement
    assert await blobs.exists(old.bundle_key) and await blobs.exists(second.challenge.bundle_key)
    assert [c.version for c in await list_latest(db, org)] == [2]


async def test_an_invalid_folder_lists_every_problem_and_stores_nothing(
    tmp_path: Path, db: AsyncSession, blobs: BlobStore, org: Organization
) -> None:
    files = challenge_files()
    files["challenge.toml"] = files["challenge.toml"].replace('"easy"', '"trivial"')
    del files["solution/reverse.py"]
    del files["tests/hidden/test_reverse_hidden.py"]
    root = tmp_path / "bad"
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content)
    with pytest.raises(ChallengeInvalid) as caught:
        await import_challenge_dir(db, blobs, org, root)
    assert {p.path for p in caught.value.problems} == {"challenge.toml", "solution", "tests/hidden"}
    assert await list_latest(db, org) == []
    assert await blobs.list("challenges/") == []


async def test_uploads_in_tar_gz_and_zip(
    db: AsyncSession, blobs: BlobStore, org: Organization
) -> None:
    files = as_bytes(challenge_files())
    tarred = await import_challenge_upload(
        db, blobs, org, tar_gz(files, prefix="reverse-string/"), "c.tar.gz", LIMITS
    )
    zipped = await import_challenge_upload(db, blobs, org, zip_bytes(files), "c.zip", LIMITS)
    await db.commit()
    assert tarred.created and tarred.challenge.version == 1
    # Same content in another archive format packs to the same bundle: nothing new.
    assert not zipped.created and zipped.challenge.id == tarred.challenge.id


async def test_import_samples_and_list_latest_by_title(
    tmp_path: Path, db: AsyncSession, blobs: BlobStore, org: Organization
) -> None:
    results = await import_samples(db, blobs, org, SAMPLES_DIR)
    await db.commit()
    assert len(results) >= 3 and all(r.created for r in results)
    titles = [c.title for c in await list_latest(db, org)]
    assert titles == sorted(titles)
    again = await import_samples(db, blobs, org, SAMPLES_DIR)
    assert not any(r.created for r in again)


async def test_organizations_do_not_see_each_others_challenges(
    tmp_path: Path, db: AsyncSession, blobs: BlobStore, org: Organization
) -> None:
    other = Organization(name="Other", slug="other")
    db.add(other)
    await db.flush()
    root = write_challenge(tmp_path / "c")
    mine = await import_challenge_dir(db, blobs, org, root)
    theirs = await import_challenge_dir(db, blobs, other, root)
    await db.commit()
    assert mine.created and theirs.created and theirs.challenge.version == 1
    assert mine.challenge.bundle_key != theirs.challenge.bundle_key
    assert [c.org_id for c in await list_latest(db, other)] == [other.id]
    assert await get_latest(db, other, "nope") is None


async def _import_in_own_session(app: FastAPI, org_id: str, path: Path) -> ImportResult:
    """What a second portal replica does: its own session, committed when done."""
    state = app.state.prequel
    async with state.sessions() as session:
        organization = await session.get(Organization, org_id)
        assert organization is not None
        result = await import_challenge_dir(session, state.blobs, organization, path)
        await session.commit()
        return result


@pytest.mark.parametrize("same_content", [False, True], ids=["different", "same"])
async def test_losing_a_race_for_the_next_version_retries(
    tmp_path: Path,
    app: FastAPI,
    db: AsyncSession,
    blobs: BlobStore,
    org: Organization,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    same_content: bool,
) -> None:
    """The rival commits version 1 after we read "no versions yet" and before we insert."""
    ours = write_challenge(tmp_path / "ours")
    rival = write_challenge(tmp_path / "rival")
    if not same_content:
        (rival / "README.md").write_text("# Reverse a String\n\nThe rival's statement.\n")
    real_put = blobs.put
    raced: list[ImportResult] = []
    started: list[bool] = []

    async def put_after_rival(key: str, data: bytes) -> BlobInfo:
        if not started:  # only our first put; the rival's own put goes straight through
            started.append(True)
            raced.append(await _import_in_own_session(app, org.id, rival))
        return await real_put(key, data)

    monkeypatch.setattr(blobs, "put", put_after_rival)
    with caplog.at_level(logging.INFO, logger="prequel.challenges.library"):
        result = await import_challenge_dir(db, blobs, org, ours)
    assert "was imported concurrently" in caplog.text  # the unique constraint did fire
    await db.commit()
    monkeypatch.undo()

    (rival_result,) = raced
    assert rival_result.created and rival_result.challenge.version == 1
    versions = await list_versions(db, org, "reverse-string")
    if same_content:
        assert not result.created and result.challenge.id == rival_result.challenge.id
        assert [v.version for v in versions] == [1]
    else:
        assert result.created and result.challenge.version == 2 and result.previous_version == 1
        assert [v.version for v in versions] == [2, 1]
    # The loser's orphaned bundle was removed; only the bundles of real versions remain.
    keys = sorted(info.key for info in await blobs.list("challenges/"))
    assert keys == sorted(v.bundle_key for v in versions)


async def test_concurrent_imports_get_distinct_versions(
    tmp_path: Path, app: FastAPI, org: Organization
) -> None:
    first = write_challenge(tmp_path / "a")
    second = write_challenge(tmp_path / "b")
    (second / "README.md").write_text("# Reverse a String\n\nAnother statement.\n")
    results = await asyncio.gather(
        _import_in_own_session(app, org.id, first), _import_in_own_session(app, org.id, second)
    )
    assert all(r.created for r in results)
    assert sorted(r.challenge.version for r in results) == [1, 2]
