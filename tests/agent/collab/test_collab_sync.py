"""The shared document between clients and with the workspace's files."""

from __future__ import annotations

import asyncio
import time

from tests.agent.collab.conftest import read_file
from tests.agent.collab.yclient import wait_for, yconnect
from tests.agent.conftest import RunningAgent

FILE = "rate_limiter.py"


async def test_two_clients_converge_and_the_file_follows_within_a_second(
    collab: RunningAgent,
) -> None:
    async with (
        yconnect(collab.socket_path, collab.token) as alice,
        yconnect(collab.socket_path, collab.token) as bob,
    ):
        original = alice.text(FILE)
        assert original is not None and original == read_file(collab, FILE)
        assert bob.text(FILE) == original
        # Concurrent edits at both ends, before either sees the other's.
        for i in range(5):
            alice.insert(FILE, 0, f"# alice {i}\n")
            bob.insert(FILE, len(bob.text(FILE) or ""), f"# bob {i}\n")
            await asyncio.sleep(0.01)
        await wait_for(lambda: alice.text(FILE) == bob.text(FILE), what="convergence")
        final = alice.text(FILE)
        assert final is not None
        assert all(f"# alice {i}\n" in final and f"# bob {i}\n" in final for i in range(5))
        edited = time.monotonic()
        await wait_for(lambda: read_file(collab, FILE) == final, seconds=1.0, what="disk")
        assert time.monotonic() - edited <= 1.0
