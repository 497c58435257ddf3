"""Read a Server-Sent Events stream in a background thread, as a browser's EventSource would."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseEvent:
    type: str
    data: dict[str, Any]
    id: str | None = None


@dataclass
class SseReader:
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: list[SseEvent] = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(5, read=None)) as client,
                client.stream("GET", self.url, headers=self.headers) as response,
            ):
                self._response = response
                response.raise_for_status()
                kind, data, event_id = "message", "", None
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if data:
                            with self._lock:
                                self.events.append(SseEvent(kind, json.loads(data), event_id))
                        kind, data, event_id = "message", "", None
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data += line[5:].strip()
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
        except BaseException as exc:
            if not self._stop.is_set():
                self.error = exc

    def snapshot(self) -> list[SseEvent]:
        with self._lock:
            return list(self.events)

    def wait_for(self, predicate: Callable[[SseEvent], bool], timeout: float = 30) -> SseEvent:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            events = self.snapshot()
            for event in events[seen:]:
                if predicate(event):
                    return event
            seen = len(events)
            if self.error is not None:
                raise AssertionError(f"the stream failed: {self.error!r}")
            time.sleep(0.05)
        kinds = [(e.type, e.data.get("status")) for e in self.snapshot()]
        raise AssertionError(f"no matching event within {timeout} s; got {kinds}")

    def statuses(self) -> list[str]:
        return [str(e.data["status"]) for e in self.snapshot() if e.type == "interview_update"]

    def close(self) -> None:
        """Stop reading and close the connection now, not at the next heartbeat."""
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.close()
        self._thread.join(timeout=5)
