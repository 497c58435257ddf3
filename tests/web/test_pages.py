"""The login and logout pages, with CSRF on every form."""

from __future__ import annotations

import re

import httpx

from prequel.domain.roles import Role
from tests.conftest import PASSWORD, MakeUser

HTML = {"accept": "text/html"}


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


async def test_anonymous_pages_redirect_to_login(client: httpx.AsyncClient) -> None:
    home = await client.get("/", headers=HTML)
    assert home.status_code == 303 and home.headers["location"] == "/login"
    page = await client.get("/challenges?tag=x", headers=HTML)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fchallenges%3Ftag%3Dx"


async def test_login_form_logs_in_and_follows_next(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user(Role.VIEWER)
    page = await client.get("/login?next=/challenges")
    assert page.status_code == 200 and "Log in" in page.text
    response = await client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "next": "/challenges",
            "csrf_token": form_token(page.text),
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/challenges"
    assert (await client.get("/api/auth/me")).status_code == 200


async def test_login_form_without_csrf_is_refused(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": user.email, "password": PASSWORD}, headers=HTML
    )
    assert response.status_code == 403
    assert "reload the page" in response.text
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_wrong_password_rerenders_the_form_with_the_error(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    user = await make_user()
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": user.email, "password": "wrong", "csrf_token": form_token(page.text)},
    )
    assert response.status_code == 401
    assert "wrong email or password" in response.text
    assert user.email in response.text


async def test_open_redirects_are_refused(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    user = await make_user()
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": form_token(page.text),
        },
    )
    assert response.headers["location"] == "/interviews"


async def test_logout_form_needs_csrf_and_clears_the_session(
    viewer_client: httpx.AsyncClient,
) -> None:
    refused = await viewer_client.post("/logout", data={}, headers=HTML)
    assert refused.status_code == 403
    page = await viewer_client.get("/challenges")
    response = await viewer_client.post("/logout", data={"csrf_token": form_token(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (await viewer_client.get("/api/auth/me")).status_code == 401


async def test_health(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "ok" and body["storage"] == "local"
