"""Recording's numbers (issue 7): what recording costs the editor, how big a recording is, and
how fast the replay seeks.

    python benchmarks/bench_recording.py [--keys 1000] [--hours 2] [--seeks 50] [--browser]

1. Keystroke latency with recording on against off. Two real agents (`python -m
   prequel.agent`, the rate-limiter challenge) run side by side, one with recording switched
   off (PREQUEL_AGENT_RECORDING=off). Two y-websocket clients (pycrdt) per agent, a candidate
   and an interviewer, alternate keystrokes; each is timed until the other client has it.
   With recording on, a collector polls the agent's `GET /recording` and stores every batch in
   SQLite with the portal's own code, as the worker does. p50/p95/p99 and on/off ratios.
2. Recording size: the bytes the "on" run stored per keystroke (JSON lines as exported, and
   the SQLite database's growth), as bytes per minute of active typing at 5 keys a second,
   and per hour.
3. Seek time: a real portal (`prequel serve`, SQLite) holds a synthetic `--hours` session of
   heavy typing (5 keys a second, terminal output and test runs every minute) made of real
   Yjs updates; its snapshots are built by the portal's code. Then `--seeks` random seeks
   through the HTTP API (`GET /replay/state?ts=`): p50/p95/max against the 300 ms target.
   With `--browser`, the same on the replay page in real Chromium, from setting the
   scrubber to the page showing that moment.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pycrdt import Doc, Map, Text

from prequel.auth.accounts import ensure_organization
from prequel.db import migrate
from prequel.db.engine import create_engine, create_session_factory
from prequel.recording.snapshots import SnapshotWriter
from prequel.recording.store import rows_of, store_rows
from tests.agent.collab.yclient import YClient, raw_connect, staff_headers
from tests.support.factories import make_challenge, make_interview
from tests.support.portal_process import running_portal

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "challenges" / "rate-limiter"
FILE = "rate_limiter.py"
TARGET_SEEK_MS = 300.0
KEYS_PER_SECOND = 5
CANDIDATE = {"id": "candidate", "name": "Candidate", "role": "candidate"}
SYSTEM = {"id": "system", "name": "System", "role": "system"}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def stats(samples: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(samples, 0.5),
        "p95": percentile(samples, 0.95),
        "p99": percentile(samples, 0.99),
        "max": max(samples),
    }


def line(label: str, numbers: dict[str, float]) -> str:
    return f"  {label:34s} " + "  ".join(f"{k} {v:7.2f} ms" for k, v in numbers.items())


# 1 and 2: agents with recording on and off ----------------------------------------------------


class Agent:
    def __init__(self, tmp: Path, name: str, recording: bool) -> None:
        self.dir = tmp / name
        self.dir.mkdir()
        shutil.copytree(SAMPLE / "files", self.dir / "ws")
        self.socket = self.dir / "agent.sock"
        self.token, self.portal_token = (
            f"{name}-candidate-token-0123456789",
            f"{name}-portal-0123456789",
        )
        for file, secret in (("token", self.token), ("portal-token", self.portal_token)):
            (self.dir / file).write_text(secret)
            (self.dir / file).chmod(0o600)
        env = {
            **os.environ,
            "PREQUEL_AGENT_STATE_DIR": str(self.dir / "state"),
            "PREQUEL_AGENT_RECORDING": "on" if recording else "off",
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prequel.agent",
                "--workspace",
                str(self.dir / "ws"),
                "--listen",
                f"unix:{self.socket}",
                "--token-file",
                str(self.dir / "token"),
                "--portal-token-file",
                str(self.dir / "portal-token"),
                "--challenge-dir",
                str(SAMPLE),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "agent.log").open("wb"),
        )

    def http(self, timeout: float = 30) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(self.socket)),
            base_url="http://agent",
            headers={"Authorization": f"Bearer {self.portal_token}"},
            timeout=timeout,
        )

    async def ready(self) -> None:
        for _ in range(500):
            if self.socket.exists():
                try:
                    async with self.http(2) as client:
                        if (await client.get("/health")).status_code == 200:
                            return
                except httpx.HTTPError:
                    pass
            if self.process.poll() is not None:
                raise SystemExit(f"the agent exited: {(self.dir / 'agent.log').read_text()}")
            await asyncio.sleep(0.02)
        raise SystemExit("the agent never became healthy")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@asynccontextmanager
async def client(agent: Agent, staff: bool) -> AsyncIterator[YClient]:
    token = agent.portal_token if staff else agent.token
    headers = staff_headers("interviewer", "u-bench", "Bench") if staff else None
    async with raw_connect(agent.socket, "/collab/doc", token, headers) as ws:
        doc = YClient(ws)
        doc.start()
        await asyncio.wait_for(doc.synced.wait(), 30)
        for _ in range(3000):
            if doc.text(FILE) is not None:
                break
            await asyncio.sleep(0.01)
        try:
            yield doc
        finally:
            await doc.stop()


async def keystroke(writer: YClient, reader: YClient, marker: str) -> float:
    arrived = asyncio.Event()
    subscription = reader.doc.observe(lambda _event: arrived.set())
    try:
        started = time.monotonic()
        writer.insert(FILE, 0, marker)
        while not (reader.text(FILE) or "").startswith(marker):
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 10)
    finally:
        reader.doc.unobserve(subscription)
    return (time.monotonic() - started) * 1000


async def collect(agent: Agent, database: Path, stop: asyncio.Event) -> int:
    """The worker's collector, in short: long-poll, store, acknowledge by asking again."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    await migrate.upgrade(engine)
    sessions = create_session_factory(engine)
    async with sessions() as db:
        org = await ensure_organization(db, "Bench")
        interview = await make_interview(db, org, await make_challenge(db, org), id="bench")
        await db.commit()
        assert interview.id == "bench"
    stored = 0
    try:
        async with agent.http(40) as http:
            while not stop.is_set():
                answer = await http.get("/recording", params={"after": stored, "wait": 1})
                events = answer.json()["events"]
                if events:
                    rows, _ = rows_of("bench", events)
                    async with sessions() as db:
                        stored = max(stored, await store_rows(db, rows))
                        await db.commit()
    finally:
        await engine.dispose()
    return stored


async def typing_run(agent: Agent, keys: int) -> list[float]:
    samples: list[float] = []
    async with client(agent, staff=False) as candidate, client(agent, staff=True) as staff:
        for index in range(keys):
            writer, reader = (candidate, staff) if index % 2 == 0 else (staff, candidate)
            samples.append(await keystroke(writer, reader, chr(0x4E00 + index % 2000)))
            await asyncio.sleep(0.02)
    return samples


async def cost_and_size(keys: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    agents = {"off": Agent(tmp, "off", recording=False), "on": Agent(tmp, "on", recording=True)}
    try:
        for agent in agents.values():
            await agent.ready()
        database = tmp / "recording.db"
        stop = asyncio.Event()
        collector = asyncio.create_task(collect(agents["on"], database, stop))
        results: dict[str, list[float]] = {"off": [], "on": []}
        # Interleaved halves, so a machine hiccup does not land on one side only.
        for half in range(2):
            for name in ("off", "on") if half == 0 else ("on", "off"):
                results[name] += await typing_run(agents[name], keys // 2)
        await asyncio.sleep(2.5)  # the last batch
        stop.set()
        await collector
        print(f"1. keystroke latency, {keys} keystrokes per side (two clients, one agent each)")
        off, on = stats(results["off"]), stats(results["on"])
        print(line("recording off", off))
        print(line("recording on (+ collector)", on))
        print("  on/off ratio:  " + "  ".join(f"{k} {on[k] / off[k]:4.2f}" for k in on))

        with sqlite3.connect(database) as conn:
            count = conn.execute(
                "SELECT count(*) FROM recording_events WHERE type = 'doc.update'"
            ).fetchone()[0]
            all_count = conn.execute("SELECT count(*) FROM recording_events").fetchone()[0]
        exported = 0
        with sqlite3.connect(database) as conn:
            for seq, ts, kind, author_id, name, role, data in conn.execute(
                "SELECT seq, ts, type, author_id, author_name, author_role, data"
                " FROM recording_events WHERE type = 'doc.update'"
            ):
                exported += (
                    len(
                        json.dumps(
                            {
                                "seq": seq,
                                "ts": ts,
                                "author": {"id": author_id, "name": name, "role": role},
                                "type": kind,
                                "data": json.loads(data),
                            },
                            separators=(",", ":"),
                        )
                    )
                    + 1
                )
        per_key = exported / max(1, count)
        per_minute = per_key * KEYS_PER_SECOND * 60
        print(f"2. recording size ({count} keystroke events of {all_count} stored)")
        print(f"  per keystroke: {per_key:6.0f} B as JSON lines")
        print(
            f"  per minute of typing at {KEYS_PER_SECOND} keys/s: {per_minute / 1024:7.1f} KiB"
            f"   per hour: {per_minute * 60 / 1024 / 1024:6.1f} MiB (JSON lines)"
        )
    finally:
        for agent in agents.values():
            agent.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# 3: seeking in a long session ----------------------------------------------------------------


def synthetic_session(hours: float) -> list[dict[str, Any]]:
    """Real Yjs updates, one per keystroke at 5 a second, in a few files, with a newline
    every 40 characters; terminal output and a test run every minute."""
    doc: Doc[Any] = Doc()
    files: Map[Any] = doc.get("files", type=Map)
    updates: list[bytes] = []
    subscription = doc.observe(lambda event: updates.append(event.update))
    events: list[dict[str, Any]] = []
    start = 1_763_800_000.0
    clock = start
    rng = random.Random(7)

    def add(author: dict[str, str], kind: str, data: dict[str, Any]) -> None:
        events.append(
            {
                "seq": len(events) + 1,
                "ts": round(clock, 3),
                "author": author,
                "type": kind,
                "data": data,
            }
        )

    def flush(author: dict[str, str]) -> None:
        for update in updates:
            add(author, "doc.update", {"update": base64.b64encode(update).decode()})
        updates.clear()

    paths = ["rate_limiter.py", "helpers.py", "test_mine.py"]
    for path in paths:
        files[path] = Text("")
    flush(SYSTEM)
    keys = int(hours * 3600 * KEYS_PER_SECOND)
    for index in range(keys):
        clock += 1 / KEYS_PER_SECOND
        text: Text = files[paths[(index // 2000) % len(paths)]]
        length = len(text)
        if index % 10 == 9 and length > 5:
            del text[length - 1 : length]  # a correction now and then
        else:
            at = length if rng.random() < 0.9 else rng.randrange(length + 1)
            text.insert(at, "\n" if index % 40 == 39 else chr(97 + index % 26))
        flush(CANDIDATE)
        if index % (60 * KEYS_PER_SECOND) == 0:
            add(SYSTEM, "terminal.output", {"data": f"$ pytest -q\r\n{'.' * 20} {index}\r\n$ "})
            add(CANDIDATE, "tests.start", {"which": "visible"})
            add(
                SYSTEM,
                "tests.summary",
                {"which": "visible", "status": "failed", "total": 5, "passed": index % 5},
            )
    doc.unobserve(subscription)
    return events


async def fill_portal_database(
    database: Path, interview_id: str, events: list[dict[str, Any]]
) -> float:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        sessions = create_session_factory(engine)
        rows, _ = rows_of(interview_id, events)
        for start in range(0, len(rows), 5000):
            async with sessions() as db:
                await store_rows(db, rows[start : start + 5000])
                await db.commit()
        began = time.perf_counter()
        await SnapshotWriter(sessions, interview_id).catch_up(final=True)
        return time.perf_counter() - began
    finally:
        await engine.dispose()


def database_bytes(database: Path) -> int:
    return sum(
        path.stat().st_size
        for path in (database, database.with_name(database.name + "-wal"))
        if path.exists()
    )


def browser_seeks(
    url: str,
    email: str,
    password: str,
    interview_id: str,
    start_ts: float,
    end_ts: float,
    seeks: int,
) -> list[float]:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

    samples: list[float] = []
    rng = random.Random(11)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(url + "/login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/interviews")
        page.goto(f"{url}/interviews/{interview_id}/replay")
        page.wait_for_selector("[data-replay][data-ready=true]", state="attached", timeout=60_000)
        for _ in range(seeks):
            ms = round(rng.uniform(0, end_ts - start_ts) * 1000)
            elapsed = page.evaluate(
                """async (ms) => {
                    const root = document.querySelector("[data-replay]");
                    const before = root.dataset.seeks;
                    const started = performance.now();
                    const range = document.querySelector("[data-scrubber]");
                    range.value = String(ms);
                    range.dispatchEvent(new Event("input", {bubbles: true}));
                    while (root.dataset.seeks === before) {
                        await new Promise((resolve) => requestAnimationFrame(resolve));
                    }
                    await new Promise((resolve) => requestAnimationFrame(resolve));
                    return performance.now() - started;
                }""",
                ms,
            )
            samples.append(float(elapsed))
        browser.close()
    return samples


async def seek_times(hours: float, seeks: int, browser: bool) -> None:
    began = time.perf_counter()
    events = synthetic_session(hours)
    made = time.perf_counter() - began
    with running_portal() as portal, portal.client() as api:
        created = api.post(
            "/api/interviews",
            json={
                "kind": "take_home",
                "candidate_name": "Long Session",
                "challenge": "rate-limiter",
                "valid_days": 1,
                "duration_minutes": 60,
            },
        )
        assert created.status_code == 201, created.text
        interview_id = created.json()["id"]
        database = portal.data_dir / "prequel.db"
        size_before = database_bytes(database)
        snapshot_seconds = await fill_portal_database(database, interview_id, events)
        with sqlite3.connect(database) as conn:
            snapshots = conn.execute(
                "SELECT count(*), coalesce(sum(length(document)), 0) FROM recording_snapshots"
            ).fetchone()
        print(
            f"3. seeking in a {hours:g} h session of heavy typing: {len(events)} events "
            f"(made in {made:.1f} s); {snapshots[0]} snapshots, "
            f"{snapshots[1] / 1024 / 1024:.1f} MiB, built in {snapshot_seconds:.1f} s"
        )
        grown = database_bytes(database) - size_before
        minutes = hours * 60
        print(
            f"  SQLite grew {grown / 1024 / 1024:.1f} MiB (events, indexes, snapshots): "
            f"{grown / minutes / 1024:.1f} KiB per minute of typing"
        )
        start_ts, end_ts = events[0]["ts"], events[-1]["ts"]
        rng = random.Random(5)
        samples: list[float] = []
        async with httpx.AsyncClient(
            base_url=portal.url, timeout=60, headers={"Authorization": f"Bearer {portal.token}"}
        ) as http:
            await http.get(f"/api/interviews/{interview_id}/replay/state", params={"seq": 1})
            for _ in range(seeks):
                ts = rng.uniform(start_ts, end_ts)
                began = time.perf_counter()
                answer = await http.get(
                    f"/api/interviews/{interview_id}/replay/state", params={"ts": ts}
                )
                samples.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, answer.text
        numbers = stats(samples)
        verdict = "ok" if numbers["p95"] < TARGET_SEEK_MS else "OVER TARGET"
        print(
            line(f"API seek ({seeks} random)", numbers) + f"  p95/target "
            f"{numbers['p95'] / TARGET_SEEK_MS:4.2f} {verdict}"
        )
        if browser:
            page = await asyncio.to_thread(
                browser_seeks,
                portal.url,
                portal.email,
                portal.password,
                interview_id,
                start_ts,
                end_ts,
                seeks,
            )
            numbers = stats(page)
            verdict = "ok" if numbers["p95"] < TARGET_SEEK_MS else "OVER TARGET"
            print(
                line(f"replay page seek ({seeks}, Chromium)", numbers) + f"  p95/target "
                f"{numbers['p95'] / TARGET_SEEK_MS:4.2f} {verdict}"
            )


async def main(args: argparse.Namespace) -> None:
    print(f"recording benchmarks on {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M')}")
    await cost_and_size(args.keys)
    await seek_times(args.hours, args.seeks, args.browser)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--seeks", type=int, default=50)
    parser.add_argument("--browser", action="store_true", help="also seek on the replay page")
    asyncio.run(main(parser.parse_args()))
