"""Bearer-token authentication for every HTTP request and WebSocket handshake.

Two tokens exist. The workspace token is what the portal presents on behalf of a candidate or
an interviewer; the portal token is the portal's own credential. Both pass everywhere; only
the portal token unlocks privileged endpoints (`require_portal`), such as hidden tests.

A request without a valid token learns nothing: every route, /health and unknown paths
included, answers the same 401 body, before routing, so not even which paths exist leaks.
"""

from __future__ import annotations

import hmac
import json
from typing import Literal

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from prequel.agent.errors import AgentError, error_body

Role = Literal["workspace", "portal"]
ROLE_KEY = "agent_role"
# A WebSocket close code in the 4000-4999 application range, mirroring HTTP 401.
WS_NOT_AUTHENTICATED = 4401

UNAUTHENTICATED_BODY = json.dumps(
    error_body(
        "not_authenticated",
        "send the workspace token as 'Authorization: Bearer <token>'",
    ),
    separators=(",", ":"),
).encode("utf-8")
_UNAUTHENTICATED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(UNAUTHENTICATED_BODY)).encode("ascii")),
    (b"www-authenticate", b"Bearer"),
]


def _bearer(headers: Headers) -> bytes | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode("utf-8", "surrogateescape")


class BearerAuth:
    """ASGI middleware: checks the token, records the caller's role in scope["state"]."""

    def __init__(self, app: ASGIApp, *, token: str, portal_token: str | None) -> None:
        self.app = app
        self._token = token.encode("utf-8")
        self._portal = portal_token.encode("utf-8") if portal_token else None

    def role_of(self, presented: bytes | None) -> Role | None:
        if presented is None:
            return None
        # Both comparisons always run, in constant time, so timing says nothing.
        workspace = hmac.compare_digest(presented, self._token)
        portal = self._portal is not None and hmac.compare_digest(presented, self._portal)
        if portal:
            return "portal"
        return "workspace" if workspace else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        role = self.role_of(_bearer(Headers(scope=scope)))
        if role is None:
            if scope["type"] == "http":
                await _send_401(send)
            else:
                await _refuse_websocket(scope, receive, send)
            return
        scope.setdefault("state", {})[ROLE_KEY] = role
        await self.app(scope, receive, send)


async def _send_401(send: Send) -> None:
    await send({"type": "http.response.start", "status": 401, "headers": _UNAUTHENTICATED_HEADERS})
    await send({"type": "http.response.body", "body": UNAUTHENTICATED_BODY})


async def _refuse_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """Refuse before accepting: a plain 401 with the same JSON when the server supports
    handshake responses (uvicorn does), else close 4401, which clients see as a 403."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": _UNAUTHENTICATED_HEADERS,
            }
        )
        await send({"type": "websocket.http.response.body", "body": UNAUTHENTICATED_BODY})
        return
    await send({"type": "websocket.close", "code": WS_NOT_AUTHENTICATED})


def caller_role(conn: HTTPConnection) -> Role:
    """The role BearerAuth recorded; every connection that reaches a route has one."""
    role: Role = conn.scope["state"][ROLE_KEY]
    return role


def require_portal(conn: HTTPConnection) -> None:
    """Call at the top of a privileged endpoint (hidden tests, ...): only the portal's own
    token passes; the workspace token gets 403."""
    if caller_role(conn) != "portal":
        raise AgentError(
            403,
            "portal_only",
            "this endpoint is reserved for the portal; it needs the portal token",
        )
    # Defense in depth: the portal's proxy relays browsers with the portal token and names
    # them in X-Prequel-Role; only an interviewer (or the portal itself, unnamed) may pass.
    relayed_role = conn.headers.get("x-prequel-role")
    if relayed_role is not None and relayed_role.strip().lower() != "interviewer":
        raise AgentError(
            403,
            "portal_only",
            "this endpoint is reserved for the portal and interviewers; "
            f"a {relayed_role.strip()[:20]!r} may not use it",
        )
