"""Login, sessions, CSRF, API tokens and roles through the real ASGI stack."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import create_api_token
from prequel.db.models import ApiToken
from prequel.db.types import utcnow
from prequel.domain.roles import Role
from tests.conftest import PASSWORD, MakeUser


def assert_json_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]["message"]
    assert fragment in message, message


async def test_login_sets_a_hardened_session_cookie(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(Role.INTERVIEWER)
    response = await client.post(
        "/api/auth/login", json={"email": user.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == user.email
    assert body["role"] == "interviewer"
    assert body["csrf_token"]
    cookie = response.headers["set-cookie"].lower()
    assert "prequel_session=" in cookie
    assert "httponly" in cookie and "samesite=lax" in cookie

    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["user"]["id"] == user.id


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    wrong = await client.post("/api/auth/login", json={"email": user.email, "password": "nope"})
    unknown = await client.post(
        "/api/auth/login", json={"email": "ghost@example.com", "password": "nope"}
    )
    assert_json_error(wrong, 401, "wrong email or password")
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


async def test_malformed_login_body_is_a_clear_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/login", json={"email": "a@b.c"})
    assert_json_error(response, 422, "password")
    response = await client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "error" in response.json()


async def test_failed_logins_are_throttled_per_account(
    client: httpx.AsyncClient, make_user: MakeUser, app: FastAPI
) -> None:
    user = await make_user()
    limit = app.state.prequel.settings.auth.login_attempts_per_account
    for _ in range(limit):
        response = await client.post(
            "/api/auth/login", json={"email": user.email, "password": "wrong"}
        )
        assert response.status_code == 401
    blocked = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert_json_error(blocked, 429, "too many failed logins for this account")
    assert int(blocked.headers["retry-after"]) > 0


async def test_failed_logins_are_throttled_per_ip(
    client: httpx.AsyncClient, make_user: MakeUser, app: FastAPI
) -> None:
    user = await make_user()
    limit = app.state.prequel.settings.auth.login_attempts_per_ip
    for i in range(limit):
        response = await client.post(
            "/api/auth/login", json={"email": f"nobody{i}@example.com", "password": "wrong"}
        )
        assert response.status_code == 401
    blocked = await client.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert_json_error(blocked, 429, "your network address")


async def test_logout_ends_the_session(viewer_client: httpx.AsyncClient) -> None:
    assert (await viewer_client.get("/api/auth/me")).status_code == 200
    assert (await viewer_client.post("/api/auth/logout")).status_code == 204
    assert_json_error(await viewer_client.get("/api/auth/me"), 401, "log in first")


async def test_cookie_requests_that_change_state_need_the_csrf_header(
    admin_client: httpx.AsyncClient,
) -> None:
    body = {"email": "new@example.com", "name": "New", "password": "long enough pw"}
    without = await admin_client.post("/api/users", json=body, headers={"X-CSRF-Token": ""})
    assert_json_error(without, 403, "X-CSRF-Token")
    wrong = await admin_client.post("/api/users", json=body, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    ok = await admin_client.post("/api/users", json=body)
    assert ok.status_code == 201, ok.text


async def test_api_token_is_shown_once_and_works_as_bearer(
    viewer_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    created = await viewer_client.post("/api/tokens", json={"name": "ci"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    listed = (await viewer_client.get("/api/tokens")).json()["tokens"]
    assert [t["name"] for t in listed] == ["ci"]
    assert token not in str(listed)

    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["role"] == "viewer"
    # Bearer calls carry no ambient credential, so no CSRF header is needed.
    revoke = await client.delete(
        f"/api/tokens/{created.json()['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert revoke.status_code == 204
    after = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_json_error(after, 401, "revoked")


async def test_expired_and_unknown_tokens_are_rejected_clearly(
    client: httpx.AsyncClient, make_user: MakeUser, db: AsyncSession
) -> None:
    user = await make_user()
    token_row, token = await create_api_token(db, user, name="old", expires_in=timedelta(days=1))
    row = await db.get(ApiToken, token_row.id)
    assert row is not None
    row.expires_at = utcnow() - timedelta(minutes=1)
    await db.commit()

    expired = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_json_error(expired, 401, "expired")
    unknown = await client.get("/api/auth/me", headers={"Authorization": "Bearer pq_nope"})
    assert_json_error(unknown, 401, "not recognized")
    malformed = await client.get("/api/auth/me", headers={"Authorization": "Basic abc"})
    assert_json_error(malformed, 401, "Bearer")


async def test_roles_are_enforced_with_json_403(
    viewer_client: httpx.AsyncClient, interviewer_client: httpx.AsyncClient
) -> None:
    body = {"email": "x@example.com", "name": "X", "password": "long enough pw"}
    for c in (viewer_client, interviewer_client):
        assert_json_error(await c.post("/api/users", json=body), 403, "needs the admin role")
    listed = await viewer_client.get("/api/users")
    assert listed.status_code == 200


async def test_duplicate_email_is_a_409(admin_client: httpx.AsyncClient) -> None:
    body = {"email": "Dup@Example.com", "name": "Dup", "password": "long enough pw"}
    assert (await admin_client.post("/api/users", json=body)).status_code == 201
    again = await admin_client.post("/api/users", json={**body, "email": "dup@example.com"})
    assert_json_error(again, 409, "already exists")


async def test_bad_user_input_is_a_422_not_a_500(admin_client: httpx.AsyncClient) -> None:
    short = {"email": "s@example.com", "name": "S", "password": "short"}
    assert_json_error(await admin_client.post("/api/users", json=short), 422, "at least 8")
    bad_email = {"email": "not-an-email", "name": "S", "password": "long enough pw"}
    assert_json_error(await admin_client.post("/api/users", json=bad_email), 422, "invalid email")
    bad_role = {"email": "r@example.com", "name": "R", "password": "long enough pw", "role": "god"}
    assert (await admin_client.post("/api/users", json=bad_role)).status_code == 422


async def test_only_owners_add_owners(
    admin_client: httpx.AsyncClient,
) -> None:
    body = {"email": "o@example.com", "name": "O", "password": "long enough pw", "role": "owner"}
    assert_json_error(await admin_client.post("/api/users", json=body), 403, "only an owner")


async def test_unknown_api_route_is_json_404(client: httpx.AsyncClient) -> None:
    assert_json_error(await client.get("/api/nothing-here"), 404, "/api/nothing-here")
    wrong_method = await client.delete("/api/auth/me")
    assert_json_error(wrong_method, 405, "DELETE")
