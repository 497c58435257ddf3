"""Every route is guarded unless it is on the public list: a new route without a role check
fails here."""

from __future__ import annotations

import re

import httpx
from fastapi.routing import APIRoute, APIWebSocketRoute

from prequel.app import ROUTERS

PUBLIC = {
    ("GET", "/health"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/logout"),
    ("GET", "/login"),
    ("POST", "/login"),  # CSRF-protected form
    ("POST", "/logout"),  # CSRF-protected form
    ("GET", "/"),  # redirects to /login or the home page
    # Candidates: the passcode or workspace password is the credential (rate limited).
    ("GET", "/api/interviews/by-passcode/{passcode}"),
    ("GET", "/api/interviews/by-passcode/{passcode}/events"),
    ("POST", "/api/interviews/{interview_id}/activate"),
    ("POST", "/api/interviews/{interview_id}/join"),
    ("POST", "/api/interviews/{interview_id}/submit"),  # the candidate session + CSRF
    # Candidate pages and the workspace's stream: the passcode, or the candidate session
    # granted by proving it or the workspace password (staff of the organization too).
    ("GET", "/take-home/{passcode}"),
    ("GET", "/join/{interview_id}"),
    ("GET", "/w/{interview_id}/"),
    ("GET", "/api/interviews/{interview_id}/workspace-events"),
    # The workspace proxy checks the same, itself, and answers JSON 401 (tests/web/
    # test_workspace_proxy.py); its WebSocket twin is checked there too.
    *(
        (method, "/w/{interview_id}/agent/{path:path}")
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    ),
}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


async def test_every_non_public_route_needs_a_login(client: httpx.AsyncClient) -> None:
    checked = 0
    for route in (r for router in ROUTERS for r in router.routes):
        if isinstance(route, APIWebSocketRoute):
            continue  # the workspace proxy's WebSocket: tests/web/test_workspace_proxy.py
        assert isinstance(route, APIRoute)
        for method in (route.methods or set()) - {"HEAD", "OPTIONS"}:
            if (method, route.path) in PUBLIC:
                continue
            html = not route.path.startswith("/api/")
            headers = {"accept": "text/html"} if html else {}
            response = await client.request(method, concrete(route.path), headers=headers)
            where = f"{method} {route.path}"
            if html:
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/login?next="), where
            else:
                assert response.status_code == 401, (where, response.text)
                assert response.json()["error"]["code"] == "not_authenticated", where
            checked += 1
    assert checked >= 8
