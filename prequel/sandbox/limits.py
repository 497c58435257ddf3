"""Per-run resource limits. Every limit is positive and bounded: 0 never means unlimited.

A plain dataclass rather than a pydantic model: the agent imports this at start-up, and its
cold start (spawn to healthy) has a 300 ms budget that pydantic alone would eat a quarter of.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    low_inclusive: bool = True
    description: str = ""

    def describe(self, unit: float = 1) -> str:
        words = "at least" if self.low_inclusive else "more than"
        return f"must be {words} {self.low / unit:g} and at most {self.high / unit:g}"

    def admits(self, value: float) -> bool:
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and value <= self.high


BOUNDS: dict[str, Bound] = {
    "cpu_seconds": Bound(0, 3600, False, "CPU time of the whole process tree."),
    "wall_seconds": Bound(0, 6 * 3600, False, "Elapsed time."),
    "memory_bytes": Bound(16 * MIB, 16 * GIB, True, "Memory of the whole tree."),
    "processes": Bound(1, 4096, True, "Processes and threads."),
    "file_size_bytes": Bound(KIB, 4 * GIB, True, "Largest file a process may write."),
    "open_files": Bound(16, 65536, True, "Open files per process."),
    "output_bytes": Bound(KIB, 256 * MIB, True, "Bytes kept per stream (stdout, stderr)."),
    "tmp_bytes": Bound(MIB, 4 * GIB, True, "Size of the private /tmp and /dev/shm."),
}
INTEGER_FIELDS = frozenset(BOUNDS) - {"cpu_seconds", "wall_seconds"}


class LimitError(ValueError):
    """A limit is out of bounds, of the wrong type, or unknown; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use. Challenges and API callers may override fields;
    nonsense (0, negatives, a terabyte of memory) is refused with the field named."""

    cpu_seconds: float = 10
    wall_seconds: float = 20
    memory_bytes: int = 512 * MIB
    processes: int = 128
    file_size_bytes: int = 16 * MIB
    open_files: int = 256
    output_bytes: int = 1 * MIB
    tmp_bytes: int = 64 * MIB

    def __post_init__(self) -> None:
        for name, bound in BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise LimitError(name, "must be a number")
            if name in INTEGER_FIELDS and not float(value).is_integer():
                raise LimitError(name, "must be a whole number")
            if not math.isfinite(value) or not bound.admits(value):
                raise LimitError(name, bound.describe())
            if name in INTEGER_FIELDS and not isinstance(value, int):
                object.__setattr__(self, name, int(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def merged(self, overrides: dict[str, Any] | None) -> Limits:
        """These limits with some fields replaced; an unknown or bad field is a LimitError."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        for name in overrides:
            if name not in known:
                raise LimitError(str(name), f"unknown limit (known: {', '.join(sorted(known))})")
        return replace(self, **overrides)


DEFAULT_LIMITS = Limits()
