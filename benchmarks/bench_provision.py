"""Local provisioner: time from nothing to a RUNNING workspace (create + configure, which
includes the agent's cold start and the starter files going in through it), then the time
to destroy each one with its final archive. Target: create + configure under 1 s at p95.

Runs as root (every workspace gets a uid of its own), on the rate-limiter sample.

    python benchmarks/bench_provision.py [--workspaces N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from prequel.challenges.bundle import pack
from prequel.settings import load_settings
from prequel.workspaces.base import ChallengeFiles, Handle, WorkspaceState, workspace_name
from prequel.workspaces.local import LocalProvisioner

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "challenges" / "rate-limiter"
TARGET_SECONDS = 1.0


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def quiet(line: str) -> None:
    return None


async def run(count: int) -> bool:
    root = Path(tempfile.mkdtemp(prefix="pq-bench-", dir="/tmp"))
    os.chmod(root, 0o711)
    settings = load_settings(
        env="test",
        data_dir=root / "data",
        workspaces={"root": root / "workspaces", "uid_count": count},
        sandbox={"uid_base": random.randrange(600_000, 900_000, 1000)},
    )
    provisioner = LocalProvisioner(settings)
    challenge = ChallengeFiles(slug="rate-limiter", version=1, bundle=pack(SAMPLE))
    handles: list[Handle] = []
    taken: set[int] = set()
    up: list[float] = []
    down: list[float] = []
    archive_bytes = 0
    try:
        for _ in range(count):
            interview_id = uuid.uuid4().hex
            handle = Handle(interview_id, "local", workspace_name(interview_id))
            await provisioner.allocate(handle, taken)
            assert handle.uid is not None
            taken.add(handle.uid)
            handles.append(handle)
            started = time.perf_counter()
            await provisioner.create(handle, challenge, quiet)
            await provisioner.configure(handle, challenge, quiet)
            up.append(time.perf_counter() - started)
            assert await provisioner.status(handle) == WorkspaceState.RUNNING
        while handles:
            handle = handles[-1]
            sink = io.BytesIO()

            async def keep(chunks: AsyncIterator[bytes], sink: io.BytesIO = sink) -> None:
                async for chunk in chunks:
                    sink.write(chunk)

            started = time.perf_counter()
            await provisioner.destroy(handle, keep, quiet)
            down.append(time.perf_counter() - started)
            handles.pop()
            archive_bytes = len(sink.getvalue())
    finally:
        for handle in handles:  # a failure midway: leave nothing running
            await provisioner.destroy(handle, None, quiet)
        await provisioner.close()
        shutil.rmtree(root, ignore_errors=True)

    print(f"{count} workspaces, sequential, rate-limiter sample")
    for label, samples in (("create + configure", up), ("destroy with archive", down)):
        p50, p95 = percentile(samples, 0.5) * 1000, percentile(samples, 0.95) * 1000
        worst = max(samples) * 1000
        print(f"  {label:22} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   max {worst:7.1f} ms")
    print(f"  final archive: {archive_bytes} bytes")
    p95 = percentile(up, 0.95)
    verdict = "OK" if p95 < TARGET_SECONDS else "OVER TARGET"
    print(f"  target: create + configure p95 < {TARGET_SECONDS * 1000:.0f} ms: {verdict}")
    return p95 < TARGET_SECONDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workspaces", type=int, default=20, help="how many to provision")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: every workspace runs as a uid of its own")
    sys.exit(0 if asyncio.run(run(args.workspaces)) else 1)


if __name__ == "__main__":
    main()
