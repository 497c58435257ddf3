"""Interview lifecycle on the embedded default (SQLite, local workspaces, in-process bus).

1. Start to `active`: a take-home is activated through the API and the clock stops when its
   `active` event reaches a bus subscriber (real agents under bubblewrap; must run as root).
   The seeds' system took 3 to 5 minutes. Target: p95 under 1 s.
2. Listing: GET /api/interviews with 10,000 rows (first page, a filtered page, a text search,
   and a page deep in the cursor chain). Target: p95 under 50 ms.

    python benchmarks/bench_lifecycle.py [--starts 20] [--rows 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import insert, select

from prequel.app import create_app
from prequel.cli_support import initialize, issue_token
from prequel.db.models import Challenge, Interview, Organization, new_id
from prequel.db.types import utcnow
from prequel.settings import load_settings
from prequel.state import AppState


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def line(name: str, ms: list[float], target: str) -> str:
    return (
        f"  {name:<34} p50 {percentile(ms, 0.5):7.1f} ms  p95 {percentile(ms, 0.95):7.1f} ms  "
        f"max {max(ms):7.1f} ms  ({target})"
    )


async def wait_for_status(state: AppState, interview_id: str, status: str) -> None:
    subscription = await state.bus.subscribe()
    try:
        async with state.sessions() as db:
            current = (
                await db.execute(select(Interview.status).where(Interview.id == interview_id))
            ).scalar_one()
        if current == status:
            return
        async for event in subscription:
            if event.payload.get("id") == interview_id and event.payload.get("status") == status:
                return
    finally:
        await subscription.close()


async def starts(
    app: FastAPI, client: httpx.AsyncClient, state: AppState, count: int
) -> list[float]:
    timings: list[float] = []
    ids: list[str] = []
    for index in range(count):
        created = await client.post(
            "/api/interviews",
            json={
                "kind": "take_home",
                "candidate_name": f"Candidate {index}",
                "challenge": "rate-limiter",
                "valid_days": 1,
                "duration_minutes": 60,
            },
        )
        body = created.json()
        active = asyncio.create_task(wait_for_status(state, body["id"], "active"))
        await asyncio.sleep(0.01)  # the subscription is open before the clock starts
        began = time.perf_counter()
        # Each candidate from their own address: three Start attempts per IP per hour.
        address = (f"10.0.{index // 250}.{index % 250 + 1}", 40000)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=address), base_url="http://bench"
        ) as candidate:
            # A browser opens the page first: its session cookie and CSRF token.
            page = await candidate.get(f"/take-home/{body['passcode']}")
            token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
            assert token, page.text
            response = await candidate.post(
                f"/api/interviews/{body['id']}/activate",
                json={"passcode": body["passcode"]},
                headers={"X-CSRF-Token": token.group(1)},
            )
        assert response.status_code == 200, response.text
        await asyncio.wait_for(active, 60)
        timings.append((time.perf_counter() - began) * 1000)
        ids.append(body["id"])
    for interview_id in ids:
        gone = asyncio.create_task(wait_for_status(state, interview_id, "destroyed"))
        await asyncio.sleep(0.01)
        await client.post(f"/api/interviews/{interview_id}/destroy")
        await asyncio.wait_for(gone, 60)
    return timings


async def seed_interviews(state: AppState, rows: int) -> None:
    """rows interviews in one INSERT: every 3rd a take-home, 4 in 5 ended (time_up)."""
    async with state.sessions() as db:
        org = (await db.execute(select(Organization))).scalars().first()
        challenge = (await db.execute(select(Challenge))).scalars().first()
        assert org is not None and challenge is not None
        now = utcnow()
        batch = []
        for index in range(rows):
            kind = "live" if index % 3 else "take_home"
            batch.append(
                {
                    "id": new_id(),
                    "org_id": org.id,
                    "kind": kind,
                    "candidate_name": f"Candidate {index:05d}",
                    "challenge_id": challenge.id,
                    "challenge_slug": challenge.slug,
                    "status": "destroyed" if index % 5 else "scheduled",
                    "end_reason": "time_up" if index % 5 else None,
                    "duration_minutes": 60,
                    "created_at": now - timedelta(seconds=index),
                    "updated_at": now,
                    "save_files": True,
                }
            )
        await db.execute(insert(Interview), batch)
        await db.commit()


async def listing(client: httpx.AsyncClient, state: AppState, rows: int) -> dict[str, list[float]]:
    await seed_interviews(state, rows)
    queries = {
        "first page (50)": "/api/interviews?limit=50",
        "filtered: live, destroyed": "/api/interviews?kind=live&status=destroyed&limit=50",
        "text search 'candidate 0042'": "/api/interviews?q=candidate%200042&limit=50",
    }
    results: dict[str, list[float]] = {}
    for name, path in queries.items():
        samples = []
        for _ in range(100):
            began = time.perf_counter()
            response = await client.get(path)
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.text
        results[name] = samples
    # Walk 20 pages deep, then time the 21st page.
    cursor = None
    for _ in range(20):
        page = (
            await client.get(
                "/api/interviews", params={"limit": 50, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        cursor = page["next_cursor"]
    deep = []
    for _ in range(100):
        began = time.perf_counter()
        response = await client.get("/api/interviews", params={"limit": 50, "cursor": cursor})
        deep.append((time.perf_counter() - began) * 1000)
    results["page 21 by cursor"] = deep
    return results


def data_root() -> Path:
    base = Path(tempfile.mkdtemp(prefix="pq-bench-", dir="/tmp"))
    base.chmod(0o755)  # workspace agents run as their own uid and must reach the data
    return base


async def main(count: int, rows: int) -> None:
    base = data_root()
    try:
        settings = load_settings(
            data_dir=base / "data",
            env="test",
            log_level="warning",
            worker={"embedded": True},
            candidates={"lookups_per_ip_per_minute": 100000},
        )
        report = await initialize(settings)
        token = await issue_token(settings, report.admin_email, "bench", 1)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            state: AppState = app.state.prequel
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ) as client:
                started = await starts(app, client, state, count)
                listed = await listing(client, state, rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if started:
        print(f"start to active, {count} take-homes one after another (local, bubblewrap)")
        print(line("activate -> active event", started, "target p95 < 1000 ms"))
    print(f"GET /api/interviews with {rows} rows (in-process, SQLite)")
    for name, samples in listed.items():
        print(line(name, samples, "target p95 < 50 ms"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.starts, args.rows))
