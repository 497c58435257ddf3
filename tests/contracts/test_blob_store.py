"""The BlobStore contract: every backend must pass every test here, unchanged."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prequel.settings import load_settings
from prequel.storage.base import BlobNotFound, BlobStore, InvalidBlobKey
from prequel.storage.factory import open_blob_store

BIG_SIZE = 12 * 1024 * 1024  # above boto3's 8 MiB multipart threshold


def _names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.is_file())


@pytest.fixture(params=["local", "s3"])
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    overrides: dict[str, Any] = {}
    if request.param == "s3":
        # Looked up lazily so that `-k local` runs without starting moto.
        overrides["storage"] = request.getfixturevalue("s3_storage")
    store = await open_blob_store(load_settings(data_dir=tmp_path / "data", **overrides))
    assert store.name == request.param
    try:
        yield store
    finally:
        await store.close()


@pytest.mark.parametrize(
    "data",
    [b"", b"hello", bytes(range(256)) * 64, b"\x00\r\n\xff"],
    ids=["empty", "text", "all-bytes", "controls"],
)
async def test_put_then_get_returns_the_same_bytes(blob_store: BlobStore, data: bytes) -> None:
    info = await blob_store.put("bundles/x.bin", data)

    assert (info.key, info.size) == ("bundles/x.bin", len(data))
    assert await blob_store.get("bundles/x.bin") == data


async def test_put_replaces_the_previous_blob(blob_store: BlobStore) -> None:
    await blob_store.put("k", b"first version, longer")
    await blob_store.put("k", b"second")

    assert await blob_store.get("k") == b"second"
    stat = await blob_store.stat("k")
    assert stat is not None
    assert stat.size == len(b"second")


async def test_stat_gives_size_and_an_aware_utc_time(blob_store: BlobStore) -> None:
    await blob_store.put("a/b.txt", b"12345")

    info = await blob_store.stat("a/b.txt")

    assert info is not None
    assert (info.key, info.size) == ("a/b.txt", 5)
    assert info.modified_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - info.modified_at) < timedelta(minutes=1)


async def test_stat_of_a_missing_blob_is_none(blob_store: BlobStore) -> None:
    assert await blob_store.stat("nothing/here") is None


async def test_exists(blob_store: BlobStore) -> None:
    await blob_store.put("there", b"x")

    assert await blob_store.exists("there")
    assert not await blob_store.exists("not-there")
    assert not await blob_store.exists("there/below")


async def test_delete_removes_the_blob(blob_store: BlobStore) -> None:
    await blob_store.put("d/doomed", b"x")

    await blob_store.delete("d/doomed")

    assert not await blob_store.exists("d/doomed")
    assert await blob_store.list() == []
    with pytest.raises(BlobNotFound):
        await blob_store.get("d/doomed")


async def test_delete_of_a_missing_blob_is_fine(blob_store: BlobStore) -> None:
    await blob_store.delete("never/existed")


async def test_a_key_can_be_reused_as_a_folder_once_deleted(blob_store: BlobStore) -> None:
    await blob_store.put("a/b", b"x")
    await blob_store.delete("a/b")

    await blob_store.put("a", b"now a blob")

    assert await blob_store.get("a") == b"now a blob"


async def test_get_of_a_missing_blob_raises_blob_not_found(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFound) as caught:
        await blob_store.get("missing.bin")
    assert caught.value.key == "missing.bin"


async def test_get_to_file_of_a_missing_blob_raises_and_writes_nothing(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()

    with pytest.raises(BlobNotFound):
        await blob_store.get_to_file("missing.bin", dest / "file")

    assert _names(dest) == []


async def test_put_file_and_get_to_file_stream_a_big_blob(
    blob_store: BlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "big.bin"
    content = os.urandom(BIG_SIZE)
    source.write_bytes(content)
    dest = tmp_path / "copy.bin"
    dest.write_bytes(b"stale content that must be replaced")

    stored = await blob_store.put_file("archives/big.bin", source)
    fetched = await blob_store.get_to_file("archives/big.bin", dest)

    assert (stored.key, stored.size) == ("archives/big.bin", BIG_SIZE)
    assert (fetched.key, fetched.size) == ("archives/big.bin", BIG_SIZE)
    assert dest.read_bytes() == content
    assert _names(tmp_path) == ["big.bin", "copy.bin"]  # no temporary file left behind


async def test_list_is_sorted_and_filtered_by_prefix(blob_store: BlobStore) -> None:
    # Written out of order, and with sizes that tell them apart.
    keys = ["b/1", "a/b/3", "ab", "a/2", "a/1", "a.txt"]
    for size, key in enumerate(keys, start=1):
        await blob_store.put(key, b"x" * size)

    async def listed(prefix: str) -> list[str]:
        return [info.key for info in await blob_store.list(prefix)]

    assert await listed("") == ["a.txt", "a/1", "a/2", "a/b/3", "ab", "b/1"]
    assert await listed("a/") == ["a/1", "a/2", "a/b/3"]
    assert await listed("a") == ["a.txt", "a/1", "a/2", "a/b/3", "ab"]
    assert await listed("a/b") == ["a/b/3"]
    assert await listed("a/b/") == ["a/b/3"]
    assert await listed("a/1") == ["a/1"]
    assert await listed("c/") == []
    assert await listed("b/1/") == []
    sizes = {info.key: info.size for info in await blob_store.list()}
    assert sizes == {key: size for size, key in enumerate(keys, start=1)}


BAD_KEYS = ["../x", "/abs", "a//b", "a/../b", "a b", "", "a/", "./a", "a\\b", "é"]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_invalid_keys_are_refused(blob_store: BlobStore, key: str, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x")
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: blob_store.put(key, b"x"),
        lambda: blob_store.put_file(key, source),
        lambda: blob_store.get(key),
        lambda: blob_store.get_to_file(key, tmp_path / "dest"),
        lambda: blob_store.stat(key),
        lambda: blob_store.exists(key),
        lambda: blob_store.delete(key),
    ]
    for call in calls:
        with pytest.raises(InvalidBlobKey):
            await call()
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("prefix", ["../", "/abs", "a//", "a b/", "a/../"])
async def test_invalid_list_prefixes_are_refused(blob_store: BlobStore, prefix: str) -> None:
    with pytest.raises(InvalidBlobKey):
        await blob_store.list(prefix)
