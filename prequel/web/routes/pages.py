"""Server-rendered account pages: login form, logout, home."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from prequel.web.deps import DbSession, FormCsrf, OptionalPrincipal, StateDep
from prequel.web.login import LoginFailure, attempt_login

router = APIRouter(include_in_schema=False)

HOME = "/interviews"


def safe_next(target: str | None) -> str:
    """Only same-site paths: '//evil.example' and absolute URLs fall back to home."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


@router.get("/")
async def home(principal: OptionalPrincipal) -> Response:
    return RedirectResponse(HOME if principal else "/login", status_code=303)


@router.get("/login")
async def login_page(
    request: Request, state: StateDep, principal: OptionalPrincipal, next: str | None = None
) -> Response:
    if principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return state.templates.TemplateResponse(
        request, "login.html", {"next": safe_next(next), "error": None, "email": ""}
    )


@router.post("/login", dependencies=[FormCsrf])
async def login_submit(request: Request, state: StateDep, db: DbSession) -> Response:
    form = await request.form()
    email = str(form.get("email") or "")
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    result = await attempt_login(request, db, state.login_throttle, email, password)
    if isinstance(result, LoginFailure):
        headers = {"Retry-After": str(result.retry_after)} if result.retry_after else None
        return state.templates.TemplateResponse(
            request,
            "login.html",
            {"next": target, "error": result.message, "email": email},
            status_code=result.status,
            headers=headers,
        )
    return RedirectResponse(target, status_code=303)


@router.post("/logout", dependencies=[FormCsrf])
async def logout_submit(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
