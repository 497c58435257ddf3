"""Starting the agent process: token files, the listening socket, dropping root, uvicorn.

Order matters. Token files are read and the socket is bound while still root (they may be
root-only); then root is dropped for --user; only then is the workspace opened and served, so
a path bug in the file API cannot reach what that uid cannot.
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import logging
import os
import pwd
import signal
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("prequel.agent")

NOBODY = 65534
MIN_TOKEN_CHARS = 16
MAX_TOKEN_BYTES = 4096
SOCKET_MODE = 0o660


class StartupError(Exception):
    """The agent cannot start; the message says what to fix."""


def read_token_file(path: Path, option: str) -> str:
    """The token in `path`: it must exist, be private (no group/other access) and non-empty."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        raise StartupError(f"{option} {path} does not exist; write the token into it") from None
    except OSError as exc:
        raise StartupError(f"{option} {path} cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise StartupError(f"{option} {path} is not a regular file")
        if info.st_mode & 0o077:
            raise StartupError(
                f"{option} {path} is readable by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
            )
        raw = os.read(fd, MAX_TOKEN_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_TOKEN_BYTES:
        raise StartupError(f"{option} {path} is larger than {MAX_TOKEN_BYTES} bytes")
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise StartupError(f"{option} {path} is not UTF-8 text") from None
    if not token:
        raise StartupError(f"{option} {path} is empty; write the token into it")
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise StartupError(
            f"{option} {path} must hold one token of at least {MIN_TOKEN_CHARS} characters "
            "without spaces (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


@dataclass(frozen=True)
class Listen:
    unix_path: Path | None = None
    host: str | None = None
    port: int | None = None

    def describe(self, sock: socket.socket | None = None) -> str:
        if self.unix_path is not None:
            return f"unix:{self.unix_path}"
        port = sock.getsockname()[1] if sock is not None else self.port
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{port}"


def parse_listen(value: str) -> Listen:
    """`unix:PATH`, `HOST:PORT` or `[V6]:PORT`."""
    if value.startswith("unix:"):
        path = value.removeprefix("unix:")
        if not path:
            raise StartupError("--listen unix: needs a socket path, e.g. unix:/run/agent.sock")
        if len(os.fsencode(path)) > 100:
            raise StartupError(f"--listen {value}: unix socket paths must be under 100 bytes")
        return Listen(unix_path=Path(path))
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise StartupError(
            f"--listen {value!r} is not unix:PATH or HOST:PORT (e.g. 127.0.0.1:8700)"
        )
    return Listen(host=host, port=int(port))


def _bind_unix(path: Path) -> socket.socket:
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        existing = None
    if existing is not None:
        if not stat.S_ISSOCK(existing.st_mode):
            raise StartupError(f"{path} exists and is not a socket; remove it or choose another")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            os.unlink(path)  # a stale socket from an agent that is gone
        else:
            raise StartupError(f"{path} is in use by a running process")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The umask makes the socket 0660 from the moment it exists: owner (the portal, which
    # started us) and its group may connect; others, such as the candidate's uid, may not.
    previous = os.umask(0o117)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {path}: {exc.strerror}") from None
    finally:
        os.umask(previous)
    os.chmod(path, SOCKET_MODE)
    return sock


def bind(listen: Listen) -> socket.socket:
    if listen.unix_path is not None:
        sock = _bind_unix(listen.unix_path)
    else:
        assert listen.host is not None and listen.port is not None
        try:
            family = socket.AF_INET6 if ipaddress.ip_address(listen.host).version == 6 else 0
        except ValueError:
            family = 0  # a host name: let getaddrinfo decide
        try:
            infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM)
            family = family or infos[0][0]
            sock = socket.create_server((listen.host, listen.port), family=family)
        except OSError as exc:
            raise StartupError(f"cannot listen on {listen.describe()}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def parse_user(value: str) -> tuple[int, int]:
    """`UID[:GID]` or `NAME[:GROUP]`; without a group, the user's primary group (or gid=uid)."""
    user, _, group = value.partition(":")
    try:
        if user.isdigit():
            uid = int(user)
            try:
                default_gid = pwd.getpwuid(uid).pw_gid
            except KeyError:
                default_gid = uid
        else:
            entry = pwd.getpwnam(user)
            uid, default_gid = entry.pw_uid, entry.pw_gid
        if not group:
            gid = default_gid
        elif group.isdigit():
            gid = int(group)
        else:
            gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise StartupError(f"--user {value}: no such user or group") from None
    return uid, gid


def default_slot(workspace: Path) -> str:
    """A stable cgroup slot name per workspace folder."""
    import hashlib

    digest = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:12]
    return f"ws-{digest}"


def prepare_cgroups(slot: str, uid: int, gid: int, cgroup_name: str = "prequel") -> None:
    """Create the workspace's cgroup slot owned by the candidate uid (needs root)."""
    if os.geteuid() != 0:
        return  # an unprivileged agent uses a slot its provisioner prepared
    from prequel.sandbox.cgroups import CgroupError, CgroupSlot

    try:
        CgroupSlot.open(f"{cgroup_name}-{slot}", owner_uid=uid, owner_gid=gid)
    except CgroupError as exc:
        raise StartupError(f"cannot prepare the sandbox's cgroups: {exc}") from None


def drop_privileges(uid: int, gid: int) -> None:
    if (os.geteuid(), os.getegid()) == (uid, gid) and os.getuid() == uid:
        return
    if os.geteuid() != 0:
        raise StartupError(
            f"--user {uid}:{gid} needs the agent to start as root (it runs as uid {os.geteuid()})"
        )
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            return  # as it should be: root is gone for good
        raise StartupError("root could be regained after dropping privileges; refusing")


def preload_server_modules() -> None:
    """Import what uvicorn loads lazily while we can still read everything, so the dropped
    uid needs no access to the Python installation's private parts."""
    import uvicorn

    config = uvicorn.Config(app=_noop_app, log_config=None)
    config.load()
    config.get_loop_factory()


async def _noop_app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
    return None


def serve(app: Any, sock: socket.socket, listen: Listen, *, log_level: str, on_ready: Any) -> None:
    """Run uvicorn on the bound socket until SIGTERM or SIGINT, then shut down gracefully."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_ready(listen.describe(sock))

    config = uvicorn.Config(
        app,
        log_config=None,
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; a no-op handler
    # turns that into a normal return, so a graceful stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        _Server(config).run(sockets=[sock])
    finally:
        release(sock, listen)


def release(sock: socket.socket, listen: Listen) -> None:
    """Close the socket and remove its file (best effort: after dropping root, the folder
    may not be ours; the next start removes a stale socket anyway)."""
    sock.close()
    if listen.unix_path is not None:
        with contextlib.suppress(OSError):
            os.unlink(listen.unix_path)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
