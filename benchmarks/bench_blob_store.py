"""Latency of a put followed by a get, per blob store backend and blob size.

    python benchmarks/bench_blob_store.py [--iterations N] [--budget SECONDS]

The S3 figures come from a local moto server (started here if moto[server] is installed),
so they show the cost of the HTTP round trips and the worker-thread hops, not of a real S3
region, where network latency dominates. Each case stops early when it exceeds its time
budget, which keeps a whole run under about 20 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx

from prequel.settings import load_settings
from prequel.storage.base import BlobStore
from prequel.storage.factory import open_blob_store

SIZES = {"1 KiB": 1024, "1 MiB": 1024 * 1024}
WARMUP = 3


@contextmanager
def moto_server(log_path: Path) -> Iterator[str | None]:
    """Yield the URL of a fresh moto server, or None when none can be started."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        yield None
        return
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(executable), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 15
            while process.poll() is None and time.monotonic() < deadline:
                try:
                    httpx.get(url, timeout=0.5)
                except httpx.TransportError:
                    time.sleep(0.05)
                else:
                    yield url
                    return
            yield None
        finally:
            process.terminate()
            process.wait(timeout=5)


async def measure(store: BlobStore, size: int, iterations: int, budget: float) -> list[float]:
    """Milliseconds of each put+get; the first few runs warm connections and caches."""
    data = os.urandom(size)
    samples: list[float] = []
    stop_at = time.perf_counter() + budget
    for i in range(WARMUP + iterations):
        key = f"bench/{size}/{i}"
        started = time.perf_counter()
        await store.put(key, data)
        if await store.get(key) != data:
            raise RuntimeError(f"{store.name} returned different bytes for {key}")
        elapsed = time.perf_counter() - started
        if i >= WARMUP:
            samples.append(elapsed * 1000)
        if time.perf_counter() > stop_at and len(samples) >= 2:
            break
    return samples


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


async def run(iterations: int, budget: float) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="prequel-bench-") as tmp,
        moto_server(Path(tmp) / "moto_server.log") as endpoint,
    ):
        stores = {"local": await open_blob_store(load_settings(data_dir=Path(tmp) / "data"))}
        if endpoint is None:
            print("s3: skipped, moto_server could not be started (pip install 'moto[server]')")
        else:
            storage = {
                "backend": "s3",
                "s3": {
                    "bucket": "prequel-bench",
                    "endpoint_url": endpoint,
                    "create_bucket": True,
                    "access_key_id": "testing",
                    "secret_access_key": "testing",
                },
            }
            stores["s3"] = await open_blob_store(load_settings(data_dir=tmp, storage=storage))
        try:
            print(f"{'backend':8} {'size':6} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
            medians: dict[tuple[str, str], float] = {}
            for label, size in SIZES.items():
                for name, store in stores.items():
                    samples = await measure(store, size, iterations, budget)
                    p50, p95, p99 = percentiles(samples)
                    medians[name, label] = p50
                    print(
                        f"{name:8} {label:6} {len(samples):>4} {p50:>8.2f} {p95:>8.2f} {p99:>8.2f}"
                    )
            if "s3" in stores:
                for label in SIZES:
                    ratio = medians["s3", label] / medians["local", label]
                    print(f"local:s3 p50 ratio for {label}: 1:{ratio:.1f}")
        finally:
            for store in stores.values():
                await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200, help="put+get pairs per case")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per case at most")
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error("--iterations must be at least 2 to compute percentiles")
    asyncio.run(run(args.iterations, args.budget))


if __name__ == "__main__":
    main()
