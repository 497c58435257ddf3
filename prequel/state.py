"""What the running portal holds: settings plus the backends its lifespan opened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from prequel.auth.candidate_throttle import CandidateThrottle
from prequel.auth.throttle import LoginThrottle
from prequel.realtime.bus import EventBus
from prequel.settings import Settings
from prequel.storage.base import BlobStore
from prequel.workspaces.base import Provisioner

if TYPE_CHECKING:
    from prequel.jobs.worker import Worker


@dataclass
class AppState:
    settings: Settings
    templates: Jinja2Templates
    # Opened by the lifespan (prequel.app); reading them before startup is a bug.
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    blobs: BlobStore = field(init=False)
    login_throttle: LoginThrottle = field(init=False)
    bus: EventBus = field(init=False)
    candidate_throttle: CandidateThrottle = field(init=False)
    provisioner: Provisioner = field(init=False)
    # The embedded worker (None when it runs as separate `prequel worker` processes).
    worker: Worker | None = None
