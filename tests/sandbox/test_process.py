"""SandboxProcess: streaming, stdin, stop, exit status, and the terminal (PTY) mode."""

from __future__ import annotations

import asyncio

import pytest

from prequel.sandbox.limits import MIB
from prequel.sandbox.outcome import StopReason
from prequel.sandbox.process import SandboxProcess
from prequel.sandbox.runner import Sandbox
from tests.sandbox.conftest import TIGHT, assert_contained, python


async def collect(process: SandboxProcess) -> list[tuple[str, bytes]]:
    return [item async for item in process.output()]


async def test_output_streams_live_and_replays(sandbox: Sandbox) -> None:
    code = (
        "import sys, time\n"
        "print('one'); time.sleep(0.2)\n"
        "print('two', file=sys.stderr); time.sleep(0.2)\n"
        "print('three')"
    )
    process = await sandbox.start(python(code), TIGHT)
    live: list[tuple[float, str, bytes]] = []
    started = asyncio.get_running_loop().time()
    async for stream, chunk in process.output():
        live.append((asyncio.get_running_loop().time() - started, stream, chunk))
    outcome = await process.wait()
    # Unbuffered print() may write the text and its newline separately: merge runs.
    merged: list[tuple[float, str, bytes]] = []
    for at, stream, chunk in live:
        if merged and merged[-1][1] == stream:
            merged[-1] = (merged[-1][0], stream, merged[-1][2] + chunk)
        else:
            merged.append((at, stream, chunk))
    assert [(s, c) for _, s, c in merged] == [
        ("stdout", b"one\n"),
        ("stderr", b"two\n"),
        ("stdout", b"three\n"),
    ]
    # Each line arrived when it was printed, not all at the end.
    assert merged[1][0] - merged[0][0] > 0.1 and merged[2][0] - merged[1][0] > 0.1
    assert (outcome.stdout, outcome.stderr) == (b"one\nthree\n", b"two\n")
    assert await collect(process) == [(s, c) for _, s, c in live]  # a late reader sees it all


async def test_stdin_is_delivered_and_closed(sandbox: Sandbox) -> None:
    process = await sandbox.start(["wc", "-c"], TIGHT)
    await process.write_stdin(b"x" * (1 << 20))  # far beyond the pipe buffer
    await process.close_stdin()
    outcome = await process.wait()
    assert (outcome.reason, outcome.stdout.strip()) == (StopReason.EXIT, b"1048576")
    with pytest.raises(ValueError, match="stdin is closed"):
        await process.write_stdin(b"more")


async def test_stdin_to_a_process_that_stopped_reading_returns(sandbox: Sandbox) -> None:
    process = await sandbox.start(["true"], TIGHT)
    await process.wait()
    await process.write_stdin(b"x" * (1 << 20))  # returns quietly: nobody reads it


async def test_run_feeds_stdin(sandbox: Sandbox) -> None:
    outcome = await sandbox.run(["sort"], TIGHT, stdin=b"b\na\n")
    assert outcome.stdout == b"a\nb\n"


async def test_exit_codes_and_signals(sandbox: Sandbox) -> None:
    exited = await sandbox.run(["sh", "-c", "exit 3"], TIGHT)
    assert (exited.reason, exited.exit_code, exited.signal) == (StopReason.EXIT, 3, None)
    assert exited.detail == "exited with code 3"
    crashed = await sandbox.run(["sh", "-c", "kill -SEGV $$"], TIGHT)
    assert (crashed.reason, crashed.exit_code, crashed.signal) == (StopReason.EXIT, None, 11)
    assert crashed.detail == "killed by signal SIGSEGV"


async def test_accounting(sandbox: Sandbox) -> None:
    code = "import time\nx = bytearray(30 << 20)\nend = time.process_time() + 0.3\n"
    code += "while time.process_time() < end: pass"
    outcome = await sandbox.run(python(code), TIGHT)
    assert outcome.reason is StopReason.EXIT
    assert 300 <= outcome.cpu_ms < 1000
    assert 30 * MIB <= outcome.peak_memory_bytes <= 64 * MIB
    assert outcome.wall_ms >= 300


async def test_a_missing_command_fails_to_start(sandbox: Sandbox) -> None:
    outcome = await sandbox.run(["no-such-command"], TIGHT)
    assert (outcome.reason, outcome.exit_code) == (StopReason.FAILED_TO_START, None)
    assert outcome.detail == "bwrap: execvp no-such-command: No such file or directory"
    assert (await sandbox.run(["sh", "-c", "exit 1"], TIGHT)).reason is StopReason.EXIT


async def test_stop_wait_and_done(sandbox: Sandbox, uid: int) -> None:
    process = await sandbox.start(["sleep", "30"], TIGHT.merged({"wall_seconds": 30}))
    assert not process.done
    outcome = await process.stop()
    assert outcome.reason is StopReason.KILLED
    assert process.done and await process.wait() == outcome and await process.stop() == outcome
    await assert_contained(sandbox, uid)


async def test_runs_start_from_a_prespawned_launcher(sandbox: Sandbox) -> None:
    spares = sandbox.spare_pids()
    assert len(spares) == 1
    process = await sandbox.start(["true"], TIGHT)
    assert process.pid in spares  # the waiting shell became setpriv, then bwrap
    assert (await process.wait()).exit_code == 0
    # Exactly the command line we asked for, with stdin intact and no launcher fd left.
    outcome = await sandbox.run(
        ["sh", "-c", 'echo "$#:$*"; ls /proc/self/fd; cat', "sh", "a b", "c"], TIGHT, stdin=b"in"
    )
    assert outcome.stdout == b"2:a b c\n0\n1\n2\n3\nin", outcome.to_json()
    await asyncio.sleep(0.01)
    assert len(sandbox.spare_pids()) == 1 and sandbox.spare_pids() != spares  # refilled


async def test_concurrent_runs_in_one_workspace(sandbox: Sandbox, uid: int) -> None:
    outcomes = await asyncio.gather(*(sandbox.run(python(f"print({i})"), TIGHT) for i in range(6)))
    assert [o.stdout for o in outcomes] == [f"{i}\n".encode() for i in range(6)]
    assert sandbox.spare_pids()  # a launcher waits for the next run
    await assert_contained(sandbox, uid)


# --- the terminal ----------------------------------------------------------------------------


async def terminal(sandbox: Sandbox, script: bytes, **kwargs: object) -> tuple[bytes, object]:
    process = await sandbox.start(["/bin/bash", "-i"], TIGHT, pty=True, **kwargs)  # type: ignore[arg-type]
    process.resize(40, 120)
    reader = asyncio.ensure_future(collect(process))
    await process.write_stdin(script)
    outcome = await asyncio.wait_for(process.wait(), 10)
    chunks = await reader
    assert {stream for stream, _ in chunks} == {"stdout"}  # one terminal stream
    return b"".join(chunk for _, chunk in chunks), outcome


async def test_terminal_has_job_control_and_a_size(sandbox: Sandbox, uid: int) -> None:
    screen, outcome = await terminal(
        sandbox, b"stty size; sleep 30 & jobs; echo TERM=$TERM; exit 7\n"
    )
    assert b"no job control" not in screen
    assert b"40 120" in screen
    assert b"[1]+  Running" in screen
    assert b"TERM=xterm-256color" in screen
    assert outcome.reason is StopReason.EXIT and outcome.exit_code == 7  # type: ignore[attr-defined]
    await assert_contained(sandbox, uid)  # the background sleep went with the shell


async def test_terminal_has_no_time_limit_but_keeps_memory_limit(
    sandbox: Sandbox, uid: int
) -> None:
    script = (
        b"sleep 1.5; python3 -c 'b = bytearray(1 << 30)'; echo status=$?; "
        b"python3 -c 'while True: pass' & sleep 1.5; kill %1; echo alive; exit\n"
    )
    screen, outcome = await terminal(sandbox, script)
    # 3 s of a shell (wall limit 3 s) and 1.5 s of CPU burn (limit 1 s): no time limits.
    assert b"status=137" in screen  # the memory bomb was OOM-killed, the shell lived on
    assert b"alive" in screen
    assert outcome.reason is StopReason.EXIT  # type: ignore[attr-defined]
    await assert_contained(sandbox, uid)


async def test_terminal_stop(sandbox: Sandbox, uid: int) -> None:
    process = await sandbox.start(["/bin/bash", "-i"], TIGHT, pty=True)
    await asyncio.sleep(0.2)
    assert (await process.stop()).reason is StopReason.KILLED
    await assert_contained(sandbox, uid)
