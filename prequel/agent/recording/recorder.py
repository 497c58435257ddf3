"""The workspace's recording: every event on one numbered timeline, for the portal to collect
(docs/agent-protocol.md, "Recording"; the format is docs/recording-format.md).

`record()` is cheap and never raises: it stamps the event and appends it to the buffer (memory
and a buffered file), and wakes whoever waits for events. Terminal and run output is coalesced
for 50 ms into one event. A task flushes the buffer to disk once a second. When the state
folder cannot be used, recording is off: `record()` does nothing and the endpoint says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection

from prequel.agent.auth import caller_role
from prequel.agent.collab.identity import ROLE_HEADER, Identity, identity_of
from prequel.agent.collab.settings import CollabSettings, StateDirError, prepare_state_dir
from prequel.agent.errors import AgentError
from prequel.agent.recording.buffer import RecordingBuffer
from prequel.agent.state import agent_state

log = logging.getLogger("prequel.agent.recording")

SYSTEM: dict[str, str] = {"id": "system", "name": "System", "role": "system"}
SWITCH_ENV = "PREQUEL_AGENT_RECORDING"
COALESCE_SECONDS = 0.05
FLUSH_SECONDS = 1.0
GATHER_SECONDS = 1.0


def author_of(identity: Identity | None) -> dict[str, str]:
    return SYSTEM if identity is None else identity.as_dict()


def author_of_caller(conn: HTTPConnection) -> dict[str, str]:
    """Who a request acts for. The portal's own calls (the tests it runs at the end carry
    no role header) are the system's doing, not the candidate's."""
    if caller_role(conn) == "portal" and ROLE_HEADER not in conn.headers:
        return SYSTEM
    try:
        return author_of(identity_of(conn))
    except AgentError:
        return SYSTEM


class Recorder:
    def __init__(self, buffer: RecordingBuffer | None, problem: str | None = None) -> None:
        self.buffer = buffer
        self.problem = problem
        self._new = asyncio.Event()
        self._pending: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._coalesce_timer: asyncio.TimerHandle | None = None
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    def start(cls, workspace: Path) -> Recorder:
        if os.environ.get(SWITCH_ENV, "").strip().lower() in ("off", "0", "false", "no"):
            # Only the benchmark of recording's cost sets this; the portal never does.
            return cls(None, f"switched off ({SWITCH_ENV}=off)")
        try:
            settings = CollabSettings.from_env(workspace)
            folder = prepare_state_dir(settings.state_dir, workspace) / "recording"
            buffer = RecordingBuffer(folder)
            buffer.open()
        except (ValueError, StateDirError, OSError) as exc:
            log.error("recording is off: %s", exc)
            return cls(None, str(exc))
        recorder = cls(buffer)
        recorder._flusher = asyncio.get_running_loop().create_task(recorder._flush_loop())
        return recorder

    @property
    def enabled(self) -> bool:
        return self.buffer is not None

    def record(self, author: dict[str, str], kind: str, data: dict[str, Any]) -> None:
        if self.buffer is None:
            return
        self._flush_pending()  # what was coalesced comes first
        self._append(author, kind, data)

    def record_output(
        self, author: dict[str, str], kind: str, key: str, data: dict[str, Any], text: str
    ) -> None:
        """Output-like events (`data["data"]` grows): one event per 50 ms per source."""
        if self.buffer is None:
            return
        slot = (kind, key, author["id"])
        pending = self._pending.get(slot)
        if pending is not None:
            pending["data"]["data"] += text
            return
        # Another source's pending output keeps its place in time: flush it first.
        self._flush_pending()
        self._pending[slot] = {"author": author, "type": kind, "data": {**data, "data": text}}
        loop = asyncio.get_running_loop()
        self._coalesce_timer = loop.call_later(COALESCE_SECONDS, self._flush_pending)

    def _flush_pending(self) -> None:
        if self._coalesce_timer is not None:
            self._coalesce_timer.cancel()
            self._coalesce_timer = None
        pending, self._pending = self._pending, {}
        for event in pending.values():
            self._append(event["author"], event["type"], event["data"])

    def _append(self, author: dict[str, str], kind: str, data: dict[str, Any]) -> None:
        assert self.buffer is not None
        try:
            self.buffer.append(
                {"ts": round(time.time(), 6), "author": author, "type": kind, "data": data}
            )
        except (OSError, ValueError, TypeError) as exc:
            log.error("could not record a %s event: %s", kind, exc)
            return
        self._new.set()

    async def read(self, after: int, limit: int, wait: float) -> list[dict[str, Any]]:
        """Events after `after` (acknowledging everything up to it). With `wait`, waits that
        long for a first event, then gathers up to a second more or until `limit` are in."""
        assert self.buffer is not None
        self.buffer.acknowledge(after)
        events = self.buffer.read(after, limit)
        if events or wait <= 0:
            return events
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while not self.buffer.read(after, 1):
            self._new.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)
        gather_until = loop.time() + GATHER_SECONDS
        while len(self.buffer.read(after, limit)) < limit:
            self._new.clear()
            remaining = gather_until - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)
        self._flush_pending()
        return self.buffer.read(after, limit)

    async def _flush_loop(self) -> None:
        assert self.buffer is not None
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                self.buffer.flush()
            except OSError as exc:
                log.error("could not write the recording to disk: %s", exc)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._flush_pending()
        if self.buffer is not None:
            self.buffer.close()


def recorder(conn: HTTPConnection) -> Recorder:
    """The agent's recorder, started on first use (nothing is made at import or start-up)."""
    found: Recorder | None = getattr(conn.app.state, "recorder", None)
    if found is None:
        found = Recorder.start(agent_state(conn).config.workspace)
        conn.app.state.recorder = found
    return found


def recorder_of(app_state: Any) -> Recorder | None:
    """The recorder if it was started (hooks deep in the agent use this: they never start it,
    the routes do, so a hook is a no-op until the first request)."""
    found: Recorder | None = getattr(app_state, "recorder", None)
    return found
