"""WebSocket plumbing shared by runs, tests and the terminal: JSON messages both ways."""

from __future__ import annotations

import codecs
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from prequel.agent.errors import AgentError

MAX_MESSAGE_BYTES = 1024 * 1024


class Utf8Stream:
    """Decodes a byte stream whose chunks may split multi-byte characters; bad bytes become
    U+FFFD instead of breaking the stream."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, chunk: bytes) -> str:
        return self._decoder.decode(chunk)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


async def receive_json(websocket: WebSocket) -> dict[str, Any]:
    """The next message as an object; raises WebSocketDisconnect when the peer leaves."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None and message.get("bytes") is not None:
        text = message["bytes"].decode("utf-8", "replace")
    if text is None or len(text) > MAX_MESSAGE_BYTES:
        raise AgentError(400, "bad_message", "messages must be JSON text under 1 MiB")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise AgentError(400, "bad_message", f"message is not JSON: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise AgentError(400, "bad_message", 'every message is an object with a "type"')
    return body


async def send_error(websocket: WebSocket, error: AgentError) -> None:
    await websocket.send_json({"type": "error", "code": error.code, "message": error.message})
