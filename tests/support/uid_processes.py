"""What of a uid still exists on the host, for tests that check nothing outlives a sandbox."""

from __future__ import annotations

import subprocess


def uid_processes(uid: int) -> list[str]:
    """Processes of `uid`, zombies included, except zombies already handed to init (parent 1).

    Those are dead and no longer anyone's child here: init reaps them on its own schedule,
    which on this machine's init takes a second or more, longer under a loaded parallel run.
    A zombie whose parent is still one of ours is listed: that would be a reaping bug.
    """
    found = subprocess.run(
        ["ps", "-o", "pid=,ppid=,stat=,args=", "-u", str(uid)],
        capture_output=True,
        text=True,
        check=False,
    )
    alive: list[str] = []
    for line in found.stdout.splitlines():
        fields = line.split(None, 3)
        if len(fields) < 3:
            continue
        pid, ppid, stat = fields[0], fields[1], fields[2]
        if stat.startswith("Z") and ppid == "1":
            continue
        alive.append(f"{pid} {fields[3] if len(fields) > 3 else ''}".rstrip())
    return alive
