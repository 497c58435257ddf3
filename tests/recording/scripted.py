"""A recording made the way the agent makes one: a real pycrdt document edited in steps, each
update base64-encoded into a `doc.update` event, with terminal, chat, test and focus events
between them. `truth` keeps what was true after each event, to check replay against."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Doc, Map, Text

CANDIDATE = {"id": "candidate", "name": "Grace Hopper", "role": "candidate"}
INTERVIEWER = {"id": "u1", "name": "Ada Interviewer", "role": "interviewer"}
SYSTEM = {"id": "system", "name": "System", "role": "system"}


@dataclass
class ScriptedSession:
    start: float = 1_763_800_000.0
    events: list[dict[str, Any]] = field(default_factory=list)
    # After each event (index = seq - 1): the files and the chat texts.
    truth: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.doc: Doc[Any] = Doc()
        self.files: Map[Any] = self.doc.get("files", type=Map)
        self._updates: list[bytes] = []
        self._sub = self.doc.observe(lambda event: self._updates.append(event.update))
        self.chat: list[str] = []

    def _add(self, author: dict[str, str], kind: str, data: dict[str, Any]) -> None:
        seq = len(self.events) + 1
        self.events.append(
            {"seq": seq, "ts": self.start + seq * 0.5, "author": author, "type": kind, "data": data}
        )
        texts = {path: str(text) for path, text in self.files.items()}
        self.truth.append({"files": texts, "chat": list(self.chat)})

    def _flush_doc(self, author: dict[str, str]) -> None:
        for update in self._updates:
            self._add(author, "doc.update", {"update": base64.b64encode(update).decode()})
        self._updates.clear()

    def create(self, path: str, text: str, author: dict[str, str] = SYSTEM) -> None:
        self.files[path] = Text(text)
        self._flush_doc(author)

    def type(self, path: str, text: str, at: int | None = None) -> None:
        """One update per character, like a person typing."""
        target: Text = self.files[path]
        position = len(str(target)) if at is None else at
        for offset, char in enumerate(text):
            target.insert(position + offset, char)
            self._flush_doc(CANDIDATE)

    def delete(self, path: str, start: int, length: int) -> None:
        target: Text = self.files[path]
        del target[start : start + length]
        self._flush_doc(CANDIDATE)

    def terminal(self, output: str) -> None:
        self._add(SYSTEM, "terminal.output", {"data": output})

    def say(self, author: dict[str, str], text: str) -> None:
        self.chat.append(text)
        self._add(author, "chat.message", {"id": f"m{len(self.chat)}", "text": text})

    def add(self, author: dict[str, str], kind: str, data: dict[str, Any]) -> None:
        self._add(author, kind, data)
