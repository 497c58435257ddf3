"""Runs through the agent's real HTTP and WebSocket interface, in the real sandbox, with the
agent itself dropped to the workspace's own uid."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator

import pytest

from tests.agent.conftest import ROOT, RunningAgent, StartAgent, fresh_uid, short_tempdir
from tests.agent.wsclient import connect, receive, receive_until, send
from tests.support.uid_processes import uid_processes


@pytest.fixture
def sandboxed(start_agent: StartAgent) -> Iterator[RunningAgent]:
    uid = fresh_uid()
    running = start_agent(user=f"{uid}:{uid}")
    yield running
    running.stop()
    left = uid_processes(uid)
    assert left == [], f"processes of the workspace uid outlived the agent: {left}"


async def test_run_a_command_to_the_end(sandboxed: RunningAgent) -> None:
    async with sandboxed.client() as c:
        response = await c.post(
            "/runs", json={"command": ["python3", "-c", "import os; print(6*7, os.getuid())"]}
        )
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["reason"] == "exit"
    assert outcome["exit_code"] == 0
    number, uid = outcome["stdout"].split()
    assert number == "42"
    assert int(uid) != 0
    assert outcome["wall_ms"] >= 0 and outcome["cpu_ms"] >= 0


async def test_run_a_file_and_feed_stdin(sandboxed: RunningAgent) -> None:
    async with sandboxed.client() as c:
        created = await c.put(
            "/files/echo.py", json={"content": "import sys\nprint(sys.stdin.read().upper())\n"}
        )
        assert created.status_code == 201, created.text
        response = await c.post("/runs", json={"file": "echo.py", "stdin": "hello"})
    outcome = response.json()
    assert outcome["exit_code"] == 0, outcome
    assert outcome["stdout"].strip() == "HELLO"


async def test_bad_run_requests_are_clear_errors(sandboxed: RunningAgent) -> None:
    async with sandboxed.client() as c:
        zero = await c.post("/runs", json={"command": ["true"], "limits": {"cpu_seconds": 0}})
        assert zero.status_code == 422
        assert "cpu_seconds" in zero.json()["error"]["message"]
        absurd = await c.post(
            "/runs", json={"command": ["true"], "limits": {"memory_bytes": 10**15}}
        )
        assert absurd.status_code == 422
        both = await c.post("/runs", json={"command": ["true"], "file": "x.py"})
        assert both.status_code == 400
        unknown = await c.post("/runs", json={"file": "rate_limiter.pyc"})
        assert unknown.status_code in (404, 422)
        missing = await c.post("/runs", json={"file": "nope.py"})
        assert missing.status_code == 404


async def test_running_a_symlink_is_refused(sandboxed: RunningAgent) -> None:
    (sandboxed.workspace / "evil.py").symlink_to("/etc/shadow")
    async with sandboxed.client() as c:
        response = await c.post("/runs", json={"file": "evil.py"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "symlink"


async def test_limits_stop_a_run_and_say_why(sandboxed: RunningAgent) -> None:
    async with sandboxed.client() as c:
        response = await c.post(
            "/runs",
            json={"command": ["sleep", "30"], "limits": {"wall_seconds": 1}},
        )
    outcome = response.json()
    assert outcome["reason"] == "time_limit"
    assert outcome["wall_ms"] < 5000


async def test_output_streams_live_and_stdin_works(sandboxed: RunningAgent) -> None:
    code = (
        "import sys, time\n"
        "print('first', flush=True)\n"
        "line = sys.stdin.readline()\n"
        "print('got', line.strip(), flush=True)\n"
        "print('oops', file=sys.stderr)\n"
    )
    async with connect(sandboxed.socket_path, "/runs/stream", sandboxed.token) as ws:
        await send(ws, {"type": "start", "command": ["python3", "-c", code]})
        started = await receive(ws)
        assert started["type"] == "started"
        # "first" arrives while the program still waits for input: it is streamed live.
        first = ""
        while not first.endswith("\n"):
            message = await receive(ws)
            assert message["type"] == "output" and message["stream"] == "stdout", message
            first += message["data"]
        assert first == "first\n"
        await send(ws, {"type": "stdin", "data": "hello\n"})
        before, exit_message = await receive_until(ws, "exit")
    # Chunk boundaries are the kernel's business: compare each stream's whole text.
    stdout = "".join(m["data"] for m in before if m["stream"] == "stdout")
    stderr = "".join(m["data"] for m in before if m["stream"] == "stderr")
    assert stdout == "got hello\n"
    assert stderr == "oops\n"
    assert exit_message["reason"] == "exit" and exit_message["exit_code"] == 0


async def test_a_run_can_be_stopped(sandboxed: RunningAgent) -> None:
    async with connect(sandboxed.socket_path, "/runs/stream", sandboxed.token) as ws:
        await send(ws, {"type": "start", "command": ["sleep", "60"]})
        assert (await receive(ws))["type"] == "started"
        began = time.monotonic()
        await send(ws, {"type": "stop"})
        _, exit_message = await receive_until(ws, "exit", seconds=10)
    assert exit_message["reason"] == "killed"
    assert time.monotonic() - began < 5


async def test_leaving_the_stream_stops_the_run(sandboxed: RunningAgent) -> None:
    async with connect(sandboxed.socket_path, "/runs/stream", sandboxed.token) as ws:
        await send(ws, {"type": "start", "command": ["sleep", "60"]})
        assert (await receive(ws))["type"] == "started"
    uid = sandboxed.workspace.stat().st_uid
    for _ in range(50):
        found = await asyncio.create_subprocess_exec(
            "pgrep", "-x", "sleep", "-u", str(uid), stdout=asyncio.subprocess.DEVNULL
        )
        if await found.wait() == 1:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the run outlived its WebSocket")


async def test_a_bad_first_message_is_refused(sandboxed: RunningAgent) -> None:
    async with connect(sandboxed.socket_path, "/runs/stream", sandboxed.token) as ws:
        await send(ws, {"type": "stdin", "data": "x"})
        error = await receive(ws)
    assert error["type"] == "error"
    assert "start" in error["message"]


async def test_health_reports_a_safe_sandbox_for_an_unprivileged_agent(
    sandboxed: RunningAgent,
) -> None:
    async with sandboxed.client() as c:
        for _ in range(100):
            report = (await c.get("/health")).json()["sandbox"]
            if report is not None:
                break
            await asyncio.sleep(0.05)
    assert report is not None
    failed = [check for check in report["checks"] if not check["ok"] and check["required"]]
    assert report["safe"] is True, failed
    assert "agent ready" in sandboxed.ready_line
    assert "self-test failed" not in sandboxed.log()


async def test_a_challenges_limits_apply_to_runs_and_tests(start_agent: StartAgent) -> None:
    sample = ROOT / "challenges" / "rate-limiter"
    home = short_tempdir("pqa-limits-")
    try:
        os.chmod(home, 0o755)  # noqa: S103 - the workspace uid reads the challenge copy
        challenge = home / "challenge"
        shutil.copytree(sample, challenge)
        with (challenge / "challenge.toml").open("a") as manifest:
            manifest.write("\n[limits]\ncpu_seconds = 1.5\nmemory_bytes = 134217728\n")
        uid = fresh_uid()
        agent = start_agent(user=f"{uid}:{uid}", sample=challenge)
        async with agent.client() as c:
            meta = (await c.get("/meta")).json()
            assert meta["challenge"]["limits"] == {"cpu_seconds": 1.5, "memory_bytes": 134217728}
            burn = await c.post("/runs", json={"command": ["python3", "-c", "while True: pass"]})
        outcome = burn.json()
        assert outcome["reason"] == "cpu_limit", outcome
        assert outcome["cpu_ms"] < 4000
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def test_bad_challenge_limits_stop_the_agent_with_a_reason(start_agent: StartAgent) -> None:
    home = short_tempdir("pqa-limits-")
    try:
        challenge = home / "challenge"
        shutil.copytree(ROOT / "challenges" / "rate-limiter", challenge)
        with (challenge / "challenge.toml").open("a") as manifest:
            manifest.write("\n[limits]\ncpu_seconds = 0\n")
        with pytest.raises(AssertionError, match="cpu_seconds"):
            start_agent(sample=challenge)
    finally:
        shutil.rmtree(home, ignore_errors=True)
