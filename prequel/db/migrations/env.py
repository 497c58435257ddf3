"""Alembic environment. Prequel passes a live connection (see prequel.db.migrate)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from prequel.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    from prequel.db.engine import create_engine

    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # `alembic -x url=...` from a developer's shell, e.g. to autogenerate a revision.
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("use 'prequel migrate', or pass -x url=sqlite+aiosqlite:///path.db")
    asyncio.run(_run_with_own_engine(url))
