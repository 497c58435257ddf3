"""Portal request latency, in-process through the full ASGI stack on SQLite.

Prints p50/p95/p99 per endpoint and each endpoint's p50 relative to /health, so the cost of
auth (token lookup, argon2 on login) and of the challenge queries is visible in one run.

    python benchmarks/bench_api.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from prequel.app import create_app
from prequel.cli_support import initialize, issue_token
from prequel.settings import load_settings


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def measure(
    client: httpx.AsyncClient, method: str, path: str, n: int, **kw: object
) -> list[float]:
    timings = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.request(method, path, **kw)  # type: ignore[arg-type]
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code < 400, response.text
    return timings


async def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp), env="test", log_level="warning")
        report = await initialize(settings)
        token = await issue_token(settings, report.admin_email, "bench", 1)
        app = create_app(settings)
        auth = {"Authorization": f"Bearer {token}"}
        login = {"email": report.admin_email, "password": report.admin_password}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                await measure(c, "GET", "/health", 20)  # warm up
                results = {
                    "GET /health": await measure(c, "GET", "/health", requests),
                    "GET /api/auth/me (token)": await measure(
                        c, "GET", "/api/auth/me", requests, headers=auth
                    ),
                    "GET /api/challenges": await measure(
                        c, "GET", "/api/challenges", requests, headers=auth
                    ),
                    "GET /api/challenges/rate-limiter": await measure(
                        c, "GET", "/api/challenges/rate-limiter", requests, headers=auth
                    ),
                    "POST /api/auth/login (argon2)": await measure(
                        c, "POST", "/api/auth/login", max(10, requests // 10), json=login
                    ),
                }
    base = statistics.median(results["GET /health"])
    print(f"{'endpoint':<36} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'x health':>9}")
    for name, samples in results.items():
        p50 = statistics.median(samples)
        print(
            f"{name:<36} {p50:8.2f} {percentile(samples, 0.95):8.2f} "
            f"{percentile(samples, 0.99):8.2f} {p50 / base:9.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(main(parser.parse_args().requests))
