"""The async work behind the CLI commands, kept apart from argument parsing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import click
import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from prequel.auth.accounts import (
    AccountError,
    count_users,
    create_api_token,
    create_user,
    ensure_organization,
    get_user_by_email,
)
from prequel.challenges.library import import_challenge_dir, import_samples, list_latest
from prequel.challenges.manifest import ChallengeInvalid
from prequel.db import migrate
from prequel.db.engine import create_engine, create_session_factory
from prequel.domain.roles import Role
from prequel.settings import Settings
from prequel.storage.base import BlobError, BlobStore
from prequel.storage.factory import open_blob_store


@dataclass
class InitReport:
    admin_email: str
    admin_password: str | None
    database_line: str = ""
    challenge_lines: list[str] = field(default_factory=list)


@asynccontextmanager
async def database_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on an up-to-date schema; committed on success."""
    engine = create_engine(settings.database_url)
    try:
        await _require_current_schema(engine)
        async with create_session_factory(engine)() as session:
            yield session
            await session.commit()
    finally:
        await engine.dispose()


@asynccontextmanager
async def blob_store(settings: Settings) -> AsyncIterator[BlobStore]:
    try:
        store = await open_blob_store(settings)
    except BlobError as exc:
        raise click.ClickException(f"blob storage unavailable: {exc}") from exc
    try:
        yield store
    finally:
        await store.close()


async def _require_current_schema(engine: AsyncEngine) -> None:
    current, head = await migrate.current_revision(engine), migrate.head_revision()
    if current != head:
        raise click.ClickException(
            f"database schema is at {current or 'no revision'}, this Prequel needs {head}: "
            "run 'prequel migrate'"
        )


async def check_schema(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await _require_current_schema(engine)
    finally:
        await engine.dispose()


async def run_migrations(settings: Settings, revision: str) -> tuple[str | None, str | None]:
    engine = create_engine(settings.database_url)
    try:
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine, revision)
        return before, await migrate.current_revision(engine)
    finally:
        await engine.dispose()


async def initialize(settings: Settings) -> InitReport:
    """First-run setup for `make run`; every step is idempotent."""
    before, after = await run_migrations(settings, "head")
    async with database_session(settings) as db, blob_store(settings) as blobs:
        org = await ensure_organization(db, settings.admin.organization)
        report = InitReport(admin_email=settings.admin.email, admin_password=None)
        report.database_line = (
            f"database: up to date (revision {after})"
            if before == after
            else f"database: migrated from {before or 'empty'} to revision {after}"
        )
        for result in await import_samples(db, blobs, org, settings.samples_dir):
            challenge = result.challenge
            state = f"new version v{challenge.version}" if result.created else "unchanged"
            report.challenge_lines.append(f"challenge {challenge.slug}: {state}")
        if await count_users(db) == 0:
            configured = settings.admin.password
            password = configured.get_secret_value() if configured else secrets.token_urlsafe(12)
            await create_user(
                db,
                organization=org,
                email=settings.admin.email,
                name=settings.admin.name,
                password=password,
                role=Role.OWNER,
            )
            report.admin_password = password
        return report


async def add_user(settings: Settings, email: str, name: str, password: str, role: str) -> str:
    async with database_session(settings) as db:
        org = await ensure_organization(db, settings.admin.organization)
        try:
            user = await create_user(
                db, organization=org, email=email, name=name, password=password, role=Role(role)
            )
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        return user.email


async def issue_token(settings: Settings, email: str, name: str, days: int | None) -> str:
    async with database_session(settings) as db:
        user = await get_user_by_email(db, email)
        if user is None:
            raise click.ClickException(f"no user with email {email}")
        lifetime = timedelta(days=days or settings.auth.token_default_days)
        _token, plaintext = await create_api_token(db, user, name=name, expires_in=lifetime)
        return plaintext


def _challenge_dirs(directory: Path) -> list[Path]:
    """The folder itself if it is a challenge, else its challenge subfolders."""
    if (directory / "challenge.toml").is_file():
        return [directory]
    found = sorted(p for p in directory.iterdir() if (p / "challenge.toml").is_file())
    return found or [directory]  # validating the folder itself explains what is missing


async def import_challenges(settings: Settings, directory: Path) -> tuple[list[str], bool]:
    lines: list[str] = []
    ok = True
    async with database_session(settings) as db, blob_store(settings) as blobs:
        org = await ensure_organization(db, settings.admin.organization)
        for path in _challenge_dirs(directory):
            try:
                result = await import_challenge_dir(
                    db, blobs, org, path, limits=settings.challenges
                )
            except ChallengeInvalid as exc:
                ok = False
                lines.append(f"{path}: not imported, {len(exc.problems)} problem(s):")
                lines.extend(f"  {problem.path}: {problem.message}" for problem in exc.problems)
                continue
            challenge = result.challenge
            if result.created:
                lines.append(f"{challenge.slug}: imported as version {challenge.version}")
            else:
                lines.append(f"{challenge.slug}: unchanged (version {challenge.version})")
    return lines, ok


async def list_challenges(settings: Settings) -> list[str]:
    async with database_session(settings) as db:
        org = await ensure_organization(db, settings.admin.organization)
        rows = await list_latest(db, org)
    if not rows:
        return ["no challenges yet: run 'prequel challenges import DIR'"]
    width = max(len(c.slug) for c in rows)
    return [
        f"{c.slug:<{width}}  v{c.version:<3} {c.difficulty:<6} {c.language:<10} {c.title}"
        for c in rows
    ]


async def get_once(settings: Settings, path: str, token: str | None) -> tuple[int, str]:
    """Datasette-style smoke test: one in-process request through the full app."""
    from prequel.app import create_app

    # One request must not start provisioning or reconciling workspaces.
    quiet = settings.model_copy(
        update={"worker": settings.worker.model_copy(update={"embedded": False})}
    )
    app = create_app(quiet)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as c:
            response = await c.get(path, headers=headers)
    return response.status_code, response.text
