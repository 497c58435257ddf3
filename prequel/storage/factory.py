"""Build the configured blob store and prove it usable before the portal starts serving."""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from prequel.settings import Settings
from prequel.storage.base import BlobError, BlobStore
from prequel.storage.local import LocalBlobStore


async def open_blob_store(settings: Settings) -> BlobStore:
    """The backend named by settings.storage.backend, ready for use; BlobError if it is not."""
    if settings.storage.backend == "s3":
        # Imported here so that local installs never pay for loading boto3.
        from prequel.storage.s3 import S3BlobStore

        store = S3BlobStore(settings.storage.s3)
        try:
            await store.open()
        except BaseException:
            await store.close()
            raise
        return store
    return await anyio.to_thread.run_sync(_open_local, settings.blob_dir)


def _open_local(root: Path) -> LocalBlobStore:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BlobError(
            f"cannot create the blob directory {root}: {exc.strerror or exc}; fix its "
            "permissions or set PREQUEL_STORAGE__LOCAL__PATH"
        ) from exc
    return LocalBlobStore(root)
