"""The workspace's shared terminal: one shell on a PTY in the sandbox, many viewers.

The shell outlives any viewer: a dropped WebSocket detaches, and whoever attaches next first
receives the recent scrollback, then live output. If the shell exits (the candidate typed
`exit`), the next attach starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from prequel.sandbox.limits import Limits
from prequel.sandbox.process import SandboxProcess

log = logging.getLogger(__name__)

SCROLLBACK_BYTES = 256 * 1024
SHELL = ["/bin/bash", "-l"]
# The sandbox has no /etc/profile; a prompt with the folder, like a normal login.
SHELL_ENV = {"PS1": r"\[\e[1;34m\]\w\[\e[0m\] \$ "}
# Terminal commands run for the whole interview: no CPU or wall limit on the shell itself,
# but memory and process-count limits still apply to everything started from it.
TERMINAL_LIMITS = Limits(cpu_seconds=3600, wall_seconds=6 * 3600, processes=256)

Viewer = Callable[[bytes], Awaitable[None]]
StartShell = Callable[[], Awaitable[SandboxProcess]]


class Scrollback:
    """The last SCROLLBACK_BYTES of output, so a reconnecting viewer sees the recent screen."""

    def __init__(self, limit: int = SCROLLBACK_BYTES) -> None:
        self.limit = limit
        self._data = bytearray()

    def add(self, chunk: bytes) -> None:
        self._data += chunk
        if len(self._data) > self.limit:
            del self._data[: len(self._data) - self.limit]

    def snapshot(self) -> bytes:
        return bytes(self._data)


class TerminalSession:
    def __init__(self, start_shell: StartShell) -> None:
        self._start_shell = start_shell
        self._process: SandboxProcess | None = None
        self._pump: asyncio.Task[None] | None = None
        self._viewers: set[Viewer] = set()
        self._scrollback = Scrollback()
        self._lock = asyncio.Lock()
        self.size = (24, 80)
        # Hears all the shell's output (the recording).
        self.on_output: Callable[[bytes], None] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and not self._process.done

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    async def attach(self, viewer: Viewer) -> bytes:
        """Register a viewer; returns the scrollback to send it before live output."""
        async with self._lock:
            if not self.running:
                await self._spawn()
            self._viewers.add(viewer)
            return self._scrollback.snapshot()

    def detach(self, viewer: Viewer) -> None:
        self._viewers.discard(viewer)

    async def write(self, data: bytes) -> None:
        """Send keystrokes; after the shell exited, a keystroke starts a new one."""
        async with self._lock:
            if not self.running:
                await self._spawn()
        assert self._process is not None
        await self._process.write_stdin(data)

    def resize(self, rows: int, cols: int) -> None:
        self.size = (rows, cols)
        if self._process is not None and not self._process.done:
            self._process.resize(rows, cols)

    async def close(self) -> None:
        if self._process is not None and not self._process.done:
            await self._process.stop()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def _spawn(self) -> None:
        self._process = await self._start_shell()
        self._process.resize(*self.size)
        self._pump = asyncio.create_task(self._forward(self._process))

    async def _forward(self, process: SandboxProcess) -> None:
        async for _stream, chunk in process.output():
            self._scrollback.add(chunk)
            if self.on_output is not None:
                self.on_output(chunk)
            for viewer in list(self._viewers):
                try:
                    await viewer(chunk)
                except Exception:  # a viewer that went away must not stop the others
                    self._viewers.discard(viewer)
        outcome = await process.wait()
        notice = f"\r\n[shell ended: {outcome.detail or outcome.reason.value}]\r\n".encode()
        self._scrollback.add(notice)
        if self.on_output is not None:
            self.on_output(notice)
        for viewer in list(self._viewers):
            with contextlib.suppress(Exception):
                await viewer(notice)
        log.info("terminal shell ended: %s", outcome.reason.value)
