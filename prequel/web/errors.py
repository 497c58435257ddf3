"""Every API error is JSON with a message a person can act on; pages get HTML or a redirect."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_DEFAULT_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from any route or service to answer with a JSON error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _DEFAULT_CODES.get(status, "error")
        self.details = details
        self.headers = headers


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def wants_html(request: Request) -> bool:
    """Pages (not /api, not /w) that a browser asked for get HTML errors and login redirects."""
    path = request.url.path
    if path.startswith(("/api/", "/w/")) or path == "/health":
        return False
    return "text/html" in request.headers.get("accept", "")


def _respond(request: Request, error: ApiError) -> Response:
    if wants_html(request):
        if error.status == 401:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        templates: Jinja2Templates = request.app.state.prequel.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": error.status, "message": error.message},
            status_code=error.status,
            headers=error.headers,
        )
    return JSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


def _describe_validation(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    problems: list[dict[str, Any]] = []
    for err in exc.errors():
        location = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(location) or "request"
        problems.append({"field": field, "message": err.get("msg", "invalid")})
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    return f"invalid input: {summary}", problems


def database_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked": transient, the transaction was rolled back."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _respond(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        headers = dict(exc.headers) if exc.headers else None
        return _respond(request, ApiError(exc.status_code, message, headers=headers))

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        message, problems = _describe_validation(exc)
        return _respond(request, ApiError(422, message, details=problems))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        if database_busy(exc):
            # SQLite refuses a write whose transaction read before another writer committed
            # (busy_timeout cannot help there); nothing was written, so a retry is safe.
            log.warning("database busy on %s %s; answered 503", request.method, request.url.path)
            return _respond(
                request,
                ApiError(
                    503,
                    "the database is busy with other writes; retry in a moment",
                    code="database_busy",
                    headers={"Retry-After": "1"},
                ),
            )
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(
            request,
            ApiError(500, "internal error; the server log has the details", code="internal_error"),
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)
