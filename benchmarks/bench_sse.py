"""SSE fan-out latency: 1,000 interviewers' streams on one portal process, memory bus, SQLite.

The portal (create_app under uvicorn, uvloop and httptools, as `prequel serve` runs it) is
served in this process, which also writes the events the way the application does: stage an
`interview_update`, then commit_and_publish. Separate client processes hold the SSE
connections over raw asyncio streams and time each event from just before commit_and_publish
to its arrival (time.monotonic is one clock for every process on the machine). Target: p99
under 50 ms.

    python benchmarks/bench_sse.py [--clients 1000] [--events 200] [--interval 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import uvicorn
from sqlalchemy import select

from prequel.app import create_app
from prequel.cli_support import initialize, issue_token
from prequel.db.models import Organization
from prequel.realtime.outbox import commit_and_publish, stage_event
from prequel.settings import load_settings
from prequel.state import AppState

TARGET_P99_MS = 50.0
CONNECT_BATCH = 100


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# Client processes ---------------------------------------------------------------------------


class SseClient(asyncio.Protocol):
    """One EventSource-like connection as a bare protocol: a thousand of them must cost the
    client processes far less than the server, or the harness measures itself."""

    def __init__(self, token: str, latencies: list[float]) -> None:
        self.token = token
        self.latencies = latencies
        self.connected = asyncio.get_running_loop().create_future()
        self.received = 0
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(
            (
                "GET /api/events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n"
                f"Authorization: Bearer {self.token}\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        arrived = time.monotonic()
        self.buffer += data
        # Chunked framing lines are ignored; only complete `data:` lines matter.
        while (start := self.buffer.find(b"data: ")) >= 0:
            end = self.buffer.find(b"\n", start)
            if end < 0:
                break
            payload = json.loads(self.buffer[start + 6 : end])
            self.buffer = self.buffer[end + 1 :]
            if "t0" in payload:
                self.latencies.append((arrived - payload["t0"]) * 1000)
                self.received += 1
            elif "scope" in payload and not self.connected.done():
                self.connected.set_result(None)
        if len(self.buffer) > 65536 and b"data: " not in self.buffer:
            self.buffer = b""

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.connected.done():
            self.connected.set_exception(ConnectionError(f"the stream closed early: {exc}"))


async def client_process(port: int, token: str, count: int, expected: int) -> None:
    gc.disable()  # the harness's own pauses would show up as latency
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    clients: list[SseClient] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = [SseClient(token, latencies) for _ in range(min(CONNECT_BATCH, count - start))]
        for client in batch:
            await loop.create_connection(lambda c=client: c, "127.0.0.1", port)  # type: ignore[misc]
        await asyncio.gather(*(client.connected for client in batch))
        clients += batch
    print("ready", flush=True)
    # The parent closes our stdin once the last event had time to arrive.
    await loop.run_in_executor(None, sys.stdin.read)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    received = sum(client.received for client in clients)
    print(json.dumps({"latencies": latencies, "missing": count * expected - received}))


# The portal and the publisher ---------------------------------------------------------------


async def start_clients(
    port: int, token: str, clients: int, procs: int, events: int
) -> list[asyncio.subprocess.Process]:
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client-of",
            str(port),
            "--token",
            token,
            "--clients",
            str(share),
            "--events",
            str(events),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for share in shares
        if share
    ]
    for process in processes:
        assert process.stdout is not None
        line = await process.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"a client process failed to connect: {line!r}")
    return processes


async def publish(state: AppState, org_id: str, events: int, interval: float) -> None:
    for n in range(events):
        async with state.sessions() as db:
            payload: dict[str, Any] = {"id": f"interview-{n}", "status": "active"}
            stage_event(db, "interview_update", org_id=org_id, payload=payload)
            # Read when commit_and_publish flushes the row, so it is the start time.
            payload["t0"] = time.monotonic()
            await commit_and_publish(db, state.bus)
        await asyncio.sleep(interval)


async def run(clients: int, events: int, interval: float, procs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp), env="test", log_level="warning", events={"backend": "memory"}
        )
        report = await initialize(settings)
        token = await issue_token(settings, report.admin_email, "bench", 1)
        app = create_app(settings)
        state: AppState = app.state.prequel
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=0,
                log_level="warning",
                http="httptools",
                timeout_graceful_shutdown=5,
                backlog=4096,
            )
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with state.sessions() as db:
            org_id = (await db.execute(select(Organization.id))).scalar_one()

        started = time.perf_counter()
        processes = await start_clients(port, token, clients, procs, events)
        connect_seconds = time.perf_counter() - started

        await publish(state, org_id, events, interval)
        await asyncio.sleep(1.0)  # stragglers

        latencies: list[float] = []
        missing = 0
        for process in processes:
            out, _ = await process.communicate(b"")
            result = json.loads(out.decode().splitlines()[-1])
            latencies += result["latencies"]
            missing += result["missing"]
        server.should_exit = True
        await serving

    print(f"{clients} SSE clients connected in {connect_seconds:.1f} s ({procs} client processes)")
    print(f"{events} interview_update events, one every {interval * 1000:.0f} ms")
    print(f"{len(latencies)} deliveries, {missing} missing")
    print(f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    p99 = percentile(latencies, 0.99)
    print(
        f"{percentile(latencies, 0.50):8.2f} {percentile(latencies, 0.95):8.2f} "
        f"{p99:8.2f} {max(latencies):8.2f}"
    )
    verdict = "meets" if p99 < TARGET_P99_MS and not missing else "MISSES"
    print(f"{verdict} the target: p99 < {TARGET_P99_MS:.0f} ms with no event lost")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between events")
    parser.add_argument("--procs", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--client-of", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit()
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as `prequel serve` does
    except ImportError:
        pass
    if args.client_of:
        asyncio.run(client_process(args.client_of, args.token, args.clients, args.events))
    else:
        asyncio.run(run(args.clients, args.events, args.interval, args.procs))


if __name__ == "__main__":
    main()
