"""Every route needs the workspace (or portal) token; without it, one identical 401."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from prequel.agent.app import AgentConfig, create_agent_app
from prequel.agent.auth import require_portal
from tests.agent.conftest import RunningAgent

EXPECTED_401 = {
    "error": {
        "code": "not_authenticated",
        "message": "send the workspace token as 'Authorization: Bearer <token>'",
    }
}

# (method, path, request kwargs): every route, plus an unknown one.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/health", {}),
    ("GET", "/meta", {}),
    ("GET", "/files", {}),
    ("GET", "/files/rate_limiter.py", {}),
    ("PUT", "/files/rate_limiter.py", {"json": {"content": "x", "version": "0"}}),
    ("POST", "/files/new.py", {"json": {"type": "file"}}),
    ("DELETE", "/files/rate_limiter.py", {}),
    ("POST", "/rename", {"json": {"from": "rate_limiter.py", "to": "moved.py"}}),
    ("POST", "/upload/up.bin", {"content": b"data"}),
    ("GET", "/download/rate_limiter.py", {}),
    ("GET", "/archive", {}),
    ("GET", "/no-such-route", {}),
    ("DELETE", "/health", {}),
]

BAD_HEADERS: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer wrong-token-but-long-enough"},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "garbage"},
]


@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES)
async def test_every_route_refuses_a_missing_or_wrong_token(
    agent: RunningAgent, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    before = sorted(p.name for p in agent.workspace.iterdir())
    bodies = set()
    async with agent.anonymous_client() as anonymous:
        for headers in [*BAD_HEADERS, {"Authorization": f"Bearer {agent.token}x"}]:
            response = await anonymous.request(method, path, headers=headers, **kwargs)
            assert response.status_code == 401, (headers, response.text)
            assert response.json() == EXPECTED_401
            assert response.headers["www-authenticate"] == "Bearer"
            assert "server" not in response.headers
            bodies.add(response.content)
    assert len(bodies) == 1, "every refusal must be byte-for-byte the same"
    assert sorted(p.name for p in agent.workspace.iterdir()) == before


async def test_the_workspace_and_portal_tokens_pass(agent: RunningAgent) -> None:
    for make in (agent.client, agent.portal_client):
        async with make() as c:
            response = await c.get("/health")
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "ok"
            assert (await c.get("/files/rate_limiter.py")).status_code == 200


async def test_the_scheme_is_case_insensitive(agent: RunningAgent) -> None:
    async with agent.anonymous_client() as c:
        response = await c.get("/health", headers={"Authorization": f"bearer {agent.token}"})
    assert response.status_code == 200


async def test_unknown_route_and_wrong_method_are_json_once_authenticated(
    client: httpx.AsyncClient,
) -> None:
    missing = await client.get("/no-such-route")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await client.delete("/health")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


async def _websocket_handshake(socket_path: Path, headers: dict[str, str]) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    lines = [
        "GET /terminal HTTP/1.1",
        "Host: agent",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
        "",
        "",
    ]
    writer.write("\r\n".join(lines).encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length) if length else b""
    writer.close()
    await writer.wait_closed()
    return status, body


async def test_websocket_handshake_needs_the_token(agent: RunningAgent) -> None:
    status, body = await _websocket_handshake(agent.socket_path, {})
    assert status == 401
    assert json.loads(body) == EXPECTED_401
    status, body = await _websocket_handshake(
        agent.socket_path, {"Authorization": "Bearer wrong-token-but-long-enough"}
    )
    assert status == 401
    # With the token, the handshake is accepted (101 Switching Protocols).
    status, _ = await _websocket_handshake(
        agent.socket_path, {"Authorization": f"Bearer {agent.token}"}
    )
    assert status == 101


async def test_require_portal_admits_only_the_portal_token(tmp_path: Path) -> None:
    async def privileged(request: Request) -> Response:
        require_portal(request)
        return JSONResponse({"ok": True})

    config = AgentConfig(
        workspace=tmp_path,
        token="w" * 32,
        portal_token="p" * 32,
        challenge_dir=None,
        sandbox_uid=65534,
        sandbox_gid=65534,
    )
    app = create_agent_app(config, extra_routes=[Route("/privileged", privileged)])
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://agent") as c,
    ):
        as_workspace = await c.get("/privileged", headers={"Authorization": "Bearer " + "w" * 32})
        assert as_workspace.status_code == 403
        assert as_workspace.json()["error"]["code"] == "portal_only"
        as_portal = await c.get("/privileged", headers={"Authorization": "Bearer " + "p" * 32})
        assert as_portal.status_code == 200
        # A browser relayed by the portal's proxy passes only as an interviewer.
        for role, status in (("candidate", 403), ("spectator", 403), ("interviewer", 200)):
            relayed = await c.get(
                "/privileged",
                headers={"Authorization": "Bearer " + "p" * 32, "X-Prequel-Role": role},
            )
            assert relayed.status_code == status, (role, relayed.text)
        assert (await c.get("/privileged")).status_code == 401


def test_the_config_never_shows_tokens(tmp_path: Path) -> None:
    config = AgentConfig(workspace=tmp_path, token="secret-workspace-token", portal_token="p" * 20)
    assert "secret-workspace-token" not in repr(config)
    with pytest.raises(ValueError, match="must differ"):
        AgentConfig(workspace=tmp_path, token="same-token-value", portal_token="same-token-value")
