"""The schema comes only from Alembic: up from empty, down one step, up again, and the
models agree with the migrations (no pending autogenerate diff)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from prequel.db import migrate
from prequel.db.engine import create_engine
from prequel.db.models import Base

TABLES = {
    "organizations",
    "users",
    "memberships",
    "api_tokens",
    "challenges",
    "interviews",
    "operations",
    "events",
    "workspace_handles",
    "grading_runs",
    "test_results",
    "recording_events",
    "recording_snapshots",
    "analysis_reports",
    "scorecards",
}


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


async def test_upgrade_downgrade_upgrade(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    try:
        # The fixture database is already at head; go back to empty first.
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        assert await migrate.current_revision(engine) is None

        await migrate.upgrade(engine)
        assert await migrate.is_up_to_date(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES

        await migrate.downgrade(engine, "-1")
        assert await migrate.current_revision(engine) != migrate.head_revision()
        async with engine.connect() as conn:
            remaining = await conn.run_sync(_tables)
        assert remaining == TABLES - {
            "recording_events",
            "recording_snapshots",
            "analysis_reports",
            "scorecards",
        }

        await migrate.upgrade(engine)
        assert await migrate.is_up_to_date(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
    finally:
        await engine.dispose()


async def test_models_match_migrations(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
