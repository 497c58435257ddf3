"""What only the local backend can get wrong: symlinks, temporary files, leftover folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from prequel.storage.base import InvalidBlobKey
from prequel.storage.local import LocalBlobStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "blobs"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret").write_bytes(b"not for the blob store")
    return path


def _tree(directory: Path) -> list[str]:
    return sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*"))


async def test_a_symlinked_folder_leading_outside_is_refused(root: Path, outside: Path) -> None:
    (root / "link").symlink_to(outside, target_is_directory=True)
    store = LocalBlobStore(root)

    with pytest.raises(InvalidBlobKey, match="outside"):
        await store.put("link/planted", b"x")
    with pytest.raises(InvalidBlobKey):
        await store.put_file("link/planted", outside / "secret")
    with pytest.raises(InvalidBlobKey):
        await store.get("link/secret")
    with pytest.raises(InvalidBlobKey):
        await store.get_to_file("link/secret", root.parent / "copy")
    with pytest.raises(InvalidBlobKey):
        await store.stat("link/secret")
    with pytest.raises(InvalidBlobKey):
        await store.delete("link/secret")
    with pytest.raises(InvalidBlobKey):
        await store.list("link/")

    assert await store.list() == []  # the listing does not follow the link either
    assert _tree(outside) == ["secret"]
    assert not (root.parent / "copy").exists()


async def test_a_symlinked_file_leading_outside_is_refused(root: Path, outside: Path) -> None:
    (root / "leak").symlink_to(outside / "secret")
    store = LocalBlobStore(root)

    with pytest.raises(InvalidBlobKey):
        await store.get("leak")
    with pytest.raises(InvalidBlobKey):
        await store.put("leak", b"overwrite")

    assert await store.list() == []
    assert (outside / "secret").read_bytes() == b"not for the blob store"


async def test_a_root_reached_through_a_symlink_works(tmp_path: Path, root: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    store = LocalBlobStore(alias)

    await store.put("a/b", b"x")

    assert await store.get("a/b") == b"x"
    assert [info.key for info in await store.list()] == ["a/b"]


async def test_writes_leave_no_temporary_files(root: Path) -> None:
    store = LocalBlobStore(root)

    await store.put("a/b", b"one")
    await store.put("a/b", b"two")

    assert _tree(root) == ["a", "a/b"]


async def test_listing_skips_temporary_and_foreign_files(root: Path) -> None:
    store = LocalBlobStore(root)
    await store.put("a/b", b"x")
    (root / "a" / ".b~tmp").write_bytes(b"half-written")  # as left by a crash mid-write
    (root / "a" / "with space").write_bytes(b"not a valid key")

    assert [info.key for info in await store.list()] == ["a/b"]


async def test_delete_prunes_emptied_folders_but_keeps_the_root(root: Path) -> None:
    store = LocalBlobStore(root)
    await store.put("history/abc/workspace.tar.gz", b"x")
    await store.put("history/keep", b"x")

    await store.delete("history/abc/workspace.tar.gz")

    assert _tree(root) == ["history", "history/keep"]
    await store.delete("history/keep")
    assert _tree(root.parent) == ["blobs"]
