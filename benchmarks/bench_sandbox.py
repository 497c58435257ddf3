"""Sandbox overhead per run: `python3 -c pass` through the sandbox vs bare, and throughput.

Both sides run the same /usr/bin/python3. Bare runs use asyncio's own subprocess support, so
the added time is what the sandbox costs: namespaces and mounts (bubblewrap), the run's
cgroups, the uid switch, rlimits and our bookkeeping. Targets: at most 10 ms added at the
median and 20 ms at p99. Needs root (it runs the sandbox as a spare uid) or runs as the
current uid otherwise.

    python benchmarks/bench_sandbox.py [--runs N] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from prequel.sandbox.limits import Limits
from prequel.sandbox.outcome import StopReason
from prequel.sandbox.runner import Sandbox

PYTHON = "/usr/bin/python3"
ARGV = [PYTHON, "-c", "pass"]
TARGET_MEDIAN_MS = 10.0
TARGET_P99_MS = 20.0
BENCH_UID = 209999


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def bare_once() -> float:
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *ARGV,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await process.communicate(b"")
    return (time.perf_counter() - started) * 1000


async def sandbox_once(sandbox: Sandbox, limits: Limits) -> float:
    started = time.perf_counter()
    outcome = await sandbox.run(ARGV, limits)
    elapsed = (time.perf_counter() - started) * 1000
    if outcome.reason is not StopReason.EXIT or outcome.exit_code != 0:
        raise SystemExit(f"sandboxed run failed: {outcome.to_json()}")
    return elapsed


async def throughput(sandbox: Sandbox, limits: Limits, runs: int, workers: int) -> float:
    queue = list(range(runs))

    async def worker() -> None:
        while queue:
            queue.pop()
            await sandbox_once(sandbox, limits)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return runs / (time.perf_counter() - started)


def make_workspace(uid: int | None) -> Path:
    base = Path(tempfile.mkdtemp(prefix="prequel-bench-"))
    base.chmod(0o711)  # the sandbox uid must reach the workspace inside
    workspace = base / "workspace"
    workspace.mkdir()
    if uid is not None:
        os.chown(workspace, uid, uid)
    return workspace


async def main(runs: int, workers: int) -> int:
    uid = BENCH_UID if os.geteuid() == 0 else None
    workspace = make_workspace(uid)
    base = workspace.parent
    sandbox = Sandbox(workspace, uid=uid, slot=f"bench-{os.getpid()}")
    limits = Limits()
    try:
        for _ in range(5):  # warm caches on both sides
            await bare_once()
            await sandbox_once(sandbox, limits)
        bare: list[float] = []
        boxed: list[float] = []
        for _ in range(runs):  # interleaved, so both see the same machine load
            bare.append(await bare_once())
            boxed.append(await sandbox_once(sandbox, limits))
        rate = await throughput(sandbox, limits, runs, workers)
    finally:
        await sandbox.close()
        shutil.rmtree(base, ignore_errors=True)

    def row(name: str, samples: list[float]) -> str:
        median, p99 = statistics.median(samples), percentile(samples, 0.99)
        return f"  {name:<10} median {median:7.2f} ms   p99 {p99:7.2f} ms"

    added_median = statistics.median(boxed) - statistics.median(bare)
    added_p99 = percentile(boxed, 0.99) - percentile(bare, 0.99)
    print(f"{' '.join(ARGV)}, {runs} runs each")
    print(row("bare", bare))
    print(row("sandboxed", boxed))
    print(
        f"  added      median {added_median:7.2f} ms   p99 {added_p99:7.2f} ms"
        f"   (targets {TARGET_MEDIAN_MS:g} / {TARGET_P99_MS:g} ms)"
    )
    print(f"  throughput {rate:.1f} sandboxed runs/s with {workers} concurrent workers")
    ok = added_median <= TARGET_MEDIAN_MS and added_p99 <= TARGET_P99_MS
    print("  OK" if ok else "  OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.runs, args.workers)))
