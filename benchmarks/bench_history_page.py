"""The History page (server-rendered HTML) with 10,000 interviews in the database.

Seeds the rows the way bench_lifecycle.py does (8,000 of them ended), then times full page
renders through the ASGI app: the first page, a filtered page, a text search, a date range,
and a page deep in the cursor chain. Target: p95 under 50 ms each.

    python benchmarks/bench_history_page.py [--rows 10000] [--samples 100]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import shutil
import time

import httpx
from bench_lifecycle import data_root, line, seed_interviews
from sqlalchemy import update

from prequel.app import create_app
from prequel.cli_support import initialize, issue_token
from prequel.db.models import Interview
from prequel.db.types import utcnow
from prequel.settings import load_settings
from prequel.state import AppState

HTML = {"accept": "text/html"}
OLDER = re.compile(r'rel="next" href="([^"]+)"')


async def mark_end_times(state: AppState) -> None:
    """The shared seed leaves destroyed_at empty; History filters ended rows by it, so each
    ended row gets its creation time as its end time."""
    async with state.sessions() as db:
        await db.execute(
            update(Interview)
            .where(Interview.status == "destroyed")
            .values(destroyed_at=Interview.created_at)
            .execution_options(synchronize_session=False)
        )
        await db.commit()


async def time_page(client: httpx.AsyncClient, path: str, samples: int) -> list[float]:
    timings = []
    for _ in range(samples):
        began = time.perf_counter()
        response = await client.get(path, headers=HTML)
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text[:500]
        assert "<tr data-interview=" in response.text, path
    return timings


async def deep_page(client: httpx.AsyncClient, pages: int) -> str:
    """The URL of page pages + 1, reached by following the Older links."""
    path = "/history"
    for _ in range(pages):
        page = await client.get(path, headers=HTML)
        found = OLDER.search(page.text)
        assert found, f"fewer than {pages} pages"
        path = html.unescape(found.group(1))
    return path


async def main(rows: int, samples: int) -> None:
    base = data_root()
    try:
        settings = load_settings(
            data_dir=base / "data", env="test", log_level="warning", worker={"embedded": False}
        )
        report = await initialize(settings)
        token = await issue_token(settings, report.admin_email, "bench", 1)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            state: AppState = app.state.prequel
            await seed_interviews(state, rows)
            await mark_end_times(state)
            today = utcnow().date().isoformat()
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ) as client:
                scenarios = {
                    "first page (50 rows)": "/history",
                    "filtered: live, time up": "/history?kind=live&end_reason=time_up",
                    "text search 'candidate 0042'": "/history?q=candidate+0042",
                    "ended today (Europe/Paris)": (
                        f"/history?ended_from={today}&ended_to={today}&tz=Europe%2FParis"
                    ),
                    "page 21 by cursor": await deep_page(client, 20),
                }
                results = {
                    name: await time_page(client, path, samples) for name, path in scenarios.items()
                }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"GET /history (HTML) with {rows} interviews (in-process, SQLite)")
    for name, timings in results.items():
        print(line(name, timings, "target p95 < 50 ms"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.samples))
