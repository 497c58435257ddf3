"""What a sandboxed run reports when it ends."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class StopReason(StrEnum):
    EXIT = "exit"  # the process ended by itself (any exit code, or a signal it got itself)
    TIME_LIMIT = "time_limit"  # wall-clock limit
    CPU_LIMIT = "cpu_limit"  # CPU time of the whole tree
    MEMORY_LIMIT = "memory_limit"  # the cgroup's OOM killer fired
    OUTPUT_LIMIT = "output_limit"  # stdout or stderr went past output_bytes
    KILLED = "killed"  # stopped on request (a Stop button, a shutdown)
    FAILED_TO_START = "failed_to_start"  # the sandbox itself could not start the command


@dataclass(frozen=True)
class Outcome:
    reason: StopReason
    exit_code: int | None  # None when killed by a signal
    signal: int | None  # the signal that ended the main process, if any
    cpu_ms: int
    wall_ms: int
    peak_memory_bytes: int
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    detail: str = ""  # a sentence for people: "used 10.0 s of CPU (limit 10 s)"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["reason"] = self.reason.value
        data["stdout"] = self.stdout.decode("utf-8", "replace")
        data["stderr"] = self.stderr.decode("utf-8", "replace")
        return data
