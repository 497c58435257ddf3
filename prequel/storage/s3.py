"""Blobs in an S3 bucket (AWS, MinIO, Ceph...), for installs with several portal replicas.

AWS S3 itself cannot be reached from the machines this is developed on: the test suite runs
this backend against a real moto server over HTTP (tests/contracts/conftest.py). That checks
the wire protocol, multipart uploads and pagination, not AWS-specific behaviour such as IAM
policies, throttling or region redirects.

boto3 is blocking, so every call runs in a worker thread. Errors about the store become
BlobError with a message naming the bucket, the endpoint and the setting to change; errors
about a caller's own file (the source of put_file, the destination of get_to_file) stay
OSError, as with the local backend.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio.to_thread
import boto3.session
from boto3.exceptions import Boto3Error
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from prequel.settings import S3StorageSettings
from prequel.storage.base import (
    CHUNK_SIZE,
    BlobError,
    BlobInfo,
    BlobNotFound,
    ThreadedBlobStore,
    is_valid_key,
    validate_key,
    validate_prefix,
    write_atomically,
)

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.literals import BucketLocationConstraintType

T = TypeVar("T")

_ENV = "PREQUEL_STORAGE__S3__"

# Fail fast: a portal request waiting on an unreachable store is worse than an error. One
# retry (with jittered backoff) absorbs a dropped connection or a 503 SlowDown.
_CONFIG = Config(
    connect_timeout=3,
    read_timeout=30,
    retries={"max_attempts": 2, "mode": "standard"},
)

# Self-hosted S3 look-alikes are reached by IP or a single host name, so the bucket cannot
# go in the host name; several of them also reject the checksum trailers that botocore
# sends by default since 1.36.
_COMPATIBLE_CONFIG = Config(
    s3={"addressing_style": "path"},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
)

_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED = frozenset(
    {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
)


# One boto3 session per process: it caches the parsed service models, which makes every
# client after the first ~20x cheaper to build. Sessions are not thread-safe, hence the lock.
_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def _make_client(settings: S3StorageSettings, key_id: str | None, secret: str | None) -> S3Client:
    global _session
    config = _CONFIG
    if settings.endpoint_url:
        config = config.merge(_COMPATIBLE_CONFIG)
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(
            "s3",
            endpoint_url=settings.endpoint_url or None,
            region_name=settings.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=config,
        )


class S3BlobStore(ThreadedBlobStore):
    name = "s3"

    def __init__(self, settings: S3StorageSettings) -> None:
        self._settings = settings
        self.bucket = settings.bucket
        # "prod" and "prod/" both mean the folder prod/; keys never run into the prefix.
        stripped = settings.prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        self.endpoint = settings.endpoint_url or f"AWS S3 (region {settings.region})"
        self._access_key_id = settings.access_key_id or None
        secret = settings.secret_access_key
        self._secret_access_key = (secret.get_secret_value() if secret else "") or None
        if (self._access_key_id is None) != (self._secret_access_key is None):
            raise BlobError(
                f"set both {_ENV}ACCESS_KEY_ID and {_ENV}SECRET_ACCESS_KEY, or neither to "
                "use boto3's default credential chain"
            )
        self._client: S3Client | None = None
        self._client_lock = threading.Lock()

    async def open(self) -> None:
        """Check that the bucket is usable (creating it if configured) so a bad setup
        fails at startup rather than on the first interview."""
        await anyio.to_thread.run_sync(self._open)

    async def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # Blocking halves, run in worker threads ----------------------------------------------

    def _get_client(self) -> S3Client:
        # Created on first use, in a worker thread: building a client loads service models
        # from disk, which would stall the event loop.
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = _make_client(
                        self._settings, self._access_key_id, self._secret_access_key
                    )
                except ValueError as exc:
                    raise BlobError(
                        f"invalid S3 endpoint {self._settings.endpoint_url!r}: {exc}; "
                        f"check {_ENV}ENDPOINT_URL"
                    ) from exc
            return self._client

    def _call(self, doing: str, call: Callable[[S3Client], T], key: str | None = None) -> T:
        try:
            return call(self._get_client())
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            raise self._error(exc, doing, key) from exc

    def _error(self, exc: BaseException, doing: str, key: str | None) -> BlobError:
        where = f"bucket {self.bucket!r} at {self.endpoint}"
        # boto3's transfer manager re-raises a ClientError as a bare S3UploadFailedError.
        if isinstance(exc, Boto3Error) and isinstance(exc.__context__, ClientError):
            exc = exc.__context__
        if isinstance(exc, ClientError):
            code = _code(exc)
            if code == "NoSuchKey" and key is not None:
                return BlobNotFound(key)
            if code == "NoSuchBucket":
                return self._missing_bucket()
            if code in _DENIED:
                return BlobError(
                    f"S3 denied access to {where} while {doing} ({code}); check "
                    f"{_ENV}ACCESS_KEY_ID, {_ENV}SECRET_ACCESS_KEY and the bucket policy"
                )
            message = exc.response.get("Error", {}).get("Message", "")
            return BlobError(f"S3 error on {where} while {doing}: {code} {message}".rstrip())
        if isinstance(exc, NoCredentialsError):
            return BlobError(
                f"no S3 credentials for {where}; set {_ENV}ACCESS_KEY_ID and "
                f"{_ENV}SECRET_ACCESS_KEY, or configure boto3's default credential chain"
            )
        if isinstance(exc, BotoConnectionError):
            return BlobError(
                f"cannot reach S3 at {self.endpoint} while {doing} ({exc}); check "
                f"{_ENV}ENDPOINT_URL and that the service is running"
            )
        return BlobError(f"S3 request to {where} failed while {doing}: {exc}")

    def _missing_bucket(self) -> BlobError:
        return BlobError(
            f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}; create it or set "
            f"{_ENV}CREATE_BUCKET=true"
        )

    def _object_key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _open(self) -> None:
        def check(client: S3Client) -> None:
            try:
                client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                # HEAD responses have no body, so a missing bucket is a bare 404.
                if _code(exc) not in _NOT_FOUND:
                    raise
                if not self._settings.create_bucket:
                    raise self._missing_bucket() from exc
                self._create_bucket(client)

        self._call("checking the bucket", check)

    def _create_bucket(self, client: S3Client) -> None:
        region = self._settings.region
        try:
            if region == "us-east-1":  # the one region that refuses a LocationConstraint
                client.create_bucket(Bucket=self.bucket)
            else:
                constraint = cast("BucketLocationConstraintType", region)
                client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": constraint},
                )
        except ClientError as exc:
            # Another replica starting at the same time got there first.
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def _put(self, key: str, data: bytes) -> BlobInfo:
        name = self._object_key(key)
        response = self._call(
            f"writing {key!r}",
            lambda client: client.put_object(Bucket=self.bucket, Key=name, Body=data),
        )
        # PutObject does not return Last-Modified; the server's Date header is the same
        # clock and saves a HEAD request on every write.
        return BlobInfo(key=key, size=len(data), modified_at=_server_time(response))

    def _put_file(self, key: str, source: Path) -> BlobInfo:
        name = self._object_key(key)
        # upload_file switches to a parallel multipart upload above 8 MiB.
        self._call(
            f"writing {key!r}",
            lambda client: client.upload_file(str(source), self.bucket, name),
        )
        info = self._stat(key)
        if info is None:
            raise BlobError(f"blob {key!r} vanished from bucket {self.bucket!r} right after upload")
        return info

    def _get(self, key: str) -> bytes:
        name = self._object_key(key)

        def read(client: S3Client) -> bytes:
            return client.get_object(Bucket=self.bucket, Key=name)["Body"].read()

        return self._call(f"reading {key!r}", read, key)

    def _get_to_file(self, key: str, dest: Path) -> BlobInfo:
        # One GetObject rather than download_file: it yields size and time of the very
        # object that was copied, where download_file needs a separate HEAD.
        name = self._object_key(key)
        response = self._call(
            f"reading {key!r}",
            lambda client: client.get_object(Bucket=self.bucket, Key=name),
            key,
        )
        body = response["Body"]
        try:
            write_atomically(dest, body.iter_chunks(CHUNK_SIZE))
        except BotoCoreError as exc:  # the connection broke mid-stream
            raise self._error(exc, f"reading {key!r}", key) from exc
        finally:
            body.close()
        return BlobInfo(
            key=key, size=response["ContentLength"], modified_at=_utc(response["LastModified"])
        )

    def _stat(self, key: str) -> BlobInfo | None:
        name = self._object_key(key)

        def head(client: S3Client) -> BlobInfo | None:
            try:
                response = client.head_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                if _code(exc) in _NOT_FOUND:
                    return None
                raise
            return BlobInfo(
                key=key,
                size=response["ContentLength"],
                modified_at=_utc(response["LastModified"]),
            )

        return self._call(f"inspecting {key!r}", head)

    def _delete(self, key: str) -> None:
        name = self._object_key(key)
        # S3 answers 204 for a key that does not exist, which is what the protocol wants.
        self._call(
            f"deleting {key!r}", lambda client: client.delete_object(Bucket=self.bucket, Key=name)
        )

    def _list(self, prefix: str) -> builtins.list[BlobInfo]:
        validate_prefix(prefix)

        def collect(client: S3Client) -> builtins.list[BlobInfo]:
            found: builtins.list[BlobInfo] = []
            pages = client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) :]
                    if is_valid_key(key):  # skip "folder" markers and objects of other tools
                        found.append(
                            BlobInfo(
                                key=key, size=item["Size"], modified_at=_utc(item["LastModified"])
                            )
                        )
            return found

        found = self._call(f"listing {prefix!r}", collect)
        found.sort(key=lambda blob: blob.key)
        return found


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _server_time(response: Mapping[str, Any]) -> datetime:
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            return parsedate_to_datetime(date).astimezone(UTC)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)
