"""Background operation types and statuses (seed 000, "Operations Table")."""

from __future__ import annotations

from enum import StrEnum


class OperationType(StrEnum):
    CREATE = "create"
    DESTROY = "destroy"


class OperationStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
