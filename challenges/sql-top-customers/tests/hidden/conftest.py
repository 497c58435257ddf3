"""Run the candidate's query.sql (from the workspace, the current directory) on a fresh
in-memory database built from this folder's own copy of the schema."""

import sqlite3
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
COLUMNS = ["customer_id", "name", "revenue_cents", "order_count"]


def run_query(data_sql: str) -> list[tuple]:
    query = (Path.cwd() / "query.sql").read_text(encoding="utf-8")
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript((HERE / "schema.sql").read_text(encoding="utf-8"))
        connection.executescript(data_sql)
        cursor = connection.execute(query)
        columns = [d[0] for d in cursor.description or []]
        assert columns == COLUMNS, f"the query must return columns {COLUMNS}, not {columns}"
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        connection.close()


@pytest.fixture
def query():
    return run_query
