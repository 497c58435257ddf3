"""Every agent error is JSON `{"error": {"code", "message"}}` with a message a person can act on.

The agent imports nothing from the portal's web package: FastAPI alone takes longer to import
than the agent's whole cold-start budget, and the agent needs only Starlette.
"""

from __future__ import annotations

import errno
import json
import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("prequel.agent")

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
    500: "internal_error",
    503: "unavailable",
    507: "no_space",
}


class AgentError(Exception):
    """Raise anywhere in the agent to answer with a JSON error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


class AgentJSONResponse(JSONResponse):
    """JSON that never fails to render: a name that is not valid UTF-8 on disk (a lone
    surrogate after decoding) is sent \\u-escaped instead of crashing the response."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def error_response(error: AgentError) -> Response:
    return AgentJSONResponse(
        error_body(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


def shown(path: str) -> str:
    """A path as it appears in messages: quoted, and printable even if it is not UTF-8."""
    return "'" + path.encode("utf-8", "backslashreplace").decode("utf-8") + "'"


def os_error(exc: OSError, path: str) -> AgentError:
    """Turn a failed system call on `path` (relative to the workspace) into an AgentError."""
    where = shown(path)
    code = exc.errno
    if code == errno.ENOENT:
        return AgentError(404, "not_found", f"{where} does not exist in the workspace")
    if code == errno.EEXIST:
        return AgentError(409, "exists", f"{where} already exists")
    if code in (errno.EACCES, errno.EPERM):
        return AgentError(
            403, "permission_denied", f"{where} may not be accessed by the agent's user"
        )
    if code == errno.ELOOP:
        return symlink_refused(path)
    if code == errno.ENOTDIR:
        return AgentError(422, "not_a_directory", f"a part of {where} is not a folder")
    if code == errno.EISDIR:
        return AgentError(422, "is_a_directory", f"{where} is a folder, not a file")
    if code == errno.ENOTEMPTY:
        return AgentError(409, "not_empty", f"{where} is a folder that is not empty")
    if code == errno.ENAMETOOLONG:
        return AgentError(400, "invalid_path", f"{where} is too long for the file system")
    if code in (errno.ENOSPC, errno.EDQUOT):
        return AgentError(
            507, "no_space", "the workspace disk is full; delete files from it and try again"
        )
    if code == errno.EFBIG:
        return AgentError(413, "too_large", f"{where} would be larger than the file-size limit")
    if code == errno.EROFS:
        return AgentError(403, "read_only", "the workspace is mounted read-only")
    if code == errno.EBUSY:
        return AgentError(409, "busy", f"{where} is in use (a mount point?) and cannot change")
    log.warning("unexpected error on %s: %s", where, exc)
    return AgentError(500, "io_error", f"the file system refused the operation on {where}")


def symlink_refused(path: str) -> AgentError:
    return AgentError(
        422,
        "symlink",
        f"{shown(path)} is or passes through a symbolic link; the file API never follows or "
        "changes links (they are listed and archived as links; use the terminal for them)",
    )


_HTTP_MESSAGES = {
    404: "no such endpoint; see docs/agent-protocol.md for the agent's routes",
    405: "this endpoint does not accept that method",
}


async def handle_agent_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AgentError)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) in the agent's JSON shape."""
    assert isinstance(exc, HTTPException)
    code = _DEFAULT_CODES.get(exc.status_code, "error")
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    headers = dict(exc.headers) if exc.headers else None
    return error_response(AgentError(exc.status_code, code, message, headers=headers))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    # ServerErrorMiddleware re-raises after this, so uvicorn logs the traceback to stderr.
    return error_response(
        AgentError(500, "internal_error", "the agent failed unexpectedly; its log has details")
    )
