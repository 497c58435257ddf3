"""Shared fixtures: a real, migrated database (SQLite, and PostgreSQL when configured), a
started app, and logged-in clients for each role. No mocks: every request goes through the
full ASGI stack in-process."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.app import create_app
from prequel.auth.accounts import create_user, ensure_organization
from prequel.db import migrate
from prequel.db.engine import create_engine
from prequel.db.models import Organization, User
from prequel.domain.roles import Role
from prequel.settings import Settings, load_settings
from prequel.state import AppState
from prequel.storage.base import BlobStore

# Session-wide fixtures that live in their own modules (a moto S3 server, ...).
pytest_plugins = ["tests.support.moto"]

POSTGRES_URL = os.environ.get("PREQUEL_TEST_DATABASE_URL", "")
PASSWORD = "correct horse battery staple"
DATABASES = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _admin_execute(statement: str) -> None:
    """Run CREATE/DROP DATABASE on the PostgreSQL server (outside any transaction)."""
    import asyncpg  # type: ignore[import-untyped]

    url = make_url(POSTGRES_URL)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _run_in_thread(work: Callable[[], Awaitable[None]]) -> None:
    """Session fixtures may be first requested from inside a running event loop (an async
    fixture), where asyncio.run is not allowed; a short-lived thread has its own loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(work())).result()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file (the schema still comes only from Alembic)."""
    path = tmp_path_factory.mktemp("template") / "prequel.db"
    _run_in_thread(lambda: _migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PREQUEL_TEST_DATABASE_URL is not set")
    name = f"prequel_tmpl_{uuid.uuid4().hex[:10]}"
    _run_in_thread(lambda: _admin_execute(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    _run_in_thread(lambda: _migrate(url))
    yield name
    _run_in_thread(lambda: _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, fully migrated database for one test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "prequel.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgres_template")
    name = f"prequel_test_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        env="test",
        data_dir=tmp_path / "data",
        database={"url": database_url},
        secret_key="test-secret-key-that-is-long-enough-for-tests",
        # Tests that need the worker start one themselves (tests/jobs/conftest.py).
        worker={"embedded": False},
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        yield c


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def db(app: FastAPI) -> AsyncIterator[AsyncSession]:
    async with app.state.prequel.sessions() as session:
        yield session


@pytest.fixture
def app_state(app: FastAPI) -> AppState:
    state: AppState = app.state.prequel
    return state


@pytest.fixture
def blobs(app: FastAPI) -> BlobStore:
    store: BlobStore = app.state.prequel.blobs
    return store


@pytest.fixture
async def org(db: AsyncSession) -> Organization:
    organization = await ensure_organization(db, "Acme")
    await db.commit()
    return organization


MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(db: AsyncSession, org: Organization) -> MakeUser:
    async def make(role: Role = Role.INTERVIEWER, email: str | None = None) -> User:
        user = await create_user(
            db,
            organization=org,
            email=email or f"{role.value}-{uuid.uuid4().hex[:6]}@example.com",
            name=f"{role.value.title()} User",
            password=PASSWORD,
            role=role,
        )
        await db.commit()
        return user

    return make


async def log_in(c: httpx.AsyncClient, user: User) -> None:
    """Log in through the API and send the session's CSRF token on every later request."""
    response = await c.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    c.headers["X-CSRF-Token"] = response.json()["csrf_token"]


@pytest.fixture
async def admin_client(app: FastAPI, make_user: MakeUser) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        await log_in(c, await make_user(Role.ADMIN))
        yield c


@pytest.fixture
async def interviewer_client(app: FastAPI, make_user: MakeUser) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        await log_in(c, await make_user(Role.INTERVIEWER))
        yield c


@pytest.fixture
async def viewer_client(app: FastAPI, make_user: MakeUser) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as c:
        await log_in(c, await make_user(Role.VIEWER))
        yield c
