"""The file API: tree, read, write, create, delete, rename, upload, download.

Write rule (optimistic concurrency): PUT with a version (body "version" or If-Match) replaces
the file only if its current version is exactly that, else 409 with the current version;
PUT without a version only creates, and is 409 "exists" if the file is already there. So a
stale editor never overwrites a change it has not seen.

Every write (PUT, POST, DELETE, rename, upload) is refused with 403 for a spectator, and for
the candidate while the interviewer observes (see prequel.agent.collab.identity.write_refusal).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from prequel.agent.bodies import (
    JSON_OVERHEAD_BYTES,
    decode_content,
    encode_content,
    expected_version,
    field_bool,
    field_str,
    in_thread,
    query_flag,
    read_json,
    required_str,
)
from prequel.agent.collab.identity import write_refusal
from prequel.agent.errors import AgentError, AgentJSONResponse
from prequel.agent.files import Workspace
from prequel.agent.state import agent_state
from prequel.agent.tree import list_tree
from prequel.agent.uploads import PendingUpload

DOWNLOAD_CHUNK = 256 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class _AnyPath(PathConvertor):
    """Like {path:wspath} but also matching newlines, so a path with control characters
    reaches parse_path and gets its clear 400 instead of "no such endpoint"."""

    regex = "(?s:.*)"


register_url_convertor("wspath", _AnyPath())


def _workspace(request: Request) -> Workspace:
    return agent_state(request).workspace


def _path(request: Request) -> str:
    path: str = request.path_params["path"]
    return path


async def _may_write(request: Request) -> None:
    """Observe mode and spectators: refused on the server, whatever the browser does."""
    refusal = write_refusal(request)
    if refusal is not None:
        raise refusal


def _json_limit(workspace: Workspace) -> int:
    # JSON escaping can triple text (\uXXXX for each byte of a 3-byte character, base64 adds
    # a third); bodies beyond this cannot hold an allowed file.
    return 3 * workspace.max_file_bytes + JSON_OVERHEAD_BYTES


async def tree(request: Request) -> Response:
    state = agent_state(request)
    workspace = state.workspace
    with_versions = query_flag(request, "versions", default=True)
    folder = request.query_params.get("path")

    def work() -> tuple[str, Any]:
        fd, prefix = workspace.open_folder(folder)
        try:
            cache = workspace.versions if with_versions else None
            limit = state.config.max_tree_entries
            return prefix, list_tree(fd, prefix, cache=cache, max_entries=limit)
        finally:
            os.close(fd)

    prefix, listing = await in_thread(work)
    return AgentJSONResponse(
        {
            "path": prefix,
            "entries": [entry.as_dict() for entry in listing.entries],
            "truncated": listing.truncated,
        }
    )


async def read_file(request: Request) -> Response:
    found = await in_thread(_workspace(request).read, _path(request))
    content, encoding = encode_content(found.data)
    body = {**found.info.as_dict(), "encoding": encoding, "content": content}
    return AgentJSONResponse(body, headers={"ETag": f'"{found.info.version}"'})


async def write_file(request: Request) -> Response:
    await _may_write(request)
    workspace = _workspace(request)
    body = await read_json(request, _json_limit(workspace))
    data = decode_content(required_str(body, "content"), field_str(body, "encoding") or "utf-8")
    expected = expected_version(request, field_str(body, "version"))
    info, created = await in_thread(workspace.write, _path(request), data, expected)
    return AgentJSONResponse(
        {**info.as_dict(), "created": created},
        status_code=201 if created else 200,
        headers={"ETag": f'"{info.version}"'},
    )


async def create(request: Request) -> Response:
    await _may_write(request)
    workspace = _workspace(request)
    body = await read_json(request, _json_limit(workspace), optional=True)
    kind = field_str(body, "type", default="file")
    if kind == "dir":
        if "content" in body:
            raise AgentError(422, "invalid_input", "a folder has no 'content'")
        info = await in_thread(workspace.create_dir, _path(request))
    elif kind == "file":
        content = field_str(body, "content", default="") or ""
        data = decode_content(content, field_str(body, "encoding") or "utf-8")
        info = await in_thread(workspace.create_file, _path(request), data)
    else:
        raise AgentError(422, "invalid_input", "'type' must be 'file' or 'dir'")
    return AgentJSONResponse({**info.as_dict(), "created": True}, status_code=201)


async def delete(request: Request) -> Response:
    await _may_write(request)
    kind = await in_thread(_workspace(request).delete, _path(request))
    return AgentJSONResponse({"path": _path(request), "type": kind, "deleted": True})


async def rename(request: Request) -> Response:
    await _may_write(request)
    body = await read_json(request, JSON_OVERHEAD_BYTES)
    source = required_str(body, "from")
    target = required_str(body, "to")
    overwrite = field_bool(body, "overwrite")
    workspace = _workspace(request)
    info = await in_thread(lambda: workspace.rename(source, target, overwrite=overwrite))
    return AgentJSONResponse({**info.as_dict(), "from": source})


async def _upload_chunks(request: Request) -> AsyncGenerator[bytes, None]:
    """The uploaded file's bytes: the raw body, or the first file of a multipart form."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        async for chunk in request.stream():
            if chunk:
                yield chunk
        return
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    workspace = _workspace(request)
    limit = workspace.max_upload_bytes + MULTIPART_OVERHEAD_BYTES

    async def bounded() -> AsyncGenerator[bytes, None]:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise AgentError(
                    413,
                    "too_large",
                    f"the upload is larger than the limit of {workspace.max_upload_bytes} bytes",
                )
            yield chunk

    parser = MultiPartParser(request.headers, bounded(), max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise AgentError(400, "invalid_multipart", f"the form cannot be read: {exc}") from None
    try:
        files = [value for _key, value in form.multi_items() if isinstance(value, UploadFile)]
        if not files:
            raise AgentError(422, "invalid_input", "the form holds no file; send it as 'file'")
        while chunk := await files[0].read(DOWNLOAD_CHUNK):
            yield chunk
    finally:
        await form.close()


async def upload(request: Request) -> Response:
    await _may_write(request)
    workspace = _workspace(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > workspace.max_upload_bytes + MULTIPART_OVERHEAD_BYTES:
        raise AgentError(
            413,
            "too_large",
            f"the upload is larger than the limit of {workspace.max_upload_bytes} bytes",
        )
    expected = expected_version(request, request.query_params.get("version"))
    overwrite = query_flag(request, "overwrite", default=False)
    pending = await in_thread(
        lambda: PendingUpload(workspace, _path(request), expected=expected, overwrite=overwrite)
    )
    try:
        async with aclosing(_upload_chunks(request)) as chunks:
            async for chunk in chunks:
                await in_thread(pending.write, chunk)
        info, created = await in_thread(pending.commit)
    finally:
        await in_thread(pending.close)
    return AgentJSONResponse(
        {**info.as_dict(), "created": created}, status_code=201 if created else 200
    )


def _disposition(name: str) -> str:
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


class _OpenFile:
    """An fd closed exactly once: by the body when it ends, or after the response when the
    body never ran (HEAD, a client gone before the first byte). A second close could hit an
    unrelated file that reused the number."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1


async def download(request: Request) -> Response:
    import mimetypes

    fd, st, name = await in_thread(_workspace(request).open_download, _path(request))
    opened = _OpenFile(fd)

    async def chunks() -> AsyncIterator[bytes]:
        left = st.st_size
        try:
            while left > 0:
                chunk = await in_thread(os.read, fd, min(DOWNLOAD_CHUNK, left))
                if not chunk:
                    break  # shrank while sent: the client sees a short body and fails it
                left -= len(chunk)
                yield chunk
        finally:
            opened.close()

    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={
            "Content-Length": str(st.st_size),
            "Content-Disposition": _disposition(name),
            # Never rendered as a page of the portal's origin, whatever the file holds.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "no-store",
        },
        background=BackgroundTask(opened.close),
    )


routes: list[BaseRoute] = [
    Route("/files", tree, methods=["GET"]),
    Route("/files/{path:wspath}", read_file, methods=["GET"]),
    Route("/files/{path:wspath}", write_file, methods=["PUT"]),
    Route("/files/{path:wspath}", create, methods=["POST"]),
    Route("/files/{path:wspath}", delete, methods=["DELETE"]),
    Route("/rename", rename, methods=["POST"]),
    Route("/upload/{path:wspath}", upload, methods=["POST"]),
    Route("/download/{path:wspath}", download, methods=["GET"]),
]
