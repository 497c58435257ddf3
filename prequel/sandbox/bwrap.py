"""The command line that runs one sandboxed process, and the child's setup before exec.

The chain is: our child (joins the run's cgroups, sets rlimits) -> setpriv (root only: drops
to the workspace uid) -> bwrap (new user, pid, net, ipc, uts and cgroup namespaces; a fresh
root with /usr read-only and the workspace read-write) -> the command.
"""

from __future__ import annotations

import fcntl
import math
import os
import resource
import termios
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

from prequel.sandbox.limits import Limits

SANDBOX_WORKSPACE = "/workspace"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_HOSTNAME = "sandbox"
SANDBOX_USER = "candidate"
# Paths inside the sandbox (private tmpfs mounts), not the host's shared /tmp.
SANDBOX_TMP = "/tmp"  # noqa: S108
SANDBOX_SHM = "/dev/shm"  # noqa: S108

# The only /etc entries a sandboxed program sees (plus the synthesized passwd, group, hosts):
# the dynamic linker cache, Debian's alternatives symlinks (/usr/bin/editor -> ...), time zone,
# name-service order, and the shell's defaults for the terminal. No secrets among them.
ETC_ENTRIES = (
    "ld.so.cache",
    "alternatives",
    "localtime",
    "nsswitch.conf",
    "bash.bashrc",
    "inputrc",
)
# Top-level directories of a merged-/usr system are symlinks into /usr; older layouts have
# real directories, which are bound read-only instead.
ROOT_ENTRIES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Mount points a caller's extra bind may not cover: they hold the sandbox's own plumbing.
RESERVED_MOUNTS = ("/", "/proc", "/dev", "/usr", "/etc", SANDBOX_TMP)


class BindError(ValueError):
    """An extra bind mount is malformed or would cover the sandbox's own mounts."""


@dataclass(frozen=True)
class Bind:
    source: Path
    dest: str
    writable: bool = False


@dataclass(frozen=True)
class DataFiles:
    """File descriptors (read ends of pipes) bwrap copies into the sandbox's /etc."""

    passwd: int
    group: int
    hosts: int


@dataclass
class BwrapCommand:
    bwrap: str
    workspace: Path
    limits: Limits
    argv: Sequence[str]
    env: Mapping[str, str]
    data: DataFiles
    status_fd: int
    drop_to: tuple[int, int] | None = None  # (uid, gid) when the caller is root
    binds: Sequence[Bind] = field(default=())
    workdir: str = SANDBOX_WORKSPACE
    new_session: bool = True

    def build(self) -> list[str]:
        args: list[str] = []
        if self.drop_to is not None:
            uid, gid = self.drop_to
            args += [
                setpriv_path(),
                f"--reuid={uid}",
                f"--regid={gid}",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--",
            ]
        args += [
            self.bwrap,
            "--unshare-all",  # ipc, pid, net, uts, cgroup (and user, "try")
            "--unshare-user",  # required, not "try": the sandbox must not run as a real uid
            "--disable-userns",  # no nested user namespaces: no unshare -U, no fake root
            "--die-with-parent",
            "--cap-drop",
            "ALL",
            "--hostname",
            SANDBOX_HOSTNAME,
            "--json-status-fd",
            str(self.status_fd),
            "--clearenv",
        ]
        # --new-session stops TIOCSTI from injecting keystrokes into a terminal we share; see
        # the PTY notes in process.py for why the terminal's own shell runs without it.
        if self.new_session:
            args.append("--new-session")
        for key, value in self.env.items():
            args += ["--setenv", key, value]
        args += ["--ro-bind", "/usr", "/usr"]
        for name, target in root_layout():
            if target is None:
                args += ["--ro-bind", f"/{name}", f"/{name}"]
            else:
                args += ["--symlink", target, f"/{name}"]
        for name in etc_entries():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        args += [
            "--ro-bind-data",
            str(self.data.passwd),
            "/etc/passwd",
            "--ro-bind-data",
            str(self.data.group),
            "/etc/group",
            "--ro-bind-data",
            str(self.data.hosts),
            "/etc/hosts",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--size",
            str(self.limits.tmp_bytes),
            "--tmpfs",
            SANDBOX_TMP,
            "--size",
            str(self.limits.tmp_bytes),
            "--tmpfs",
            SANDBOX_SHM,
            "--bind",
            str(self.workspace),
            SANDBOX_WORKSPACE,
        ]
        for bind in self.binds:
            args += ["--bind" if bind.writable else "--ro-bind", str(bind.source), bind.dest]
        args += ["--remount-ro", "/", "--chdir", self.workdir, "--", *self.argv]
        return args


def check_binds(binds: Iterable[Bind]) -> list[Bind]:
    """Reject binds that are relative, not normalized, or would cover the sandbox's plumbing."""
    checked: list[Bind] = []
    for bind in binds:
        dest = bind.dest
        if not dest.startswith("/") or str(PurePosixPath(dest)) != dest or "/../" in f"{dest}/":
            raise BindError(f"bind destination must be a normalized absolute path: {dest!r}")
        for reserved in RESERVED_MOUNTS:
            if dest == reserved or (reserved != "/" and dest.startswith(reserved + "/")):
                raise BindError(f"bind destination {dest} would cover {reserved}")
        if dest == SANDBOX_WORKSPACE:
            raise BindError(f"bind destination {dest} would replace the workspace")
        if not bind.source.exists():
            raise BindError(f"bind source {bind.source} does not exist")
        checked.append(bind)
    return checked


def sandbox_env(extra: Mapping[str, str] | None = None, term: str | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed process: a fixed whitelist plus explicit extras."""
    env = {
        "PATH": SANDBOX_PATH,
        "HOME": SANDBOX_WORKSPACE,
        "USER": SANDBOX_USER,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if term:
        env["TERM"] = term
    for key, value in (extra or {}).items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise ValueError(f"invalid environment variable {key!r}")
        env[key] = value
    return env


def passwd_text(uid: int, gid: int) -> bytes:
    # Inside the user namespace our uid keeps its number; root's files show up as "nobody".
    return (
        f"{SANDBOX_USER}:x:{uid}:{gid}:Candidate:{SANDBOX_WORKSPACE}:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ).encode()


def group_text(gid: int) -> bytes:
    return f"{SANDBOX_USER}:x:{gid}:\nnogroup:x:65534:\n".encode()


def hosts_text() -> bytes:
    return f"127.0.0.1\tlocalhost\n127.0.1.1\t{SANDBOX_HOSTNAME}\n::1\tlocalhost\n".encode()


@cache
def root_layout() -> tuple[tuple[str, str | None], ...]:
    """(name, symlink target or None for a real directory) for /bin, /lib... on this host."""
    layout: list[tuple[str, str | None]] = []
    for name in ROOT_ENTRIES:
        path = Path("/") / name
        if path.is_symlink():
            layout.append((name, os.readlink(path)))
        elif path.is_dir():
            layout.append((name, None))
    return tuple(layout)


@cache
def etc_entries() -> tuple[str, ...]:
    return tuple(name for name in ETC_ENTRIES if (Path("/etc") / name).exists())


@cache
def setpriv_path() -> str:
    for candidate in ("/usr/bin/setpriv", "/bin/setpriv"):
        if os.access(candidate, os.X_OK):
            return candidate
    return "setpriv"  # let exec fail with a clear "not found"


# Child-side setup ------------------------------------------------------------------------


def rlimits(limits: Limits, *, cpu: bool) -> list[tuple[int, int, int]]:
    """(resource, soft, hard) set in the child before exec; inherited by the whole tree.

    Values above our own hard limit are clamped to it (only root could raise them).
    """
    values = [
        (resource.RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if cpu:
        # A per-process backstop only: the tree limit (cgroup accounting) trips first. SIGXCPU
        # at the soft limit, SIGKILL one second later.
        soft = math.ceil(limits.cpu_seconds) + 1
        values.append((resource.RLIMIT_CPU, soft, soft + 1))
    clamped = []
    for which, soft, hard in values:
        current = resource.getrlimit(which)[1]
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        clamped.append((which, soft, hard))
    return clamped


def child_setup(
    cgroup_procs: Sequence[str],
    limits: Sequence[tuple[int, int, int]],
    *,
    controlling_tty: bool = False,
) -> Callable[[], None]:
    """The function run in the forked child before exec (as the caller's uid).

    It only makes system calls on values computed here in the parent, so it is safe in the
    child of a multi-threaded parent.
    """
    paths = [os.fsencode(path) for path in cgroup_procs]
    limits = list(limits)

    def setup() -> None:
        for path in paths:  # join the run's cgroups before anything else can fork
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        for which, soft, hard in limits:
            resource.setrlimit(which, (soft, hard))
        if controlling_tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    return setup
