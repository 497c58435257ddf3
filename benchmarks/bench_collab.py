"""Live collaboration through the portal's proxy: keystroke propagation, terminal echo, and the
same with many active workspaces on this machine (issue 6's numbers).

A real portal (`prequel serve`, SQLite, local sandboxed workspaces) runs in a subprocess. Live
interviews are created through the API; for each, a candidate joins with the password (session
cookie) and the interviewer connects with an API token. Both speak y-websocket (pycrdt) to
`/w/{id}/agent/collab/doc` through the proxy, as the browser does. One keystroke = one
character inserted into the shared file by one client, timed until the other client's document
holds it (time.monotonic, one clock for both clients in this process).

    python benchmarks/bench_collab.py [--keys 1000] [--workspaces 100] [--seconds 60]

1. one workspace: `--keys` keystrokes every 20 ms, alternating writers; p50/p95/p99/max
   (target: p99 < 30 ms on loopback);
2. terminal echo: `echo`-free raw keystrokes to the shared shell, timed until the shell echoes
   them back (p50/p99);
3. `--workspaces` active workspaces, 2 clients each typing 5 keys per second for `--seconds`:
   propagation p50/p99, the portal's CPU and memory, and per workspace agent CPU and memory
   (from /proc).
Time to an editable editor in a browser is measured by tests/browser (see docs/ide.md) and by
`--browser` here (Playwright, real Chromium).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agent.collab.yclient import YClient
from tests.support.portal_process import PortalProcess, agent_processes, running_portal

FILE = "rate_limiter.py"
TARGET_P99_MS = 30.0
TARGET_EDITABLE_MS = 1000.0
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def row(label: str, samples: list[float], target: float | None = None) -> str:
    if not samples:
        return f"{label:<44} no samples"
    p99 = percentile(samples, 0.99)
    verdict = (
        "" if target is None else ("  ok" if p99 < target else f"  MISSED (target {target:g})")
    )
    return (
        f"{label:<44} n={len(samples):<6} p50 {percentile(samples, 0.5):6.1f}  "
        f"p95 {percentile(samples, 0.95):6.1f}  p99 {p99:6.1f}  max {max(samples):6.1f} ms"
        f"{verdict}"
    )


# Processes ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def portal_pid(portal: PortalProcess) -> int:
    process = getattr(portal, "process", None)
    pid = getattr(process, "pid", None)
    if not isinstance(pid, int):
        raise SystemExit("cannot find the portal's pid")
    return pid


# Sessions -----------------------------------------------------------------------------------


class Workspace:
    def __init__(self, portal: PortalProcess, interview: dict[str, Any]) -> None:
        self.portal = portal
        self.interview = interview
        self.candidate_cookie = ""

    @property
    def id(self) -> str:
        return str(self.interview["id"])

    def url(self, path: str) -> str:
        return self.portal.url.replace("http", "ws", 1) + f"/w/{self.id}/agent/{path}"

    async def join(self, client: httpx.AsyncClient) -> None:
        """Join as the candidate: the session cookie the browser would hold."""
        page = await client.get(f"/join/{self.id}")
        found = CSRF_META.search(page.text)
        assert found, "no CSRF token on the join page"
        joined = await client.post(
            f"/api/interviews/{self.id}/join",
            json={"display_name": "Bench", "password": self.interview["password"]},
            headers={"X-CSRF-Token": found.group(1)},
        )
        assert joined.status_code == 200, joined.text
        self.candidate_cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())

    @asynccontextmanager
    async def socket(self, path: str, *, candidate: bool) -> AsyncIterator[ClientConnection]:
        headers = (
            {"Cookie": self.candidate_cookie}
            if candidate
            else {"Authorization": f"Bearer {self.portal.token}"}
        )
        async with connect(
            self.url(path),
            additional_headers=headers,
            origin=Origin(self.portal.url),
            max_size=64 * 1024 * 1024,
            open_timeout=60,
        ) as ws:
            yield ws


async def create_workspaces(portal: PortalProcess, count: int) -> list[Workspace]:
    async with httpx.AsyncClient(
        base_url=portal.url, headers={"Authorization": f"Bearer {portal.token}"}, timeout=60
    ) as api:
        created: list[Workspace] = []
        for index in range(count):
            while True:
                response = await api.post(
                    "/api/interviews",
                    json={
                        "kind": "live",
                        "candidate_name": f"Candidate {index}",
                        "challenge": "rate-limiter",
                        "duration_minutes": 240,
                    },
                )
                if response.status_code not in (429, 503):
                    break
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            if response.status_code != 201:
                log = portal.log_text()[-3000:]
                raise SystemExit(f"creating workspace {index} failed: {response.text}\n{log}")
            created.append(Workspace(portal, response.json()))
        for workspace in created:
            while True:
                answer = await api.get(f"/api/interviews/{workspace.id}")
                if answer.status_code != 200:  # 503 while the database is busy: ask again
                    print(f"  reading {workspace.id}: {answer.status_code} {answer.text[:120]}")
                    await asyncio.sleep(1)
                    continue
                status = answer.json()["status"]
                if status == "active":
                    break
                if status in ("error", "destroyed"):
                    raise SystemExit(f"workspace {workspace.id} ended up {status}")
                await asyncio.sleep(0.2)
    for index, workspace in enumerate(created):
        # Each candidate from an address of their own, as in life (joins are throttled per IP).
        address = {"X-Forwarded-For": f"10.{index // 250}.{index % 250}.{len(created) % 250}"}
        async with httpx.AsyncClient(base_url=portal.url, timeout=60, headers=address) as browser:
            await workspace.join(browser)
    return created


async def synced(client: YClient) -> None:
    client.start()
    await asyncio.wait_for(client.synced.wait(), 60)
    for _ in range(6000):  # the file arrives with the first sync, or shortly after
        if client.text(FILE) is not None:
            return
        await asyncio.sleep(0.01)
    raise SystemExit(f"{FILE} never appeared in the shared document")


LOST_AFTER_SECONDS = 10.0


async def propagation(writer: YClient, reader: YClient, marker: str, samples: list[float]) -> None:
    """Insert `marker` at the start of the file by `writer`; time until `reader` has it.
    The reader's document wakes us (no polling: 200 polling clients would measure themselves)."""
    arrived = asyncio.Event()
    subscription = reader.doc.observe(lambda _event: arrived.set())
    try:
        started = time.monotonic()
        writer.insert(FILE, 0, marker)
        while not (reader.text(FILE) or "").startswith(marker):
            arrived.clear()
            left = LOST_AFTER_SECONDS - (time.monotonic() - started)
            if left <= 0:
                raise TimeoutError("a keystroke never arrived")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), left)
    finally:
        reader.doc.unobserve(subscription)
    samples.append((time.monotonic() - started) * 1000)


# The measurements ---------------------------------------------------------------------------


async def one_workspace(workspace: Workspace, keys: int) -> list[float]:
    samples: list[float] = []
    async with (
        workspace.socket("collab/doc", candidate=True) as candidate_ws,
        workspace.socket("collab/doc", candidate=False) as staff_ws,
    ):
        candidate, staff = YClient(candidate_ws), YClient(staff_ws)
        await synced(candidate)
        await synced(staff)
        for index in range(keys):
            writer, reader = (candidate, staff) if index % 2 == 0 else (staff, candidate)
            # A distinct character each time, so the reader can tell this one from the last.
            await propagation(writer, reader, chr(0x4E00 + index % 2000), samples)
            await asyncio.sleep(0.02)
        await candidate.stop()
        await staff.stop()
    return samples


async def terminal_echo(workspace: Workspace, count: int) -> list[float]:
    samples: list[float] = []
    async with workspace.socket("terminal", candidate=True) as ws:

        async def drain(seconds: float) -> str:
            seen = ""
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    frame = await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
                except TimeoutError:
                    break
                message = json.loads(frame)
                if message.get("type") == "output":
                    seen += message["data"]
            return seen

        await drain(1.0)  # the scrollback and the prompt
        for index in range(count):
            char = "abcdefghij"[index % 10]
            started = time.monotonic()
            await ws.send(json.dumps({"type": "input", "data": char}))
            seen = ""
            while char not in seen:
                frame = await asyncio.wait_for(ws.recv(), 10)
                message = json.loads(frame)
                if message.get("type") == "output":
                    seen += message["data"]
            samples.append((time.monotonic() - started) * 1000)
            if index % 50 == 49:
                await ws.send(json.dumps({"type": "input", "data": "\x15"}))  # Ctrl-U: clear
                await drain(0.1)
            await asyncio.sleep(0.01)
    return samples


async def many_workspaces(
    workspaces: list[Workspace], seconds: float, keys_per_second: float
) -> tuple[list[float], float]:
    samples: list[float] = []
    stop_at = time.monotonic() + seconds
    errors = 0

    async def pair(workspace: Workspace, offset: float) -> None:
        nonlocal errors
        async with (
            workspace.socket("collab/doc", candidate=True) as candidate_ws,
            workspace.socket("collab/doc", candidate=False) as staff_ws,
        ):
            candidate, staff = YClient(candidate_ws), YClient(staff_ws)
            await synced(candidate)
            await synced(staff)
            await asyncio.sleep(offset)
            index = 0
            while time.monotonic() < stop_at:
                writer, reader = (candidate, staff) if index % 2 == 0 else (staff, candidate)
                tick = time.monotonic()
                try:
                    await propagation(writer, reader, chr(0x4E00 + index % 2000), samples)
                except TimeoutError:
                    errors += 1
                index += 1
                # Each of the two clients types keys_per_second: the pair, twice that.
                await asyncio.sleep(max(0.0, 1 / (2 * keys_per_second) - (time.monotonic() - tick)))
            await candidate.stop()
            await staff.stop()

    count = len(workspaces)
    await asyncio.gather(*(pair(w, i / count) for i, w in enumerate(workspaces)))
    return samples, errors


async def browser_to_editable(
    portal: PortalProcess, workspace: Workspace, runs: int
) -> list[float]:
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

    samples: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = await browser.new_context(viewport={"width": 1366, "height": 820})
        page = await context.new_page()
        await page.goto(portal.url + "/login")
        await page.get_by_label("Email").fill(portal.email)
        await page.get_by_label("Password").fill(portal.password)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url(re.compile(r"/interviews$"))
        for _ in range(runs + 1):  # the first load warms the HTTP cache, as a returning user
            started = time.monotonic()
            await page.goto(f"{portal.url}/w/{workspace.id}/")
            await page.wait_for_selector(
                '#ide .ide-editor .cm-content[contenteditable="true"]', timeout=30_000
            )
            await page.wait_for_function(
                "() => window.prequelIde && window.prequelIde.editorState().text.length > 0"
            )
            samples.append((time.monotonic() - started) * 1000)
        await browser.close()
    return samples[1:]


async def main(args: argparse.Namespace) -> None:
    env = {
        "PREQUEL_WORKER__MINUTE_SECONDS": "60",
        "PREQUEL_WORKSPACES__MAX_CONCURRENT_STARTS": "20",
    }
    with running_portal(**env) as portal:
        print(f"portal {portal.url}; load average {os.getloadavg()[0]:.2f}")
        first = await create_workspaces(portal, 1)
        single = await one_workspace(first[0], args.keys)
        print(row("keystroke, 1 workspace, through the proxy", single, TARGET_P99_MS))
        echo = await terminal_echo(first[0], args.echoes)
        print(row("terminal echo, through the proxy", echo))
        if args.browser:
            editable = await browser_to_editable(portal, first[0], 10)
            print(row("open /w/{id}/ -> editable editor (Chromium)", editable, TARGET_EDITABLE_MS))

        if args.workspaces > 1:
            started = time.monotonic()
            others = await create_workspaces(portal, args.workspaces - 1)
            print(f"started {len(others)} more workspaces in {time.monotonic() - started:.0f} s")
            workspaces = first + others
            pids = agent_processes(portal.data_dir)
            portal_process = portal_pid(portal)
            cpu_before = {pid: cpu_seconds(pid) for pid in [*pids, portal_process]}
            wall = time.monotonic()
            samples, errors = await many_workspaces(workspaces, args.seconds, 5.0)
            wall = time.monotonic() - wall
            agent_cpu = [(cpu_seconds(p) - cpu_before[p]) / wall * 100 for p in pids]
            agent_rss = [rss_bytes(p) / 2**20 for p in pids]
            portal_cpu = (cpu_seconds(portal_process) - cpu_before[portal_process]) / wall * 100
            print(
                row(
                    f"keystroke, {len(workspaces)} workspaces x 2 clients at 5 keys/s",
                    samples,
                    TARGET_P99_MS,
                )
            )
            print(f"  keystrokes lost (10 s timeout): {errors}")
            print(
                f"  per agent: CPU {sum(agent_cpu) / len(agent_cpu):.1f} % of a core "
                f"(max {max(agent_cpu):.1f}), RSS {sum(agent_rss) / len(agent_rss):.0f} MiB "
                f"(max {max(agent_rss):.0f}); {len(pids)} agents"
            )
            print(
                f"  portal: CPU {portal_cpu:.0f} % of a core, RSS "
                f"{rss_bytes(portal_process) / 2**20:.0f} MiB"
            )
            print(f"  load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--echoes", type=int, default=200)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--browser", action="store_true", help="also time the IDE page to editable")
    asyncio.run(main(parser.parse_args()))
