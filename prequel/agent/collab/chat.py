"""The interview's chat: messages stored by the agent, replayed to whoever joins.

Chat is not part of the shared Yjs document, on purpose: the agent stamps every message with
the sender's identity (from the connection, never from the message), chat keeps working when
the candidate's editor is read-only (observe mode), and a spectator cannot post. Messages are
appended to `chat.jsonl` in the state folder; the most recent `max_chat_history` are kept in
memory for joiners.

WS /collab/chat (JSON text):
  server, on join: {"type": "hello", "user": {...}, "can_send": bool}
                   {"type": "history", "messages": [...]}   (those after ?after=<id>)
  client:          {"type": "send", "text": "..."}
  server:          {"type": "message", "message": {"id", "ts", "user": {id, name, role}, "text"}}
                   {"type": "error", "code", "message"}
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from prequel.agent.collab.identity import Identity
from prequel.agent.collab.outbox import Outbox
from prequel.agent.errors import AgentError
from prequel.agent.streaming import receive_json

log = logging.getLogger("prequel.agent.collab")


class Chat:
    def __init__(self, path: Path, *, max_chars: int, max_history: int, max_bytes: int) -> None:
        # Hears every stored message (the recording).
        self.on_post: Callable[[dict[str, Any]], None] | None = None
        self.path = path
        self.max_chars = max_chars
        self.max_bytes = max_bytes
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_history)
        self.listeners: set[Outbox] = set()
        self.next_id = 1
        self.stored_bytes = 0
        self._fd: int | None = None

    def load(self) -> None:
        """Read the stored messages (blocking) and open the file for appending."""
        with contextlib.suppress(FileNotFoundError):
            raw = self.path.read_bytes()
            self.stored_bytes = len(raw)
            for line in raw.splitlines():
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # a torn last line after a crash
                if isinstance(message, dict) and isinstance(message.get("id"), int):
                    self.history.append(message)
                    self.next_id = max(self.next_id, message["id"] + 1)
        self._fd = os.open(
            self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def can_send(identity: Identity) -> bool:
        return identity.role != "spectator"

    def since(self, after: int) -> list[dict[str, Any]]:
        return [message for message in self.history if message["id"] > after]

    def post(self, identity: Identity, text: str) -> dict[str, Any]:
        """Store a message and hand it to every listener; raises AgentError when refused."""
        if not self.can_send(identity):
            raise AgentError(403, "read_only", "spectators cannot post in the chat")
        text = text.strip()
        if not text:
            raise AgentError(422, "invalid_input", "the message is empty")
        if len(text) > self.max_chars:
            raise AgentError(
                413, "too_large", f"a chat message may be at most {self.max_chars} characters"
            )
        if self.stored_bytes > self.max_bytes:
            raise AgentError(507, "chat_full", "the chat reached its size limit")
        message = {
            "id": self.next_id,
            "ts": round(time.time(), 3),
            "user": identity.as_dict(),
            "text": text,
        }
        line = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if self._fd is not None:
            try:
                os.write(self._fd, line)
            except OSError as exc:
                log.error("cannot store a chat message: %s", exc.strerror)
                raise AgentError(507, "no_space", "the chat could not be stored") from None
        self.stored_bytes += len(line)
        self.next_id += 1
        self.history.append(message)
        if self.on_post is not None:
            self.on_post(message)
        event = json.dumps({"type": "message", "message": message}, ensure_ascii=False)
        for listener in list(self.listeners):
            listener.put(event)
        return message

    def sync(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)


async def serve_chat(
    chat: Chat, websocket: WebSocket, identity: Identity, after: int, outbox: Outbox
) -> None:
    """Serve one accepted chat connection until the client leaves."""
    outbox.put(
        json.dumps(
            {"type": "hello", "user": identity.as_dict(), "can_send": chat.can_send(identity)}
        )
    )
    outbox.put(json.dumps({"type": "history", "messages": chat.since(after)}, ensure_ascii=False))
    chat.listeners.add(outbox)
    try:
        async with anyio.create_task_group() as tasks:
            outbox.on_overflow = tasks.cancel_scope.cancel
            tasks.start_soon(outbox.run)
            while not outbox.dead:
                try:
                    message = await receive_json(websocket)
                    if message["type"] != "send" or not isinstance(message.get("text"), str):
                        raise AgentError(400, "bad_message", 'send {"type": "send", "text": "..."}')
                    chat.post(identity, message["text"])
                except AgentError as error:
                    outbox.put(
                        json.dumps({"type": "error", "code": error.code, "message": error.message})
                    )
                except WebSocketDisconnect:
                    break
            outbox.abandon()
            tasks.cancel_scope.cancel()
    finally:
        chat.listeners.discard(outbox)
