"""Host uids for tests, disjoint between the processes of one pytest run (xdist workers) and,
very likely, between runs that overlap on one machine.

Each workspace and sandbox runs as a uid of its own, and stopping one kills every process of
that uid, so two test processes handing out the same uid would kill each other's work. Every
test process owns a region of REGION uids from its worker number and a hash of the run's id;
fixtures take blocks from it with `take`.
"""

from __future__ import annotations

import hashlib
import os

FIRST = 1_000_000
REGION = 100_000
WORKER_SLOTS = 16  # the most xdist workers one run may have
RUN_SLOTS = 40  # overlapping runs are told apart by a hash of their id

_next: int | None = None  # first uid not yet handed out; set on first use, not at import


def worker_index() -> int:
    """0 for gw0 (or without xdist), 1 for gw1, ..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") else 0


def region_start() -> int:
    # Workers of one run share PYTEST_XDIST_TESTRUNUID; a run without xdist is one process.
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or str(os.getpid())
    run_slot = int(hashlib.sha256(run_id.encode()).hexdigest(), 16) % RUN_SLOTS
    index = worker_index()
    assert index < WORKER_SLOTS, f"at most {WORKER_SLOTS} xdist workers share the uid space"
    return FIRST + (run_slot * WORKER_SLOTS + index) * REGION


def take(count: int = 1) -> int:
    """The first of `count` consecutive uids that no other test process of this run uses."""
    global _next
    start = region_start()
    first = start if _next is None else _next
    assert first + count <= start + REGION, "this test process used up its region of uids"
    _next = first + count
    return first


PORTAL_UIDS = 500  # workspaces one test portal may have alive at once


def portal_env() -> dict[str, str]:
    """Settings that give a `prequel serve` subprocess workspace uids of its own (the default
    base would be shared by every portal the suite starts)."""
    return {
        "PREQUEL_SANDBOX__UID_BASE": str(take(PORTAL_UIDS)),
        "PREQUEL_WORKSPACES__UID_COUNT": str(PORTAL_UIDS),
    }
