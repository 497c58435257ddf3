"""One running sandboxed command: live output, stdin, limit enforcement and a clean end.

Limits and who enforces them:
- wall time: a timer here; CPU time of the whole tree: the run cgroup's cpuacct, polled;
- memory: the cgroup's OOM killer (we read its kill counter); processes: pids.max;
- output: bytes counted per stream here; file size and open files: rlimits set before exec.
When the main process ends or a limit trips, everything else goes too: the outer bwrap and the
PID namespace's init are SIGKILLed through pidfds (the kernel then kills the whole namespace),
and the run cgroup is frozen and SIGKILLed until it is empty. A double-forked daemon that
ignores SIGTERM is still in both, so nothing outlives its run.

PTY mode (the interview terminal) gives the command a pseudo-terminal as its controlling tty.
bwrap's --new-session would call setsid() inside and leave the shell without a controlling
terminal ("no job control in this shell"), so terminal runs omit it. --new-session exists
against TIOCSTI, which pushes keystrokes into the input of the controlling terminal; here
that terminal is the run's own PTY, whose input only comes from the candidate, so nothing
outside can be driven that way. (Kernels >= 6.2 can also turn TIOCSTI off globally with
dev.tty.legacy_tiocsti=0; `prequel doctor` reports it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import os
import signal
import struct
import subprocess
import termios
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from prequel.sandbox.cgroups import CgroupError, CgroupRun
from prequel.sandbox.limits import MIB, Limits
from prequel.sandbox.outcome import Outcome, StopReason
from prequel.sandbox.streams import OutputLog, StreamCapture

POLL_SECONDS = 0.05
READ_CHUNK = 64 * 1024
DRAIN_SECONDS = 2.0
EXIT_AFTER_KILL_SECONDS = 5.0


@dataclass
class Spawned:
    """What the launcher hands over: the started process and our ends of its descriptors."""

    popen: subprocess.Popen[bytes]
    stdin: int | None  # our write end (the PTY master in terminal mode)
    outputs: dict[str, int]  # stream name -> our read end
    status: int | None = None  # bwrap's --json-status-fd, read end
    cgroup: CgroupRun | None = None
    pty: bool = False
    sandboxed: bool = True  # False: unsafe fallback without bwrap


def _failed(detail: str) -> Outcome:
    return Outcome(StopReason.FAILED_TO_START, None, None, 0, 0, 0, b"", b"", False, False, detail)


class SandboxProcess:
    """An asyncio handle on one sandboxed command. Create it inside a running event loop."""

    def __init__(
        self,
        spawned: Spawned | None,
        limits: Limits,
        *,
        time_limits: bool = True,
        failure: str = "",
        on_finish: Callable[[SandboxProcess], None] | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.limits = limits
        self._spawned = spawned
        self._time_limits = time_limits
        self._on_finish = on_finish
        self._started = time.monotonic()
        self._ended: float | None = None
        self._trip: asyncio.Future[tuple[StopReason, str]] = self._loop.create_future()
        self._exit: asyncio.Future[int] = self._loop.create_future()
        self._json: dict[str, int] = {}
        self._json_buffer = b""
        self._init_pidfd: int | None = None
        self.pid: int | None = None
        self._rusage_cpu_ns = 0
        pty = spawned is not None and spawned.pty
        self._log = OutputLog(replay=not pty)
        streams = spawned.outputs if spawned is not None else {"stdout": -1, "stderr": -1}
        self._captures = {
            name: StreamCapture(limits.output_bytes, keep_tail=pty) for name in streams
        }
        self._stdin = spawned.stdin if spawned is not None else None
        self._stdin_waiter: asyncio.Future[None] | None = None
        self._stdin_closed = False  # by close_stdin(), as opposed to the run having ended
        self._fds: set[int] = set()  # every descriptor we still have to close
        self._done: asyncio.Future[Outcome]
        if spawned is None:
            self._log.close()
            self._done = self._loop.create_future()
            self._done.set_result(_failed(failure))
            return
        self.pid = spawned.popen.pid
        self._pidfd: int | None = os.pidfd_open(spawned.popen.pid)
        self._loop.add_reader(self._pidfd, self._on_exit)
        for fd in (spawned.stdin, *spawned.outputs.values(), spawned.status):
            if fd is not None:
                os.set_blocking(fd, False)
                self._fds.add(fd)
        if spawned.status is not None:
            self._loop.add_reader(spawned.status, self._on_status)
        self._done = asyncio.ensure_future(self._supervise())

    @classmethod
    def failed(cls, limits: Limits, detail: str) -> SandboxProcess:
        """A handle whose wait() reports FAILED_TO_START at once."""
        return cls(None, limits, failure=detail)

    # Public API ----------------------------------------------------------------------------

    async def write_stdin(self, data: bytes) -> None:
        """Send input; returns quietly if the process no longer reads it or has ended."""
        if self._stdin_closed:
            raise ValueError("stdin is closed")
        view = memoryview(data)
        while view:
            fd = self._stdin
            if fd is None:  # the run ended while we waited
                return
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                self._stdin_waiter = self._loop.create_future()
                try:
                    await self._ready(fd, write=True, also=self._stdin_waiter)
                finally:
                    self._stdin_waiter = None
            except OSError as error:  # EPIPE (pipe) or EIO (PTY): the reader is gone
                if error.errno in (errno.EPIPE, errno.EIO):
                    return
                raise

    async def close_stdin(self) -> None:
        """End of input: closes the pipe, or sends Ctrl-D to a terminal."""
        if self._spawned is not None and self._spawned.pty:
            await self.write_stdin(b"\x04")
        elif self._stdin is not None:
            fd, self._stdin = self._stdin, None
            self._stdin_closed = True
            self._fds.discard(fd)
            os.close(fd)

    def resize(self, rows: int, cols: int) -> None:
        """Set the terminal size (PTY mode); the foreground process gets SIGWINCH."""
        if self._spawned is None or not self._spawned.pty or self._stdin is None:
            raise ValueError("resize needs a PTY-mode process")
        fcntl.ioctl(self._stdin, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def output(self) -> AsyncIterator[tuple[str, bytes]]:
        """("stdout" | "stderr", bytes) as they arrive; ends when the run has ended."""
        return self._log.read()

    async def stop(self) -> Outcome:
        """Kill the run (reason KILLED unless it had already ended) and return its Outcome."""
        self._trip_once(StopReason.KILLED, "stopped on request")
        return await asyncio.shield(self._done)

    async def wait(self) -> Outcome:
        return await asyncio.shield(self._done)

    @property
    def done(self) -> bool:
        return self._done.done()

    # Events --------------------------------------------------------------------------------

    def _trip_once(self, reason: StopReason, detail: str) -> None:
        # The first reason wins; once the main process has ended by itself only an output
        # overflow (still being drained) can change how the run is reported.
        if self._trip.done() or (self._exit.done() and reason is not StopReason.OUTPUT_LIMIT):
            return
        self._trip.set_result((reason, detail))

    def _on_exit(self) -> None:
        assert self._spawned is not None and self._pidfd is not None
        pid, status, usage = os.wait4(self._spawned.popen.pid, os.WNOHANG)
        if pid == 0:
            return
        # Without cgroups this is the best CPU figure there is (main process and what it reaped).
        self._rusage_cpu_ns = int((usage.ru_utime + usage.ru_stime) * 1e9)
        self._ended = time.monotonic()
        self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        code = os.waitstatus_to_exitcode(status)
        self._spawned.popen.returncode = code  # so Popen knows it was reaped
        self._exit.set_result(code)

    def _on_status(self) -> None:
        """bwrap's JSON lines: the namespace init's pid, then the command's exit code."""
        assert self._spawned is not None
        fd = self._spawned.status
        if fd is None or fd not in self._fds:  # no bwrap (unsafe mode), or already closed
            return
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._loop.remove_reader(fd)
            return
        self._json_buffer += data
        *lines, self._json_buffer = self._json_buffer.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                if isinstance(item, dict):
                    self._json.update({k: v for k, v in item.items() if isinstance(v, int)})
        init = self._json.get("child-pid")
        if init is not None and self._init_pidfd is None and not self._exit.done():
            # Taken while the outer bwrap (its parent) still runs, so it names that process.
            with contextlib.suppress(OSError):
                self._init_pidfd = os.pidfd_open(init)

    async def _ready(
        self, fd: int, *, write: bool = False, also: asyncio.Future[None] | None = None
    ) -> None:
        """Wait until fd is readable (or writable), or until `also` is resolved."""
        waiter = also if also is not None else self._loop.create_future()

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        add, remove = (
            (self._loop.add_writer, self._loop.remove_writer)
            if write
            else (self._loop.add_reader, self._loop.remove_reader)
        )
        add(fd, wake)
        try:
            await waiter
        finally:
            remove(fd)

    # The run's life ------------------------------------------------------------------------

    async def _pump(self, name: str, fd: int) -> None:
        assert self._spawned is not None
        capture, pty = self._captures[name], self._spawned.pty
        while True:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                await self._ready(fd)
                continue
            except OSError as error:
                if error.errno == errno.EIO:  # PTY: every holder of the other side is gone
                    return
                raise
            if not data:
                return
            self._log.append(name, capture.add(data))
            if pty:
                await self._log.wait_for_readers()
            elif capture.truncated:
                self._trip_once(
                    StopReason.OUTPUT_LIMIT,
                    f"{name} went past the output limit ({_size(capture.limit)})",
                )

    async def _watch(self) -> None:
        assert self._spawned is not None
        limits, cgroup, pty = self.limits, self._spawned.cgroup, self._spawned.pty
        deadline = self._started + limits.wall_seconds if self._time_limits else None
        while True:
            delay = (
                POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
            )
            await asyncio.sleep(max(delay, 0))
            if deadline is not None and time.monotonic() >= deadline:
                self._trip_once(
                    StopReason.TIME_LIMIT,
                    f"ran for {limits.wall_seconds:g} s (limit {limits.wall_seconds:g} s)",
                )
                return
            if cgroup is None:
                continue
            cpu = cgroup.cpu_ns() / 1e9
            if self._time_limits and cpu >= limits.cpu_seconds:
                self._trip_once(
                    StopReason.CPU_LIMIT,
                    f"used {cpu:.1f} s of CPU (limit {limits.cpu_seconds:g} s)",
                )
                return
            if not pty and cgroup.oom_kills():
                self._trip_once(StopReason.MEMORY_LIMIT, self._memory_detail())
                return

    async def _supervise(self) -> Outcome:
        spawned = self._spawned
        assert spawned is not None
        pumps = [asyncio.ensure_future(self._pump(n, fd)) for n, fd in spawned.outputs.items()]
        watchdog = asyncio.ensure_future(self._watch())
        try:
            first: set[asyncio.Future[Any]] = {self._exit, self._trip}
            await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
            watchdog.cancel()
            if not self._exit.done():
                await self._kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._exit), EXIT_AFTER_KILL_SECONDS)
            self._on_status()  # whatever bwrap wrote last (the exit code)
            emptied = await self._kill()  # what outlived the main process, if anything
            await self._reap_init()
            _done, pending = await asyncio.wait(pumps, timeout=DRAIN_SECONDS) if pumps else ((), ())
            for pump in pending:
                pump.cancel()
            outcome = self._outcome()
            if not emptied:
                outcome = _with_detail(outcome, "some processes could not be killed")
            return outcome
        finally:
            watchdog.cancel()
            for pump in pumps:
                pump.cancel()
            await self._release()

    async def _reap_init(self) -> None:
        """Reap the namespace's init, which bwrap leaves behind (see become_subreaper)."""
        fd = self._init_pidfd
        deadline = time.monotonic() + EXIT_AFTER_KILL_SECONDS
        while fd is not None and time.monotonic() < deadline:
            try:
                reaped = os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG)  # noqa: ASYNC222
                if reaped is not None:  # (WNOHANG: never blocks)
                    return
            except ChildProcessError:  # not ours to reap (we are no subreaper), or done
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready(fd), 0.1)

    async def _kill(self) -> bool:
        """SIGKILL bwrap, the namespace's init and everything in the cgroup; True when empty."""
        assert self._spawned is not None
        for pidfd in (self._pidfd, self._init_pidfd):
            if pidfd is not None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        cgroup = self._spawned.cgroup
        if cgroup is not None:
            return await cgroup.kill(reap_except={self._spawned.popen.pid})
        if not self._spawned.sandboxed:  # unsafe mode without cgroups: the process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._spawned.popen.pid, signal.SIGKILL)
        return True

    async def _release(self) -> None:
        assert self._spawned is not None
        spawned = self._spawned
        self._log.close()
        if spawned.status is not None and spawned.status in self._fds:
            self._loop.remove_reader(spawned.status)
        if self._pidfd is not None:  # bwrap never exited (stuck in the kernel): stop watching
            self._loop.remove_reader(self._pidfd)
            self._fds.add(self._pidfd)
        if self._init_pidfd is not None:
            self._fds.add(self._init_pidfd)
        self._stdin = self._init_pidfd = self._pidfd = None
        if self._stdin_waiter is not None and not self._stdin_waiter.done():
            self._stdin_waiter.set_result(None)  # a blocked write_stdin returns
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()
        try:
            if spawned.cgroup is not None:  # back to the slot's pool, empty
                with contextlib.suppress(CgroupError):
                    await spawned.cgroup.release()
        finally:
            if self._on_finish is not None:
                self._on_finish(self)

    def _outcome(self) -> Outcome:
        assert self._spawned is not None
        spawned, limits = self._spawned, self.limits
        ended = self._ended if self._ended is not None else time.monotonic()
        code = spawned.popen.returncode
        exit_code, signum = _decode(self._json.get("exit-code", code), spawned.sandboxed)
        if code is not None and code < 0:  # we killed bwrap itself: the command got SIGKILL too
            exit_code, signum = None, -code
        cgroup = spawned.cgroup
        cpu_ns = cgroup.cpu_ns() if cgroup is not None else self._rusage_cpu_ns
        stdout, stderr = self._captures.get("stdout"), self._captures.get("stderr")
        reason, detail = self._trip.result() if self._trip.done() else (StopReason.EXIT, "")
        if not self._trip.done():
            if spawned.sandboxed and "exit-code" not in self._json:
                reason, exit_code, signum = StopReason.FAILED_TO_START, None, None
                said = stderr if stderr is not None else stdout  # a terminal has one stream
                text = said.data if said is not None else b""
                detail = text.decode("utf-8", "replace").strip() or "bubblewrap failed"
            elif cgroup is not None and not spawned.pty and cgroup.oom_kills():
                reason, detail = StopReason.MEMORY_LIMIT, self._memory_detail()
            elif signum == signal.SIGXCPU:
                reason = StopReason.CPU_LIMIT
                detail = f"used {cpu_ns / 1e9:.1f} s of CPU (limit {limits.cpu_seconds:g} s)"
            elif signum is not None:
                detail = f"killed by signal {_signal_name(signum)}"
            else:
                detail = f"exited with code {exit_code}"
        if cgroup is not None and (hits := cgroup.pids_limit_hits()):
            detail += f"; {hits} forks refused by the process limit ({limits.processes})"
        return Outcome(
            reason=reason,
            exit_code=exit_code,
            signal=signum,
            cpu_ms=cpu_ns // 1_000_000,
            wall_ms=int((ended - self._started) * 1000),
            peak_memory_bytes=cgroup.peak_memory() if cgroup is not None else 0,
            stdout=bytes(stdout.data) if stdout is not None else b"",
            stderr=bytes(stderr.data) if stderr is not None else b"",
            stdout_truncated=stdout.truncated if stdout is not None else False,
            stderr_truncated=stderr.truncated if stderr is not None else False,
            detail=detail,
        )

    def _memory_detail(self) -> str:
        return f"ran out of memory (limit {_size(self.limits.memory_bytes)})"


def _decode(code: int | None, sandboxed: bool) -> tuple[int | None, int | None]:
    """(exit code, signal). bwrap reports a signal death as 128+N, like a shell does, so a
    command that itself exits with 129..192 is reported as killed by that signal."""
    if code is None:
        return None, None
    if code < 0:
        return None, -code
    if sandboxed and 128 < code <= 128 + 64:
        return None, code - 128
    return code, None


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB" if n >= MIB and n % (MIB // 4) == 0 else f"{n} bytes"


def _with_detail(outcome: Outcome, note: str) -> Outcome:
    return replace(outcome, detail=f"{outcome.detail}; {note}" if outcome.detail else note)
