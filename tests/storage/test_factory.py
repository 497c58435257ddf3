"""open_blob_store: the right backend, and a readable error when it cannot be used."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from prequel.settings import Settings, load_settings
from prequel.storage.base import BlobError
from prequel.storage.factory import open_blob_store
from prequel.storage.local import LocalBlobStore
from tests.support.moto import MOTO_CREDENTIALS

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client


def s3_settings(tmp_path: Path, **s3: Any) -> Settings:
    return load_settings(data_dir=tmp_path / "data", storage={"backend": "s3", "s3": s3})


def unique_bucket() -> str:
    return f"prequel-test-{uuid.uuid4().hex[:16]}"


async def test_local_is_the_default_and_its_folder_is_created(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")

    store = await open_blob_store(settings)

    assert isinstance(store, LocalBlobStore)
    assert store.name == "local"
    assert store.root == (tmp_path / "data" / "blobs").resolve()
    await store.put("k", b"x")
    assert (tmp_path / "data" / "blobs" / "k").read_bytes() == b"x"


async def test_local_path_setting_is_honoured(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, storage={"local": {"path": tmp_path / "b"}})

    store = await open_blob_store(settings)

    assert isinstance(store, LocalBlobStore)
    assert store.root == (tmp_path / "b").resolve()


async def test_local_folder_that_cannot_be_created_is_a_blob_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"in the way")
    settings = load_settings(data_dir=tmp_path, storage={"local": {"path": tmp_path / "file/b"}})

    with pytest.raises(BlobError, match="PREQUEL_STORAGE__LOCAL__PATH"):
        await open_blob_store(settings)


async def test_s3_unreachable_endpoint_is_a_readable_blob_error(tmp_path: Path) -> None:
    # Nothing listens on the discard port; the connection is refused at once.
    settings = s3_settings(tmp_path, endpoint_url="http://127.0.0.1:9", **MOTO_CREDENTIALS)

    with pytest.raises(BlobError) as caught:
        await open_blob_store(settings)

    message = str(caught.value)
    assert "cannot reach S3 at http://127.0.0.1:9" in message
    assert "PREQUEL_STORAGE__S3__ENDPOINT_URL" in message


async def test_s3_missing_bucket_is_a_blob_error_naming_it(
    tmp_path: Path, moto_endpoint: str
) -> None:
    bucket = unique_bucket()
    settings = s3_settings(tmp_path, bucket=bucket, endpoint_url=moto_endpoint, **MOTO_CREDENTIALS)

    with pytest.raises(BlobError) as caught:
        await open_blob_store(settings)

    assert str(caught.value) == (
        f"S3 bucket '{bucket}' does not exist at {moto_endpoint}; create it or set "
        "PREQUEL_STORAGE__S3__CREATE_BUCKET=true"
    )


async def test_s3_create_bucket_creates_it_and_keys_go_under_the_prefix(
    tmp_path: Path, moto_endpoint: str, moto_admin: S3Client
) -> None:
    bucket = unique_bucket()
    settings = s3_settings(
        tmp_path,
        bucket=bucket,
        prefix="prod",
        endpoint_url=moto_endpoint,
        create_bucket=True,
        **MOTO_CREDENTIALS,
    )
    store = await open_blob_store(settings)
    try:
        assert store.name == "s3"
        await store.put("history/a", b"x")
        moto_admin.put_object(Bucket=bucket, Key="other-tool/file", Body=b"y")

        listed = moto_admin.list_objects_v2(Bucket=bucket)
        assert sorted(item["Key"] for item in listed["Contents"]) == [
            "other-tool/file",
            "prod/history/a",
        ]
        assert [info.key for info in await store.list()] == ["history/a"]
    finally:
        await store.close()

    # Opening again finds the bucket that the first open created.
    store = await open_blob_store(settings)
    await store.close()


async def test_s3_half_configured_credentials_are_refused(tmp_path: Path) -> None:
    settings = s3_settings(tmp_path, endpoint_url="http://127.0.0.1:9", access_key_id="only-id")

    with pytest.raises(BlobError, match="SECRET_ACCESS_KEY"):
        await open_blob_store(settings)
