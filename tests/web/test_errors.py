"""The API's error answers for failures that are not the caller's input."""

from __future__ import annotations

import sqlite3

import httpx
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError

from prequel.web.errors import install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    return app


async def test_a_busy_sqlite_database_is_a_503_to_retry_not_a_500() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        busy = await client.get("/busy")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "database_busy"
        broken = await client.get("/broken")
        assert broken.status_code == 500
        assert broken.json()["error"]["code"] == "internal_error"
