"""The member API: change role, remove, and what a removed member can still do (nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import create_user
from prequel.db.models import Membership, Organization, User
from prequel.domain.roles import Role
from tests.conftest import PASSWORD, MakeUser, log_in

LAST_OWNER = "an organization needs at least one owner; make someone else owner first"


def assert_error(response: httpx.Response, status: int, text: str, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert text in error["message"], error
    if code:
        assert error["code"] == code, error


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
async def owner(make_user: MakeUser) -> User:
    return await make_user(Role.OWNER)


@pytest.fixture
async def owner_client(app: FastAPI, owner: User) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        await log_in(c, owner)
        yield c


async def test_owner_changes_a_role(owner_client: httpx.AsyncClient, make_user: MakeUser) -> None:
    member = await make_user(Role.VIEWER)
    response = await owner_client.patch(f"/api/users/{member.id}", json={"role": "admin"})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "admin" and response.json()["email"] == member.email
    listed = (await owner_client.get("/api/users")).json()["users"]
    assert {u["id"]: u["role"] for u in listed}[member.id] == "admin"


async def test_lower_roles_cannot_manage_members(
    viewer_client: httpx.AsyncClient,
    interviewer_client: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    member = await make_user(Role.VIEWER)
    for c in (viewer_client, interviewer_client):
        patch = await c.patch(f"/api/users/{member.id}", json={"role": "interviewer"})
        assert_error(patch, 403, "needs the admin role", "forbidden")
        assert_error(await c.delete(f"/api/users/{member.id}"), 403, "needs the admin role")


async def test_admins_cannot_change_owners_or_make_them(
    admin_client: httpx.AsyncClient, owner: User, make_user: MakeUser
) -> None:
    member = await make_user(Role.INTERVIEWER)
    demote = await admin_client.patch(f"/api/users/{owner.id}", json={"role": "viewer"})
    assert_error(demote, 403, "only an owner can change or remove an owner")
    remove = await admin_client.delete(f"/api/users/{owner.id}")
    assert_error(remove, 403, "only an owner can change or remove an owner")
    promote = await admin_client.patch(f"/api/users/{member.id}", json={"role": "owner"})
    assert_error(promote, 403, "only an owner can make someone an owner")
    # Everything below owner is theirs to manage.
    ok = await admin_client.patch(f"/api/users/{member.id}", json={"role": "admin"})
    assert ok.status_code == 200, ok.text


async def test_the_last_owner_is_a_409(owner_client: httpx.AsyncClient, owner: User) -> None:
    demote = await owner_client.patch(f"/api/users/{owner.id}", json={"role": "admin"})
    assert_error(demote, 409, LAST_OWNER, "last_owner")
    remove = await owner_client.delete(f"/api/users/{owner.id}")
    assert_error(remove, 409, LAST_OWNER, "last_owner")
    me = await owner_client.get("/api/auth/me")
    assert me.json()["role"] == "owner"


async def test_with_a_second_owner_the_first_may_leave(
    app: FastAPI, owner_client: httpx.AsyncClient, owner: User, make_user: MakeUser
) -> None:
    second = await make_user(Role.OWNER)
    left = await owner_client.delete(f"/api/users/{owner.id}")
    assert left.status_code == 200, left.text
    assert left.json() == {"id": owner.id, "removed": True, "deactivated": True}
    # The session that removed itself no longer works.
    assert_error(await owner_client.get("/api/auth/me"), 401, "log in first")
    async with client_for(app) as c:
        await log_in(c, second)
        last = await c.patch(f"/api/users/{second.id}", json={"role": "viewer"})
        assert_error(last, 409, LAST_OWNER, "last_owner")


async def test_unknown_and_other_organization_users_are_404(
    owner_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    other = Organization(name="Elsewhere", slug="elsewhere")
    db.add(other)
    await db.flush()
    stranger = await create_user(
        db,
        organization=other,
        email="stranger@example.com",
        name="Stranger",
        password=PASSWORD,
        role=Role.VIEWER,
    )
    await db.commit()
    for user_id in ("0" * 32, stranger.id):
        patch = await owner_client.patch(f"/api/users/{user_id}", json={"role": "admin"})
        assert_error(patch, 404, "no member", "not_found")
        assert_error(await owner_client.delete(f"/api/users/{user_id}"), 404, "no member")


async def test_an_unknown_role_is_a_422_naming_the_field(
    owner_client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    member = await make_user(Role.VIEWER)
    response = await owner_client.patch(f"/api/users/{member.id}", json={"role": "god"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "role"


async def test_a_removed_members_session_and_token_stop_working(
    app: FastAPI, owner_client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    member = await make_user(Role.INTERVIEWER)
    async with client_for(app) as session:
        await log_in(session, member)
        created = await session.post("/api/tokens", json={"name": "ci"})
        token = created.json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await session.get("/api/auth/me", headers=bearer)).status_code == 200

        removed = await owner_client.delete(f"/api/users/{member.id}")
        assert removed.status_code == 200 and removed.json()["deactivated"] is True

        assert_error(await session.get("/api/auth/me"), 401, "log in first")
        page = await session.get("/team", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert_error(await session.get("/api/auth/me", headers=bearer), 401, "revoked")
        again = await session.post(
            "/api/auth/login", json={"email": member.email, "password": PASSWORD}
        )
        assert again.status_code == 401
    listed = (await owner_client.get("/api/users")).json()["users"]
    assert member.id not in {u["id"] for u in listed}


async def test_an_active_user_without_membership_is_refused(
    app: FastAPI, make_user: MakeUser, db: AsyncSession
) -> None:
    """optional_principal must not accept an account that belongs to no organization."""
    member = await make_user(Role.VIEWER)
    async with client_for(app) as c:
        await log_in(c, member)
        token = (await c.post("/api/tokens", json={"name": "x"})).json()["token"]
        await db.execute(delete(Membership).where(Membership.user_id == member.id))
        await db.commit()
        assert_error(await c.get("/api/users"), 403, "not a member of any organization")
        bearer = {"Authorization": f"Bearer {token}"}
        assert_error(await c.get("/api/users", headers=bearer), 403, "not a member")


async def test_adding_a_member_reports_the_bad_field(
    owner_client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    existing = await make_user(Role.VIEWER)
    body: dict[str, Any] = {"email": "new@example.com", "name": "New", "password": "short"}
    short = await owner_client.post("/api/users", json=body)
    assert_error(short, 422, "at least 8")
    assert short.json()["error"]["details"] == [
        {"field": "password", "message": "password must be at least 8 characters"}
    ]
    duplicate = await owner_client.post(
        "/api/users", json={**body, "email": existing.email, "password": PASSWORD}
    )
    assert_error(duplicate, 409, "already exists and is a member", "duplicate_email")
    assert duplicate.json()["error"]["details"][0]["field"] == "email"
    owner = await owner_client.post(
        "/api/users", json={**body, "password": PASSWORD, "role": "owner"}
    )
    assert owner.status_code == 201 and owner.json()["role"] == "owner"


async def test_a_removed_member_can_be_added_back(
    owner_client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    member = await make_user(Role.VIEWER)
    assert (await owner_client.delete(f"/api/users/{member.id}")).status_code == 200
    back = await owner_client.post(
        "/api/users",
        json={"email": member.email, "name": "Returning", "password": "another long password"},
    )
    assert back.status_code == 201, back.text
    assert back.json()["id"] == member.id and back.json()["is_active"] is True


async def test_openapi_documents_the_member_errors(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    member = paths["/api/users/{user_id}"]
    for method in ("patch", "delete"):
        assert {"403", "404", "409"} <= set(member[method]["responses"]), method
    assert "last_owner" in member["patch"]["responses"]["409"]["description"]
