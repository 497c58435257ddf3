"""Per-run resource limits. Every limit is positive and bounded: 0 never means unlimited."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


class Limits(BaseModel):
    """What one sandboxed run may use. Challenges and API callers may override fields.

    Bounds reject nonsense (0, negatives, a terabyte of memory) with a message naming the
    field, rather than silently clamping or treating 0 as "no limit".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_seconds: float = Field(
        default=10, gt=0, le=3600, description="CPU time of the whole process tree."
    )
    wall_seconds: float = Field(default=20, gt=0, le=6 * 3600, description="Elapsed time.")
    memory_bytes: int = Field(
        default=512 * MIB, ge=16 * MIB, le=16 * GIB, description="Memory of the whole tree."
    )
    processes: int = Field(default=128, ge=1, le=4096, description="Processes and threads.")
    file_size_bytes: int = Field(
        default=16 * MIB, ge=KIB, le=4 * GIB, description="Largest file a process may write."
    )
    open_files: int = Field(default=256, ge=16, le=65536, description="Open files per process.")
    output_bytes: int = Field(
        default=1 * MIB, ge=KIB, le=256 * MIB, description="Bytes kept per stream (stdout, stderr)."
    )
    tmp_bytes: int = Field(
        default=64 * MIB, ge=MIB, le=4 * GIB, description="Size of the private /tmp and /dev/shm."
    )

    def merged(self, overrides: dict[str, Any] | None) -> Limits:
        """These limits with some fields replaced; validation errors name the field."""
        if not overrides:
            return self
        return Limits.model_validate({**self.model_dump(), **overrides})


DEFAULT_LIMITS = Limits()
