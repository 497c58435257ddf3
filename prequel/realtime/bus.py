"""The event bus protocol: published events reach every subscriber in every process.

The bus is a fan-out, not a store: the events table is the record, and SSE clients replay
from it (Last-Event-ID). A message published before a subscriber joined is not delivered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class Audience:
    STAFF = "staff"
    CANDIDATE = "candidate"
    ALL = "all"


@dataclass(frozen=True)
class BusEvent:
    """One row of the events table, as it travels on the bus."""

    seq: int
    type: str
    org_id: str | None
    interview_id: str | None
    audience: str
    payload: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BusEvent:
        return cls(
            seq=int(data["seq"]),
            type=str(data["type"]),
            org_id=data.get("org_id"),
            interview_id=data.get("interview_id"),
            audience=str(data.get("audience", Audience.STAFF)),
            payload=dict(data.get("payload") or {}),
        )

    def for_staff_of(self, org_id: str) -> bool:
        return self.org_id == org_id and self.audience in (Audience.STAFF, Audience.ALL)

    def for_candidate_of(self, interview_id: str) -> bool:
        return self.interview_id == interview_id and self.audience in (
            Audience.CANDIDATE,
            Audience.ALL,
        )


class Subscription(Protocol):
    """Events published after subscribe() returned, in publish order per publisher."""

    def __aiter__(self) -> AsyncIterator[BusEvent]: ...

    async def close(self) -> None: ...


class EventBus(Protocol):
    name: str

    async def publish(self, events: list[BusEvent]) -> None: ...

    async def subscribe(self) -> Subscription: ...

    async def close(self) -> None: ...
