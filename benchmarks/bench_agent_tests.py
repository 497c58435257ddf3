"""Time to the first streamed test result: the Python sample challenge's visible tests through
a real agent (dropped to its own uid) and the real sandbox. Target: first result under 1 s.

Also reports the time to the summary. Needs root (to give the workspace its own uid).

    python benchmarks/bench_agent_tests.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import unix_connect

from prequel.sandbox.ownership import chown_tree

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "challenges" / "rate-limiter"
UID = 250_000 + os.getpid() % 1000
TARGET_MS = 1000.0


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def one_run(socket_path: str, token: str) -> tuple[float, float]:
    async with unix_connect(
        socket_path,
        "ws://agent/tests/stream",
        additional_headers={"Authorization": f"Bearer {token}"},
    ) as ws:
        started = time.perf_counter()
        await ws.send(json.dumps({"type": "start", "which": "visible"}))
        first = None
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "result" and first is None:
                first = time.perf_counter() - started
            if message["type"] == "summary":
                assert message["status"] == "passed", message["detail"]
                assert first is not None
                return first * 1000, (time.perf_counter() - started) * 1000


async def main(runs: int) -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: the workspace gets its own uid")
    home = Path(tempfile.mkdtemp(prefix="pqbench-", dir="/tmp"))
    os.chmod(home, 0o755)
    try:
        workspace = home / "workspace"
        shutil.copytree(SAMPLE / "files", workspace)
        shutil.copytree(SAMPLE / "solution", workspace, dirs_exist_ok=True)
        chown_tree(workspace, UID, UID)
        shutil.copytree(SAMPLE, home / "challenge")
        token = secrets.token_urlsafe(32)
        (home / "token").write_text(token)
        (home / "token").chmod(0o600)
        socket_path = str(home / "agent.sock")
        agent = subprocess.Popen(  # noqa: ASYNC220 - started once, before any timing
            [
                sys.executable,
                "-m",
                "prequel.agent",
                "--workspace",
                str(workspace),
                "--listen",
                f"unix:{socket_path}",
                "--token-file",
                str(home / "token"),
                "--challenge-dir",
                str(home / "challenge"),
                "--user",
                str(UID),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
        )
        assert agent.stdout is not None
        agent.stdout.readline()  # "agent ready on ..."
        try:
            await one_run(socket_path, token)  # warm-up
            firsts, totals = [], []
            for _ in range(runs):
                first, total = await one_run(socket_path, token)
                firsts.append(first)
                totals.append(total)
        finally:
            agent.terminate()
            agent.wait(timeout=15)
            agent.stdout.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    first_median = statistics.median(firsts)
    print(f"rate-limiter visible tests through the agent, {runs} runs (+1 warm-up)")
    print(
        f"  first result  median {first_median:7.1f} ms  p95 {percentile(firsts, 0.95):7.1f} ms"
        f"  median/target {first_median / TARGET_MS:.2f}"
        f"  {'ok' if first_median < TARGET_MS else 'OVER TARGET'}"
    )
    print(
        f"  summary       median {statistics.median(totals):7.1f} ms"
        f"  p95 {percentile(totals, 0.95):7.1f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main(parser.parse_args().runs))
