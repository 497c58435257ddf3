"""Hostile candidate code, through the real sandbox. Each case checks what must happen, then
that nothing of the run is left on the host and that the same workspace still runs code."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from prequel.sandbox.limits import MIB
from prequel.sandbox.outcome import StopReason
from prequel.sandbox.runner import Sandbox
from tests.sandbox.conftest import TIGHT, assert_contained, python, text

RUNAWAY = {StopReason.CPU_LIMIT, StopReason.TIME_LIMIT}

# --- process bombs ----------------------------------------------------------------------------

BOMBS = {
    "python fork bomb": python("import os\nwhile True:\n  try: os.fork()\n  except OSError: pass"),
    "python thread bomb": python(
        "import threading, time\nwhile True:\n"
        "  try: threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"
        "  except RuntimeError: pass"
    ),
    "shell fork bomb": ["bash", "-c", ":(){ :|:& };:; sleep 10"],
    "node fork bomb": [
        "node",
        "-e",
        "const {spawn} = require('child_process');"
        "function f() { try { spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])"
        ".on('error', () => {}); } catch (e) {} setImmediate(f); } f();",
    ],
    "node thread bomb": [
        "node",
        "-e",
        "const {Worker} = require('worker_threads');"
        "setInterval(() => { try { new Worker('setInterval(() => {}, 1000)', {eval: true})"
        ".on('error', () => {}); } catch (e) {} }, 0);",
    ],
}


@pytest.mark.parametrize("argv", BOMBS.values(), ids=BOMBS.keys())
async def test_process_bombs_hit_the_process_limit_and_are_cleaned_up(
    sandbox: Sandbox, uid: int, argv: list[str]
) -> None:
    limits = TIGHT.merged({"memory_bytes": 256 * MIB, "output_bytes": 1 * MIB})
    outcome = await sandbox.run(argv, limits)
    assert outcome.reason in RUNAWAY | {StopReason.MEMORY_LIMIT}, outcome.to_json()
    assert "refused by the process limit (32)" in outcome.detail
    assert outcome.wall_ms < 4000
    await assert_contained(sandbox, uid)


# --- memory, CPU, time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "b = bytearray(1 << 30)",  # one big allocation, touched at once
        "chunks = []\nwhile True: chunks.append(b'x' * (1 << 20))",  # steady growth
    ],
    ids=["one allocation", "steady growth"],
)
async def test_memory_bomb_is_oom_killed(sandbox: Sandbox, uid: int, code: str) -> None:
    outcome = await sandbox.run(python(code), TIGHT)
    assert outcome.reason is StopReason.MEMORY_LIMIT, outcome.to_json()
    assert outcome.signal == 9
    assert outcome.detail.startswith("ran out of memory (limit 64 MiB)")
    assert outcome.peak_memory_bytes <= 64 * MIB
    await assert_contained(sandbox, uid)


async def test_cpu_burn_split_across_children_trips_the_tree_limit(
    sandbox: Sandbox, uid: int
) -> None:
    # 8 processes each burn a fraction of the budget: no single one nears its rlimit, the
    # tree as a whole does.
    code = "import os\nfor _ in range(3): os.fork()\nwhile True: pass"
    limits = TIGHT.merged({"cpu_seconds": 1.5, "wall_seconds": 10})
    outcome = await sandbox.run(python(code), limits)
    assert outcome.reason is StopReason.CPU_LIMIT, outcome.to_json()
    # Stopped at the tree's 1.5 s, long before any one process could reach its own 3 s rlimit.
    assert 1500 <= outcome.cpu_ms < 3000
    assert outcome.detail.startswith("used 1.")
    await assert_contained(sandbox, uid)


async def test_sleep_forever_hits_the_wall_clock(sandbox: Sandbox, uid: int) -> None:
    outcome = await sandbox.run(["sleep", "infinity"], TIGHT.merged({"wall_seconds": 1}))
    assert outcome.reason is StopReason.TIME_LIMIT, outcome.to_json()
    assert 1000 <= outcome.wall_ms < 1500
    assert outcome.detail == "ran for 1 s (limit 1 s)"
    await assert_contained(sandbox, uid)


async def test_blocking_on_stdin_hits_the_wall_clock(sandbox: Sandbox, uid: int) -> None:
    process = await sandbox.start(
        python("import sys; sys.stdin.read()"), TIGHT.merged({"wall_seconds": 1})
    )
    outcome = await process.wait()  # stdin is never closed
    assert outcome.reason is StopReason.TIME_LIMIT, outcome.to_json()
    await assert_contained(sandbox, uid)


async def test_reading_stdin_with_run_gets_end_of_file(sandbox: Sandbox, uid: int) -> None:
    outcome = await sandbox.run(python("import sys; print(repr(sys.stdin.read()))"), TIGHT)
    assert (outcome.reason, outcome.stdout) == (StopReason.EXIT, b"''\n")


# --- output -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
async def test_output_flood_is_cut_at_the_limit(sandbox: Sandbox, uid: int, stream: str) -> None:
    code = f"import sys\nwhile True: sys.{stream}.write('x' * 65536 + '\\n')"
    outcome = await sandbox.run(python(code), TIGHT)
    assert outcome.reason is StopReason.OUTPUT_LIMIT, outcome.to_json()
    kept = outcome.stdout if stream == "stdout" else outcome.stderr
    assert len(kept) == TIGHT.output_bytes
    assert (outcome.stdout_truncated, outcome.stderr_truncated) == (
        stream == "stdout",
        stream == "stderr",
    )
    assert outcome.detail == f"{stream} went past the output limit (65536 bytes)"
    await assert_contained(sandbox, uid)


async def test_one_giant_line_streams_in_chunks(sandbox: Sandbox, uid: int) -> None:
    process = await sandbox.start(
        # 100 MB without a newline, written in pieces (one string that size would not fit).
        python("import sys\nfor _ in range(1000): sys.stdout.write('y' * 100_000)"),
        TIGHT,
    )
    chunks = [chunk async for _stream, chunk in process.output()]
    outcome = await process.wait()
    assert outcome.reason is StopReason.OUTPUT_LIMIT
    assert b"".join(chunks) == outcome.stdout == b"y" * TIGHT.output_bytes
    assert len(chunks) >= 1
    await assert_contained(sandbox, uid)


async def test_invalid_utf8_passes_through_as_bytes(sandbox: Sandbox, uid: int) -> None:
    garbage = b"\xff\xfe\x80 ok \xc3\x28\n"
    code = f"import sys; sys.stdout.buffer.write({garbage!r}); sys.stderr.buffer.write(b'\\xff')"
    process = await sandbox.start(python(code), TIGHT)
    streamed = [item async for item in process.output()]
    outcome = await process.wait()
    assert (outcome.reason, outcome.stdout, outcome.stderr) == (StopReason.EXIT, garbage, b"\xff")
    assert sorted(streamed) == [("stderr", b"\xff"), ("stdout", garbage)]
    assert outcome.to_json()["stdout"] == garbage.decode("utf-8", "replace")
    await assert_contained(sandbox, uid)


# --- disk -------------------------------------------------------------------------------------


async def test_one_huge_file_in_the_workspace_stops_at_the_file_size_limit(
    sandbox: Sandbox, uid: int, workspace: Path
) -> None:
    outcome = await sandbox.run(python("open('big', 'wb').write(b'0' * (20 << 20))"), TIGHT)
    assert (outcome.reason, outcome.exit_code) == (StopReason.EXIT, 1), outcome.to_json()
    assert "File too large" in text(outcome)
    assert (workspace / "big").stat().st_size <= TIGHT.file_size_bytes
    await assert_contained(sandbox, uid)


async def test_a_tool_ignoring_the_error_dies_of_sigxfsz(
    sandbox: Sandbox, uid: int, workspace: Path
) -> None:
    outcome = await sandbox.run(["dd", "if=/dev/zero", "of=big", "bs=1M", "count=20"], TIGHT)
    assert (outcome.reason, outcome.signal) == (StopReason.EXIT, 25), outcome.to_json()
    assert "SIGXFSZ" in outcome.detail
    assert (workspace / "big").stat().st_size <= TIGHT.file_size_bytes
    await assert_contained(sandbox, uid)


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm"])
async def test_filling_a_tmpfs_stops_at_its_size(sandbox: Sandbox, uid: int, where: str) -> None:
    # Many files, each under the file size limit: the tmpfs size is what stops them.
    code = (
        "import itertools\n"
        "for i in itertools.count():\n"
        f"    open(f'{where}/f{{i}}', 'wb').write(b'0' * (512 << 10))"
    )
    outcome = await sandbox.run(python(code), TIGHT)
    assert (outcome.reason, outcome.exit_code) == (StopReason.EXIT, 1), outcome.to_json()
    assert "No space left on device" in text(outcome)
    await assert_contained(sandbox, uid)


async def test_tmp_leftovers_are_not_seen_by_the_next_run(sandbox: Sandbox, uid: int) -> None:
    first = await sandbox.run(
        ["sh", "-c", "echo secret > /tmp/left; echo x > /dev/shm/left"], TIGHT
    )
    assert first.exit_code == 0
    second = await sandbox.run(["sh", "-c", "ls -A /tmp /dev/shm"], TIGHT)
    assert second.stdout == b"/dev/shm:\n\n/tmp:\n", second.to_json()
    await assert_contained(sandbox, uid)


@pytest.mark.parametrize("path", ["/x", "/usr/x", "/etc/x", "/etc/passwd", "/usr/bin/python3"])
async def test_system_paths_are_read_only(sandbox: Sandbox, uid: int, path: str) -> None:
    outcome = await sandbox.run(python(f"open({path!r}, 'ab').write(b'owned')"), TIGHT)
    assert outcome.exit_code == 1
    assert "Read-only file system" in text(outcome) or "Permission denied" in text(outcome)
    await assert_contained(sandbox, uid)


# --- network ----------------------------------------------------------------------------------


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP port open on the host's loopback (the platform's own port, say)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


async def test_network_is_unreachable(sandbox: Sandbox, uid: int, host_listener: int) -> None:
    code = f"""
import socket
def attempt(name, fn):
    try:
        fn()
        print(name, "REACHED")
    except OSError as error:
        print(name, type(error).__name__)
def connect(address):
    with socket.create_connection(address, timeout=2):
        pass
attempt("outside", lambda: connect(("1.1.1.1", 53)))
attempt("platform", lambda: connect(("127.0.0.1", {host_listener})))
attempt("dns", lambda: socket.getaddrinfo("example.com", 80))
print("interfaces", sorted(name for _, name in socket.if_nameindex()))
"""
    outcome = await sandbox.run(python(code), TIGHT)
    assert outcome.stdout.decode().splitlines() == [
        "outside OSError",  # ENETUNREACH at once: the namespace has only lo
        "platform ConnectionRefusedError",  # a different loopback from the host's
        "dns gaierror",
        "interfaces ['lo']",
    ], outcome.to_json()
    assert outcome.wall_ms < 1800  # refused at once, not timed out (the timeouts are 2 s)
    await assert_contained(sandbox, uid)


# --- reading what is not ours -----------------------------------------------------------------


@pytest.fixture
def platform_db(sandbox_base: Path) -> Path:
    """A world-readable database file outside the workspace, as the platform's would be."""
    path = sandbox_base / "data" / "prequel.db"
    path.parent.mkdir(exist_ok=True)
    path.parent.chmod(0o755)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS secrets (value TEXT)")
        db.execute("INSERT INTO secrets VALUES ('top secret')")
    path.chmod(0o644)
    return path


async def test_host_files_are_invisible(sandbox: Sandbox, uid: int, platform_db: Path) -> None:
    paths = ["/etc/shadow", "/proc/1/root/etc/shadow", str(platform_db), "/root", "/home"]
    code = f"""
for path in {paths!r}:
    try:
        open(path, "rb").read()
        print(path, "READ")
    except OSError as error:
        print(path, type(error).__name__)
"""
    outcome = await sandbox.run(python(code), TIGHT)
    assert [line.split()[-1] for line in outcome.stdout.decode().splitlines()] == [
        "FileNotFoundError",
        "FileNotFoundError",
        "FileNotFoundError",
        "FileNotFoundError",
        "FileNotFoundError",
    ], outcome.to_json()
    await assert_contained(sandbox, uid)


async def test_other_processes_and_their_environments_are_invisible(
    sandbox: Sandbox, uid: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREQUEL_SECRET_KEY", "host-secret-value")
    code = f"""
import os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print("pids", pids)
print("host pid visible", os.path.exists("/proc/{os.getpid()}/environ"))
seen = b"".join(open(f"/proc/{{p}}/environ", "rb").read() for p in pids if p != os.getpid())
print("secret", b"host-secret" in seen or "host-secret" in str(os.environ))
print("env", sorted(os.environ))
"""
    outcome = await sandbox.run(python(code), TIGHT)
    lines = outcome.stdout.decode().splitlines()
    assert lines[0] == "pids [1, 2]", outcome.to_json()  # bwrap's init and us, nothing else
    assert lines[1:3] == ["host pid visible False", "secret False"]
    assert lines[3] == (
        "env ['HOME', 'LANG', 'PATH', 'PWD', 'PYTHONDONTWRITEBYTECODE', 'PYTHONUNBUFFERED', 'USER']"
    )
    await assert_contained(sandbox, uid)


@pytest.mark.parametrize("launcher", ["prespawned", "direct"])
async def test_descriptors_of_the_parent_do_not_leak(
    sandbox: Sandbox, uid: int, workspace: Path, platform_db: Path, launcher: str
) -> None:
    leaked = os.open(platform_db, os.O_RDONLY)
    os.set_inheritable(leaked, True)  # as careless code in the agent might leave it
    box = sandbox if launcher == "prespawned" else Sandbox(workspace, uid=uid, slot="d", spares=0)
    try:
        code = "import os\nfor fd in os.listdir('/proc/self/fd'): print(fd)"
        outcome = await box.run(python(code), TIGHT)
    finally:
        os.close(leaked)
        if box is not sandbox:
            await box.close()
    # 0-2 plus the directory listdir itself had open while listing.
    assert sorted(outcome.stdout.decode().split(), key=int) == ["0", "1", "2", "3"]
    await assert_contained(sandbox, uid)


async def test_sqlite_cannot_reach_host_files(
    sandbox: Sandbox, uid: int, platform_db: Path
) -> None:
    code = f"""
import sqlite3
db = sqlite3.connect(":memory:")
for path in ["/etc/passwd", {str(platform_db)!r}]:
    try:
        db.execute(f"ATTACH '{{path}}' AS other")
        print(path, db.execute("SELECT name FROM other.sqlite_master").fetchall())
        db.execute("DETACH other")
    except sqlite3.Error as error:
        print(path, type(error).__name__, error)
db.enable_load_extension(True)
try:
    db.load_extension({str(platform_db.parent / "evil")!r})
    print("extension LOADED")
except sqlite3.Error as error:
    print("extension", type(error).__name__)
"""  # noqa: S608 (the candidate's SQL, run inside the sandbox)
    outcome = await sandbox.run(python(code), TIGHT)
    lines = outcome.stdout.decode().splitlines()
    assert lines[0] == "/etc/passwd DatabaseError file is not a database", outcome.to_json()
    assert lines[1].startswith(f"{platform_db} OperationalError unable to open database")
    assert lines[2] == "extension OperationalError"
    await assert_contained(sandbox, uid)


# --- privileges -------------------------------------------------------------------------------


async def test_privilege_escalation_fails(sandbox: Sandbox, uid: int) -> None:
    code = """
import ctypes, errno, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
def attempt(name, fn):
    try:
        fn()
        print(name, "SUCCEEDED")
    except (OSError, subprocess.CalledProcessError) as error:
        print(name, "failed")
attempt("setuid", lambda: os.setuid(0))
attempt("setgid", lambda: os.setgid(0))
commands = [
    ["unshare", "-U", "true"], ["unshare", "-r", "true"], ["mount", "-t", "tmpfs", "x", "/t"]
]
for argv in commands:
    attempt(argv[0] + " " + argv[1], lambda: subprocess.run(argv, check=True, capture_output=True))
if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH to bwrap's init
    print("ptrace init attached (same uid, inside the sandbox only)")
else:
    print("ptrace init", errno.errorcode[ctypes.get_errno()])
print("caps", open("/proc/self/status").read().split("CapEff:")[1].split()[0])
print("no_new_privs", open("/proc/self/status").read().split("NoNewPrivs:")[1].split()[0])
"""
    outcome = await sandbox.run(python(code), TIGHT)
    lines = outcome.stdout.decode().splitlines()
    assert lines[:5] == [
        "setuid failed",
        "setgid failed",
        "unshare -U failed",
        "unshare -r failed",
        "mount -t failed",
    ], outcome.to_json()
    assert lines[-2:] == ["caps 0000000000000000", "no_new_privs 1"]
    await assert_contained(sandbox, uid)


async def test_ptrace_reaches_only_the_runs_own_processes(sandbox: Sandbox, uid: int) -> None:
    # A sibling run of the same workspace, and the host, are out of reach: other PID
    # namespaces. (Tracing one's own child, as a debugger does, is allowed.)
    other = await sandbox.start(["sleep", "30"], TIGHT.merged({"wall_seconds": 10}))
    code = f"""
import ctypes, errno, os, time
libc = ctypes.CDLL(None, use_errno=True)
def attach(pid):
    if libc.ptrace(16, pid, 0, 0) == 0:
        return "attached"
    return errno.errorcode[ctypes.get_errno()]
child = os.fork()
if child == 0:
    time.sleep(5)
    os._exit(0)
print("own child", attach(child))
print("sibling run", attach({other.pid}))
print("host", attach({os.getpid()}))
os.kill(child, 9)
"""
    outcome = await sandbox.run(python(code), TIGHT)
    await other.stop()
    assert outcome.stdout.decode().splitlines() == [
        "own child attached",
        "sibling run ESRCH",
        "host ESRCH",
    ], outcome.to_json()
    await assert_contained(sandbox, uid)


# --- things that try to outlive their run -----------------------------------------------------


async def test_double_forked_daemon_ignoring_sigterm_dies_with_the_run(
    sandbox: Sandbox, uid: int, workspace: Path
) -> None:
    code = """
import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for i in range(100):
            with open("beacon", "w") as f:
                f.write(str(i))
            time.sleep(0.05)
    os._exit(0)
print("parent done")
"""
    outcome = await sandbox.run(python(code), TIGHT)
    assert (outcome.reason, outcome.exit_code, outcome.stdout) == (
        StopReason.EXIT,
        0,
        b"parent done\n",
    )
    before = (workspace / "beacon").read_text() if (workspace / "beacon").exists() else ""
    await asyncio.sleep(0.3)
    after = (workspace / "beacon").read_text() if (workspace / "beacon").exists() else ""
    assert before == after, "the daemon kept writing after its run ended"
    await assert_contained(sandbox, uid)


async def test_zombies_left_behind_are_cleaned_up(sandbox: Sandbox, uid: int) -> None:
    code = """
import os, time
for _ in range(10):
    if os.fork() == 0:
        os._exit(0)
time.sleep(0.3)
print(sum(1 for p in os.listdir("/proc") if p.isdigit()))
"""
    outcome = await sandbox.run(python(code), TIGHT)
    assert outcome.reason is StopReason.EXIT
    assert int(outcome.stdout) == 12  # init, us, ten unreaped zombies
    await assert_contained(sandbox, uid)


async def test_stop_kills_a_busy_tree(sandbox: Sandbox, uid: int) -> None:
    code = "import os\nfor _ in range(4): os.fork()\nimport time\ntime.sleep(60)"
    process = await sandbox.start(python(code), TIGHT.merged({"wall_seconds": 30}))
    await asyncio.sleep(0.3)
    outcome = await process.stop()
    assert (outcome.reason, outcome.signal) == (StopReason.KILLED, 9), outcome.to_json()
    assert outcome.detail == "stopped on request"
    await assert_contained(sandbox, uid)
