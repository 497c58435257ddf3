"""The bubblewrap command line, and what a sandboxed process sees because of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from prequel.sandbox.bwrap import (
    Bind,
    BindError,
    BwrapCommand,
    DataFiles,
    check_binds,
    group_text,
    passwd_text,
    sandbox_env,
)
from prequel.sandbox.limits import MIB, Limits
from prequel.sandbox.outcome import StopReason
from prequel.sandbox.runner import Sandbox
from tests.sandbox.conftest import TIGHT, python


def command(**overrides: object) -> list[str]:
    values: dict[str, object] = {
        "bwrap": "/usr/bin/bwrap",
        "workspace": Path("/srv/ws"),
        "limits": Limits(tmp_bytes=8 * MIB),
        "argv": ["python3", "main.py"],
        "env": {"PATH": "/usr/bin"},
        "data": DataFiles(passwd=10, group=11, hosts=12),
        "status_fd": 13,
        **overrides,
    }
    return BwrapCommand(**values).build()  # type: ignore[arg-type]


def test_the_command_line() -> None:
    argv = command()
    assert argv[0] == "/usr/bin/bwrap"
    for flag in (
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
    ):
        assert flag in argv
    joined = " ".join(argv)
    assert "--cap-drop ALL" in joined
    assert "--hostname sandbox" in joined
    assert "--ro-bind /usr /usr" in joined
    assert "--ro-bind-data 10 /etc/passwd --ro-bind-data 11 /etc/group" in joined
    assert f"--size {8 * MIB} --tmpfs /tmp --size {8 * MIB} --tmpfs /dev/shm" in joined
    assert "--bind /srv/ws /workspace" in joined
    assert "--json-status-fd 13" in joined
    # The root goes read-only after every mount point has been made, then the command.
    assert argv[-5:] == ["--chdir", "/workspace", "--", "python3", "main.py"]
    assert argv[argv.index("--remount-ro") + 1] == "/"
    assert argv[argv.index("--") + 1 :] == ["python3", "main.py"]
    assert "setpriv" not in joined  # only root needs to drop privileges


def test_root_drops_to_the_workspace_uid_with_setpriv() -> None:
    argv = command(drop_to=(210_001, 210_002))
    assert argv[: argv.index("--") + 1] == [
        "/usr/bin/setpriv",
        "--reuid=210001",
        "--regid=210002",
        "--clear-groups",
        "--no-new-privs",
        "--inh-caps=-all",
        "--",
    ]


def test_terminal_runs_keep_their_session() -> None:
    assert "--new-session" not in command(new_session=False)


def test_extra_binds_go_after_the_workspace() -> None:
    argv = " ".join(
        command(
            binds=[
                Bind(Path("/srv/tests"), "/run/prequel/tests"),
                Bind(Path("/srv/out"), "/run/prequel/out", writable=True),
            ]
        )
    )
    assert (
        "--bind /srv/ws /workspace --ro-bind /srv/tests /run/prequel/tests "
        "--bind /srv/out /run/prequel/out --remount-ro /"
    ) in argv


@pytest.mark.parametrize(
    "dest",
    ["relative", "/", "/usr/lib", "/proc/x", "/etc", "/tmp/x", "/workspace", "/a/../etc", "/a//b"],
)
def test_binds_may_not_cover_the_sandbox_plumbing(dest: str, tmp_path: Path) -> None:
    with pytest.raises(BindError):
        check_binds([Bind(tmp_path, dest)])


def test_bind_sources_must_exist(tmp_path: Path) -> None:
    with pytest.raises(BindError, match="does not exist"):
        check_binds([Bind(tmp_path / "missing", "/run/x")])
    assert check_binds([Bind(tmp_path, "/workspace/tests")]) == [Bind(tmp_path, "/workspace/tests")]


def test_environment_is_a_whitelist_plus_extras() -> None:
    env = sandbox_env({"PYTHONPATH": "/run/prequel/python"}, term="xterm")
    assert env == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/workspace",
        "USER": "candidate",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "TERM": "xterm",
        "PYTHONPATH": "/run/prequel/python",
    }
    for bad in ({"A=B": "x"}, {"": "x"}, {"X": "a\0b"}):
        with pytest.raises(ValueError, match="invalid environment variable"):
            sandbox_env(bad)


def test_synthesized_passwd_and_group() -> None:
    assert passwd_text(210_000, 210_001).splitlines()[0] == (
        b"candidate:x:210000:210001:Candidate:/workspace:/bin/bash"
    )
    assert group_text(210_001).splitlines()[0] == b"candidate:x:210001:"


async def test_inside_the_sandbox(sandbox: Sandbox, uid: int) -> None:
    outcome = await sandbox.run(
        [
            "sh",
            "-c",
            "id -u; whoami; hostname; pwd; echo $HOME; ls /; ls /etc; cat /proc/self/uid_map",
        ],
        TIGHT,
    )
    lines = outcome.stdout.decode().splitlines()
    assert lines[:5] == [str(uid), "candidate", "sandbox", "/workspace", "/workspace"]
    top = lines[5 : lines.index("alternatives")]
    assert top == ["bin", "dev", "etc", "lib", "lib64", "proc", "sbin", "tmp", "usr", "workspace"]
    etc = lines[lines.index("alternatives") : -1]
    assert "shadow" not in etc and "passwd" in etc and "hosts" in etc
    assert len(etc) <= 10
    # Only our own uid is mapped: no other uid, root included, exists in the namespace.
    assert lines[-1].split()[0] == str(uid) and lines[-1].split()[2] == "1"


async def test_extra_binds_are_mounted(sandbox: Sandbox, sandbox_base: Path, uid: int) -> None:
    tests = sandbox_base / f"tests-{uid}"
    out = sandbox_base / f"out-{uid}"
    for path in (tests, out):
        path.mkdir()
    (tests / "test_x.py").write_text("hidden\n")
    out.chmod(0o777)
    code = (
        "print(open('/run/prequel/tests/test_x.py').read(), end='');"
        "open('/run/prequel/out/report', 'w').write('ok');"
        "open('/run/prequel/tests/new', 'w')"
    )
    outcome = await sandbox.run(
        python(code),
        TIGHT,
        extra_ro_binds=[(tests, "/run/prequel/tests")],
        rw_binds=[(out, "/run/prequel/out")],
    )
    assert outcome.stdout == b"hidden\n"
    assert "Read-only file system" in outcome.stderr.decode()
    assert (out / "report").read_text() == "ok"
    assert not (tests / "new").exists()


async def test_another_workspace_for_one_run(
    sandbox: Sandbox, sandbox_base: Path, uid: int
) -> None:
    copy = sandbox_base / f"copy-{uid}"
    copy.mkdir()
    (copy / "marker").write_text("the copy\n")
    outcome = await sandbox.run(["cat", "marker"], TIGHT, workspace=copy)
    assert (outcome.reason, outcome.stdout) == (StopReason.EXIT, b"the copy\n")


async def test_bad_binds_fail_to_start(sandbox: Sandbox, tmp_path: Path) -> None:
    outcome = await sandbox.run(["true"], TIGHT, extra_ro_binds=[(tmp_path, "/usr/x")])
    assert outcome.reason is StopReason.FAILED_TO_START
    assert outcome.detail == "bind destination /usr/x would cover /usr"
