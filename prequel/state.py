"""What the running portal holds: settings plus the backends its lifespan opened."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from prequel.auth.throttle import LoginThrottle
from prequel.settings import Settings
from prequel.storage.base import BlobStore


@dataclass
class AppState:
    settings: Settings
    templates: Jinja2Templates
    # Opened by the lifespan (prequel.app); reading them before startup is a bug.
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    blobs: BlobStore = field(init=False)
    login_throttle: LoginThrottle = field(init=False)
