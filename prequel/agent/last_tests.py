"""The latest visible test run, so a reopened tab or a second participant sees its results.

Kept in memory and in the collaboration state folder (`last-tests.json`, written atomically),
so a restarted agent still has it. Hidden results are never stored here: anyone with the
workspace token may read them back. The folder is best effort: when it cannot be used the
results live in memory only, and nothing here ever fails a test run or a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection

from prequel.agent.bodies import in_thread
from prequel.agent.collab.log import write_atomic
from prequel.agent.collab.settings import CollabSettings, StateDirError, prepare_state_dir
from prequel.agent.state import agent_state

log = logging.getLogger("prequel.agent.tests")

FILE_NAME = "last-tests.json"
MAX_FILE_BYTES = 32 * 1024 * 1024


class LastTests:
    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.latest: dict[str, Any] | None = None
        self._path: Path | None = None
        self._ready = False  # the folder was looked for and the stored run read (once)
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any] | None:
        async with self._lock:
            await self._prepare()
            return self.latest

    async def record(self, summary: dict[str, Any], results: list[dict[str, Any]]) -> None:
        latest = {"summary": summary, "results": results, "finished_at": time.time()}
        async with self._lock:
            # Read first, so a stored older run never replaces this one afterwards.
            await self._prepare()
            self.latest = latest
            if self._path is None:
                return
            try:
                data = json.dumps(latest, ensure_ascii=False).encode("utf-8", "replace")
                await in_thread(write_atomic, self._path, data)
            except (OSError, ValueError) as exc:
                log.warning("could not store the last test results in %s: %s", self._path, exc)

    async def _prepare(self) -> None:
        if self._ready:
            return
        self._ready = True
        self._path = await in_thread(self._find_path)
        if self._path is not None:
            self.latest = await in_thread(_read, self._path)

    def _find_path(self) -> Path | None:
        try:
            settings = CollabSettings.from_env(self.workspace)
            return prepare_state_dir(settings.state_dir, self.workspace) / FILE_NAME
        except (ValueError, StateDirError, OSError) as exc:
            log.warning("the last test results are kept in memory only: %s", exc)
            return None


def _read(path: Path) -> dict[str, Any] | None:
    """The stored run, or None when there is none or it is damaged."""
    try:
        with path.open("rb") as handle:
            stored = json.loads(handle.read(MAX_FILE_BYTES + 1)[:MAX_FILE_BYTES])
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignored the stored last test results in %s: %s", path, exc)
        return None
    if (
        isinstance(stored, dict)
        and isinstance(stored.get("summary"), dict)
        and isinstance(stored.get("results"), list)
        and isinstance(stored.get("finished_at"), int | float)
    ):
        return stored
    return None


def last_tests(conn: HTTPConnection) -> LastTests:
    """The agent's one store, made on first use (nothing is created at import or start-up)."""
    store: LastTests | None = getattr(conn.app.state, "last_tests", None)
    if store is None:
        store = LastTests(agent_state(conn).config.workspace)
        conn.app.state.last_tests = store
    return store


async def remembered(
    store: LastTests, events: AsyncGenerator[dict[str, Any]]
) -> AsyncGenerator[dict[str, Any]]:
    """Pass a visible run's events through, storing its summary when it comes."""
    async with contextlib.aclosing(events) as inner:
        async for event in inner:
            if event.get("type") == "summary":
                summary = {k: v for k, v in event.items() if k not in ("type", "results")}
                await store.record(summary, list(event.get("results", [])))
            yield event
