"""Is the sandbox safe on this machine? A quick end-to-end check, used by `prequel doctor`.

It starts one real sandboxed command (bash, which every Debian system has) and looks from the
inside: which uid it runs as, which network interfaces exist, whether a port listening on the
host's loopback is reachable, whether /etc/shadow is readable. Together with the cgroup
controllers, that is what candidate code is up against.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prequel.sandbox.cgroups import OPTIONAL, REQUIRED
from prequel.sandbox.limits import MIB, Limits
from prequel.sandbox.outcome import StopReason
from prequel.sandbox.runner import Sandbox

PROBE = r"""
echo "uid=$(id -u)"
echo "uidmap=$(tr -s ' ' < /proc/self/uid_map | tr '\n' ';')"
echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ',')"
if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then echo tcp=open; else echo tcp=closed; fi
if cat /etc/shadow >/dev/null 2>&1; then echo shadow=readable; else echo shadow=unreadable; fi
"""
PROBE_LIMITS = Limits(cpu_seconds=5, wall_seconds=10, memory_bytes=64 * MIB, processes=32)
TIOCSTI_SYSCTL = Path("/proc/sys/dev/tty/legacy_tiocsti")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # informational checks never make the sandbox unsafe


@dataclass(frozen=True)
class SelfTestReport:
    checks: list[Check]

    @property
    def safe(self) -> bool:
        return all(check.ok for check in self.checks if check.required)

    def to_json(self) -> dict[str, Any]:
        return {"safe": self.safe, "checks": [asdict(check) for check in self.checks]}


async def self_test(
    *,
    uid: int | None = None,
    bwrap_path: str = "bwrap",
    cgroup_name: str = "prequel",
    sandbox: Sandbox | None = None,
) -> SelfTestReport:
    """Run every check; takes well under a second on a healthy machine.

    With `sandbox`, probe through that one (an agent's own, whose cgroup slot root prepared
    before the agent dropped to the workspace uid: such an agent cannot create a new slot)."""
    if sandbox is not None:
        return await _self_test_with(sandbox)
    checks: list[Check] = []
    resolved = shutil.which(bwrap_path)
    checks.append(_bwrap_check(bwrap_path, resolved))
    effective = os.geteuid() if uid is None else uid
    checks.append(
        Check(
            "unprivileged uid",
            effective != 0,
            f"candidate code runs as uid {effective}",
            "give the workspace its own uid (PREQUEL_SANDBOX__UID_BASE and up)",
        )
    )
    if effective == 0 or (uid is not None and os.geteuid() not in (0, uid)):
        checks.append(Check("sandboxed run", False, f"cannot run as uid {effective} from here"))
        return SelfTestReport(checks)
    base = _scratch_workspace(effective, effective if uid is not None else os.getegid())
    try:
        workspace = base / "workspace"
        sandbox = Sandbox(
            workspace,
            uid=uid,
            slot=f"selftest-{os.getpid()}",
            bwrap_path=bwrap_path,
            cgroup_name=cgroup_name,
            spares=0,
        )
        try:
            checks += _cgroup_checks(sandbox)
            checks += await _probe_checks(sandbox, effective)
        finally:
            await sandbox.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    checks.append(_tiocsti_check())
    return SelfTestReport(checks)


async def _self_test_with(sandbox: Sandbox) -> SelfTestReport:
    checks = [
        _bwrap_check(sandbox.bwrap_path, shutil.which(sandbox.bwrap_path)),
        Check("unprivileged uid", sandbox.uid != 0, f"candidate code runs as uid {sandbox.uid}"),
    ]
    base = _scratch_workspace(sandbox.uid, sandbox.gid)
    try:
        checks += _cgroup_checks(sandbox)
        checks += await _probe_checks(sandbox, sandbox.uid, workspace=base / "workspace")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    checks.append(_tiocsti_check())
    return SelfTestReport(checks)


def _scratch_workspace(uid: int, gid: int) -> Path:
    base = Path(tempfile.mkdtemp(prefix="prequel-selftest-"))
    base.chmod(0o711)  # the sandbox uid must reach the workspace below
    (base / "workspace").mkdir()
    os.chown(base / "workspace", uid, gid)
    return base


def _bwrap_check(name: str, resolved: str | None) -> Check:
    fix = "install Debian's bubblewrap package (make system-deps)"
    if resolved is None:
        return Check("bubblewrap", False, f"{name} not found on PATH", fix)
    try:
        version = subprocess.run(
            [resolved, "--version"], capture_output=True, timeout=5, check=False
        ).stdout.decode(errors="replace")
    except (OSError, subprocess.SubprocessError) as error:
        return Check("bubblewrap", False, f"{resolved} does not run: {error}", fix)
    return Check("bubblewrap", True, f"{resolved} ({version.strip() or 'unknown version'})")


def _cgroup_checks(sandbox: Sandbox) -> list[Check]:
    slot = sandbox.slot
    checks = []
    for controller in (*REQUIRED, *OPTIONAL):
        path = slot.dirs.get(controller)
        checks.append(
            Check(
                f"cgroup {controller}",
                path is not None,
                f"runs go under {path}" if path else "not mounted (v1) or not writable",
                "run Prequel as root, or have root create and chown its cgroup slot; "
                "cgroup v2-only hosts are not supported yet",
                required=controller in REQUIRED,
            )
        )
    return checks


async def _probe_checks(
    sandbox: Sandbox, uid: int, *, workspace: Path | None = None
) -> list[Check]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        outcome = await sandbox.run(
            ["/bin/bash", "-c", PROBE, "probe", str(port)], PROBE_LIMITS, workspace=workspace
        )
    if outcome.reason is not StopReason.EXIT or outcome.exit_code != 0:
        detail = outcome.detail or outcome.stderr.decode(errors="replace")
        return [Check("sandboxed run", False, detail.strip(), "see the detail; run as root")]
    seen = dict(line.split("=", 1) for line in outcome.stdout.decode().splitlines() if "=" in line)
    interfaces = [name for name in seen.get("ifaces", "").split(",") if name]
    uidmap = seen.get("uidmap", "").strip()
    return [
        Check("sandboxed run", True, f"started in {outcome.wall_ms} ms"),
        Check(
            "user namespace",
            seen.get("uid") == str(uid) and uidmap.count(";") == 1,
            f"inside: uid {seen.get('uid')}, uid map {uidmap!r}",
            "enable unprivileged user namespaces (kernel.unprivileged_userns_clone=1)",
        ),
        Check(
            "network namespace",
            interfaces == ["lo"] and seen.get("tcp") == "closed",
            f"interfaces {interfaces}, host loopback port {seen.get('tcp')}",
            "bubblewrap must be able to unshare the network namespace",
        ),
        Check(
            "/etc/shadow unreadable",
            seen.get("shadow") == "unreadable",
            f"/etc/shadow is {seen.get('shadow')} inside",
        ),
    ]


def _tiocsti_check() -> Check:
    value = ""
    with contextlib.suppress(OSError):
        value = TIOCSTI_SYSCTL.read_text().strip()
    if not value:
        detail = "dev.tty.legacy_tiocsti not available (kernel < 6.2)"
    else:
        detail = f"dev.tty.legacy_tiocsti = {value}"
    return Check(
        "TIOCSTI",
        value == "0",
        detail + "; terminal runs only reach their own PTY either way",
        "sysctl dev.tty.legacy_tiocsti=0 turns keystroke injection off everywhere",
        required=False,
    )
