"""The team and settings pages, rendered by the server: login, role-dependent controls,
escaping, and what the server card tells (and never tells)."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.app import create_app
from prequel.auth.accounts import create_user
from prequel.db.models import Organization, User
from prequel.domain.roles import Role
from prequel.settings import Settings
from tests.conftest import PASSWORD, MakeUser, log_in

HTML = {"accept": "text/html"}
INJECTION = "<script>alert('pwned')</script>"


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def page_as(app: FastAPI, user: User, path: str) -> httpx.Response:
    async with client_for(app) as c:
        await log_in(c, user)
        response = await c.get(path, headers=HTML)
    assert response.status_code == 200, response.text
    return response


def row_of(html: str, user: User) -> str:
    match = re.search(rf'<tr data-member-id="{user.id}".*?</tr>', html, re.S)
    assert match, f"no row for {user.email}"
    return match.group(0)


@pytest.fixture
async def owner(make_user: MakeUser) -> User:
    return await make_user(Role.OWNER)


@pytest.mark.parametrize("path", ["/team", "/settings"])
async def test_pages_need_a_login(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2F{path[1:]}"


async def test_viewers_see_the_team_read_only(
    app: FastAPI, owner: User, make_user: MakeUser
) -> None:
    viewer = await make_user(Role.VIEWER)
    html = (await page_as(app, viewer, "/team")).text
    assert owner.email in html and viewer.email in html
    assert "Admins and owners add members" in html
    assert "data-role-select" not in html
    assert "data-remove-member" not in html
    assert "add-member-dialog" not in html
    assert 'class="role-badge role-owner">Owner<' in row_of(html, owner)
    # The viewer's own row says so in words.
    assert ">You<" in row_of(html, viewer)


async def test_admins_manage_everyone_but_owners(
    app: FastAPI, owner: User, make_user: MakeUser
) -> None:
    admin, member = await make_user(Role.ADMIN), await make_user(Role.INTERVIEWER)
    html = (await page_as(app, admin, "/team")).text
    assert "add-member-dialog" in html and "Add member" in html
    owner_row = row_of(html, owner)
    assert "Only an owner can change or remove an owner." in owner_row
    assert owner_row.count("disabled") == 2  # the role select and the Remove button
    member_row = row_of(html, member)
    assert "disabled" not in member_row
    assert f'aria-label="Remove {member.name}"' in member_row
    # Admins cannot give the owner role, neither in a row nor in the add dialog.
    assert 'value="owner"' not in member_row
    dialog = html[html.index("add-member-dialog") :]
    assert 'value="owner"' not in dialog and 'value="admin"' in dialog


async def test_the_last_owner_is_locked_for_the_owner_too(
    app: FastAPI, owner: User, make_user: MakeUser
) -> None:
    member = await make_user(Role.VIEWER)
    html = (await page_as(app, owner, "/team")).text
    own_row = row_of(html, owner)
    assert "The only owner. Make someone else owner first." in own_row
    assert own_row.count("disabled") == 2
    member_row = row_of(html, member)
    assert 'value="owner"' in member_row and "disabled" not in member_row


async def test_a_second_owner_unlocks_both(app: FastAPI, owner: User, make_user: MakeUser) -> None:
    second = await make_user(Role.OWNER)
    html = (await page_as(app, owner, "/team")).text
    assert "disabled" not in row_of(html, owner)
    assert "disabled" not in row_of(html, second)


async def test_a_script_in_a_member_name_stays_text(
    app: FastAPI, owner: User, db: AsyncSession, org: Organization
) -> None:
    await create_user(
        db,
        organization=org,
        email="mallory@example.com",
        name=INJECTION,
        password=PASSWORD,
        role=Role.VIEWER,
    )
    await db.commit()
    response = await page_as(app, owner, "/team")
    html = response.text
    assert INJECTION not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    # The JSON page data escapes '<' too, so it cannot close its <script> block.
    data = html[html.index('id="team-data"') :]
    assert "\\u003cscript\\u003e" in data
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_settings_shows_profile_tokens_and_no_secrets(
    app: FastAPI, owner: User, settings: Settings
) -> None:
    async with client_for(app) as c:
        await log_in(c, owner)
        created = await c.post("/api/tokens", json={"name": INJECTION})
        assert created.status_code == 201
        secret = created.json()["token"]
        html = (await c.get("/settings", headers=HTML)).text
    assert owner.email in html and "Acme" in html
    assert created.json()["prefix"] + "…" in html
    assert secret not in html
    assert INJECTION not in html and "&lt;script&gt;" in html
    assert "This server" in html and "Public URL" in html
    kind = "PostgreSQL" if settings.database_url.startswith("postgresql") else "SQLite"
    assert f"<dd>{kind}</dd>" in html
    assert settings.database_url not in html and "aiosqlite" not in html
    assert "unsafe mode" not in html


async def test_settings_hides_server_facts_from_non_admins(
    app: FastAPI, make_user: MakeUser
) -> None:
    interviewer = await make_user(Role.INTERVIEWER)
    html = (await page_as(app, interviewer, "/settings")).text
    assert "API tokens" in html and "No tokens yet" in html
    assert "This server" not in html


async def test_settings_warns_about_an_unsafe_sandbox(
    settings: Settings, make_user: MakeUser
) -> None:
    admin = await make_user(Role.ADMIN)
    unsafe = create_app(settings.model_copy(update={"unsafe_sandbox": True}))
    async with unsafe.router.lifespan_context(unsafe):
        html = (await page_as(unsafe, admin, "/settings")).text
    assert "The sandbox runs in unsafe mode." in html
    assert "unsafe: rlimits only" in html


async def test_a_removed_member_is_sent_to_login(
    app: FastAPI, owner: User, make_user: MakeUser
) -> None:
    member = await make_user(Role.ADMIN)
    async with client_for(app) as c, client_for(app) as owner_client:
        await log_in(c, member)
        await log_in(owner_client, owner)
        assert (await c.get("/team", headers=HTML)).status_code == 200
        assert (await owner_client.delete(f"/api/users/{member.id}")).status_code == 200
        response = await c.get("/team", headers=HTML)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fteam"
