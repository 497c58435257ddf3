"""Request and response helpers shared by the route modules: bounded JSON bodies, typed
fields, content encodings, If-Match, and running blocking file work in a thread."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from starlette.requests import Request

from prequel.agent.errors import AgentError

T = TypeVar("T")

JSON_OVERHEAD_BYTES = 64 * 1024
ENCODINGS = ("utf-8", "base64")


async def in_thread(func: Callable[..., T], *args: Any) -> T:
    """File-system calls block; run them off the event loop."""
    return await anyio.to_thread.run_sync(func, *args)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large(limit: int) -> AgentError:
    return AgentError(413, "too_large", f"the request body is larger than {limit} bytes")


async def read_json(request: Request, limit: int, *, optional: bool = False) -> dict[str, Any]:
    """A JSON object body. With optional, an empty body is an empty object."""
    raw = await read_body(request, limit)
    if optional and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AgentError(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise AgentError(400, "invalid_json", "the request body must be a JSON object")
    return body


def field_str(body: dict[str, Any], key: str, *, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise AgentError(422, "invalid_input", f"'{key}' must be a string")
    return value


def required_str(body: dict[str, Any], key: str) -> str:
    value = field_str(body, key)
    if value is None:
        raise AgentError(422, "invalid_input", f"'{key}' is required")
    return value


def field_bool(body: dict[str, Any], key: str, *, default: bool = False) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise AgentError(422, "invalid_input", f"'{key}' must be true or false")
    return value


def query_flag(request: Request, key: str, *, default: bool) -> bool:
    value = request.query_params.get(key)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise AgentError(422, "invalid_input", f"query parameter '{key}' must be true or false")


def decode_content(content: str, encoding: str) -> bytes:
    if encoding == "utf-8":
        try:
            return content.encode("utf-8")
        except UnicodeEncodeError:
            raise AgentError(
                422, "invalid_input", "'content' is not valid Unicode (a lone surrogate?)"
            ) from None
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise AgentError(422, "invalid_input", "'content' is not valid base64") from None
    raise AgentError(
        422, "invalid_input", f"'encoding' must be one of {', '.join(ENCODINGS)}, not {encoding!r}"
    )


def encode_content(data: bytes) -> tuple[str, str]:
    """Text is valid UTF-8 without NUL bytes; anything else is sent as base64."""
    if b"\x00" not in data:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), "base64"


def if_match(request: Request) -> str | None:
    """The version in an If-Match header ("v", W/"v" or a bare v), if any."""
    value = request.headers.get("if-match")
    if value is None:
        return None
    value = value.strip()
    if value == "*":
        raise AgentError(
            422, "invalid_input", "If-Match: * is not supported; send the version you last read"
        )
    value = value.removeprefix("W/").strip('"')
    if not value:
        raise AgentError(422, "invalid_input", "If-Match is empty; send the version you last read")
    return value


def expected_version(request: Request, given: str | None) -> str | None:
    """The version a write is conditioned on, from the body (or query) or If-Match; both must
    agree when both are sent."""
    header = if_match(request)
    if given is not None and header is not None and given != header:
        raise AgentError(
            422, "invalid_input", "the version in the body and the If-Match header differ"
        )
    if given == "":
        raise AgentError(422, "invalid_input", "'version' is empty; send the version you read")
    return given if given is not None else header
