"""A real S3 endpoint for the test suite: one moto server process per test session.

moto's in-process mocks patch botocore and so skip the HTTP layer; a server process makes
the S3 backend speak real HTTP, as it will to MinIO or AWS.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3.session
import httpx
import pytest

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

MOTO_CREDENTIALS = {"access_key_id": "testing", "secret_access_key": "testing"}
_STARTUP_SECONDS = 20.0


def _moto_server_executable() -> str:
    beside_python = Path(sys.executable).with_name("moto_server")
    found = str(beside_python) if beside_python.exists() else shutil.which("moto_server")
    if found is None:
        pytest.fail("moto_server is not installed; install the dev extras (moto[server])")
    return found


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def run_moto_server(log_path: Path) -> Iterator[str]:
    """Start moto_server on a free port, yield its URL once it answers HTTP, stop it after."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [_moto_server_executable(), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(process, url, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"moto_server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            httpx.get(url, timeout=0.5)
        except httpx.TransportError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"moto_server did not answer at {url} within {_STARTUP_SECONDS:.0f} s")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_moto_server(tmp_path_factory.mktemp("moto") / "moto_server.log") as url:
        yield url


@pytest.fixture(scope="session")
def moto_admin(moto_endpoint: str) -> Iterator[S3Client]:
    """A plain boto3 client for arranging and inspecting the bucket behind the backend."""
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id=MOTO_CREDENTIALS["access_key_id"],
        aws_secret_access_key=MOTO_CREDENTIALS["secret_access_key"],
    )
    yield client
    client.close()


@pytest.fixture
def s3_bucket(moto_admin: S3Client) -> str:
    """A fresh, empty bucket per test, so tests cannot see each other's blobs."""
    bucket = f"prequel-test-{uuid.uuid4().hex[:16]}"
    moto_admin.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def s3_storage(moto_endpoint: str, s3_bucket: str) -> dict[str, Any]:
    """Overrides for load_settings(storage=...) that point at the fresh bucket."""
    return {
        "backend": "s3",
        "s3": {
            "bucket": s3_bucket,
            "prefix": "tenant/",
            "endpoint_url": moto_endpoint,
            **MOTO_CREDENTIALS,
        },
    }
