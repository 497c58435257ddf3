"""Starting the process chain of one run, directly or through a prespawned stub.

Direct: fork, join the run's cgroups and set rlimits in the child (preexec), exec. Moving a
process into a cgroup waits for an RCU grace period in the kernel (often 5-15 ms), and forking
a large Python process is not free either, so most runs use a *stub* instead: a tiny
shell started ahead of time that has already joined a pooled run cgroup and waits on a pipe.
A run then only sets the stub's rlimits (prlimit) and sends it one `exec` line.

The stub only ever runs what we send it (it runs as the caller, root included, until setpriv
drops to the workspace uid); its control pipe is closed before the exec, so nothing of it
reaches the sandbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import resource
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from prequel.sandbox.bwrap import DataFiles
from prequel.sandbox.cgroups import CgroupRun

PR_SET_CHILD_SUBREAPER = 36
# bash, not sh: dash only understands fds 0-9 in redirections, and the control pipe's fd
# number is whatever the parent had free (`exec cmd 18<&-` in dash closes stdin instead).
STUB_SHELL = "/bin/bash"
STUB_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_STUB_SCRIPT = 60_000  # larger commands go the direct way (the pipe holds 64 KiB)


@cache
def become_subreaper() -> bool:
    """Adopt orphaned descendants, so we can reap each run's namespace init ourselves.

    bwrap's outer process exits as soon as the command does, before its child (the PID
    namespace's init) is gone; the init is then re-parented. Without this it would go to the
    host's PID 1, and not every PID 1 reaps (a container's often does not), leaving zombies
    of the workspace uid. Process-wide: other orphans of our descendants come to us too.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _pipe() -> tuple[int, int]:
    """os.pipe(), but never on 0-2: a parent started with closed stdio would otherwise get a
    pipe there, and the child's stdin/stdout/stderr would clobber it."""
    ends = []
    for fd in os.pipe():
        if fd < 3:
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(fd)
            fd = high
        ends.append(fd)
    return ends[0], ends[1]


@dataclass
class Plumbing:
    """The descriptors of one run. Child ends go to the process; ours stay with us."""

    stdio: tuple[int, int, int]  # child ends: stdin, stdout, stderr
    stdin: int  # ours: write end, or the PTY master
    outputs: dict[str, int]  # ours: read ends (or the PTY master)
    data: DataFiles | None = None  # child ends: /etc files for bwrap
    status: int | None = None  # ours: bwrap's JSON status, read end
    status_child: int | None = None  # child end of the same pipe
    child_fds: list[int] = field(default_factory=list)
    our_fds: list[int] = field(default_factory=list)

    @classmethod
    def create(cls, *, pty: bool, etc_files: Sequence[bytes] | None) -> Plumbing:
        """Pipes (or a PTY) for stdio, plus the /etc data and status pipes bwrap needs."""
        child: list[int] = []
        ours: list[int] = []
        try:
            if pty:
                master, slave = os.openpty()
                ours.append(master)
                child.append(slave)
                plumbing = cls((slave, slave, slave), master, {"stdout": master})
            else:
                (in_r, in_w), (out_r, out_w), (err_r, err_w) = (_pipe() for _ in range(3))
                ours += [in_w, out_r, err_r]
                child += [in_r, out_w, err_w]
                plumbing = cls((in_r, out_w, err_w), in_w, {"stdout": out_r, "stderr": err_r})
            if etc_files is not None:
                ends = []
                for content in etc_files:
                    read_end, write_end = _pipe()
                    child.append(read_end)
                    os.write(write_end, content)  # a few hundred bytes: fits the pipe
                    os.close(write_end)
                    ends.append(read_end)
                plumbing.data = DataFiles(passwd=ends[0], group=ends[1], hosts=ends[2])
                plumbing.status, plumbing.status_child = _pipe()
                ours.append(plumbing.status)
                child.append(plumbing.status_child)
        except BaseException:
            for fd in child + ours:
                with contextlib.suppress(OSError):
                    os.close(fd)
            raise
        plumbing.child_fds, plumbing.our_fds = child, ours
        return plumbing

    @property
    def pass_fds(self) -> list[int]:
        if self.data is None or self.status_child is None:
            return []
        return [self.data.passwd, self.data.group, self.data.hosts, self.status_child]

    def close_child_ends(self) -> None:
        for fd in self.child_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.child_fds = []

    def close_all(self) -> None:
        self.close_child_ends()
        for fd in self.our_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.our_fds = []


def spawn_direct(
    argv: Sequence[str],
    plumbing: Plumbing,
    setup: Callable[[], None],
    *,
    env: dict[str, str] | None = None,
    cwd: str = "/",
    user: tuple[int, int] | None = None,
) -> subprocess.Popen[bytes]:
    """fork + preexec (cgroups, rlimits, controlling tty) + exec."""
    popen = subprocess.Popen(
        list(argv),
        stdin=plumbing.stdio[0],
        stdout=plumbing.stdio[1],
        stderr=plumbing.stdio[2],
        pass_fds=plumbing.pass_fds,
        preexec_fn=setup,  # only system calls on values prepared in the parent
        start_new_session=True,
        cwd=cwd,
        env=env if env is not None else {"PATH": STUB_PATH},
        user=user[0] if user else None,
        group=user[1] if user else None,
        extra_groups=[] if user else None,
    )
    plumbing.close_child_ends()
    return popen


@dataclass
class Stub:
    """A waiting shell that has joined `cgroup` and execs the one command we send."""

    popen: subprocess.Popen[bytes]
    control: int  # our write end
    control_child: int  # the fd number the stub reads from
    plumbing: Plumbing
    cgroup: CgroupRun

    @classmethod
    def spawn(cls, cgroup: CgroupRun, plumbing: Plumbing) -> Stub:
        read_end, write_end = _pipe()
        script = f'for p; do echo 0 > "$p" || exit 126; done; . /dev/fd/{read_end}'
        try:
            popen = subprocess.Popen(
                [STUB_SHELL, "-c", script, "prequel-stub", *cgroup.procs_files],
                stdin=plumbing.stdio[0],
                stdout=plumbing.stdio[1],
                stderr=plumbing.stdio[2],
                pass_fds=[read_end, *plumbing.pass_fds],
                start_new_session=True,
                cwd="/",
                env={"PATH": STUB_PATH},
            )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        plumbing.close_child_ends()
        return cls(popen, write_end, read_end, plumbing, cgroup)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def launch(self, argv: Sequence[str], limits: Sequence[tuple[int, int, int]]) -> bool:
        """Turn the stub into `argv`; False (and the stub is useless) if it cannot."""
        script = " ".join(["exec", *map(shlex.quote, argv), f"{self.control_child}<&-"]) + "\n"
        data = script.encode()
        if len(data) > MAX_STUB_SCRIPT or not self.alive:
            return False
        try:
            for which, soft, hard in limits:
                resource.prlimit(self.popen.pid, which, (soft, hard))
            os.write(self.control, data)
        except OSError:
            return False
        finally:
            os.close(self.control)
            self.control = -1
        return True

    def dismiss(self) -> None:
        """Let an unused stub exit (end of file on its control pipe) and close our ends."""
        if self.control >= 0:
            os.close(self.control)
            self.control = -1
        self.plumbing.close_all()
