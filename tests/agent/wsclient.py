"""A WebSocket client for the agent's unix socket, speaking its JSON messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, unix_connect


@asynccontextmanager
async def connect(socket_path: Path, path: str, token: str) -> AsyncIterator[ClientConnection]:
    async with unix_connect(
        str(socket_path),
        f"ws://agent{path}",
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=8 * 1024 * 1024,
    ) as connection:
        yield connection


async def send(connection: ClientConnection, message: dict[str, Any]) -> None:
    await connection.send(json.dumps(message))


async def receive(connection: ClientConnection, seconds: float = 30) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        message = json.loads(await connection.recv())
    assert isinstance(message, dict)
    return message


async def receive_until(
    connection: ClientConnection, kind: str, seconds: float = 60
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every message before the first of type `kind`, and that message."""
    before: list[dict[str, Any]] = []
    async with asyncio.timeout(seconds):
        while True:
            message = await receive(connection, seconds)
            if message["type"] == kind:
                return before, message
            before.append(message)
