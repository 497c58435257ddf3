"""The state of a workspace at one point of its recording: every file, the terminal screen,
and where the last edit was. Built by applying events in order to a Yjs document (pycrdt, the
same CRDT the editor uses) and a terminal emulator (pyte), from the nearest snapshot."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import pyte
from pycrdt import Doc, Map, Text

FILES_KEY = "files"
DEFAULT_ROWS, DEFAULT_COLS = 24, 80
MAX_ROWS, MAX_COLS = 500, 1000


class TerminalScreen:
    """A terminal emulator fed with the shell's recorded output."""

    def __init__(self, rows: int = DEFAULT_ROWS, cols: int = DEFAULT_COLS) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)

    def feed(self, text: str) -> None:
        self.stream.feed(text)

    def resize(self, rows: int, cols: int) -> None:
        self.screen.resize(max(1, min(rows, MAX_ROWS)), max(1, min(cols, MAX_COLS)))

    def view(self) -> dict[str, Any]:
        return {
            "rows": self.screen.lines,
            "cols": self.screen.columns,
            "lines": [line.rstrip() for line in self.screen.display],
            "cursor": [self.screen.cursor.x, self.screen.cursor.y],
        }

    @classmethod
    def restore(cls, view: dict[str, Any]) -> TerminalScreen:
        """Back from `view()`: the characters and the cursor (colours are not kept)."""
        terminal = cls(int(view.get("rows", DEFAULT_ROWS)), int(view.get("cols", DEFAULT_COLS)))
        screen = terminal.screen
        for y, line in enumerate(view.get("lines", [])[: screen.lines]):
            row = screen.buffer[y]
            for x, char in enumerate(str(line)[: screen.columns]):
                row[x] = screen.default_char._replace(data=char)
        cursor = view.get("cursor") or [0, 0]
        screen.cursor.x = min(int(cursor[0]), screen.columns - 1)
        screen.cursor.y = min(int(cursor[1]), screen.lines - 1)
        return terminal


def _change_of(event: Any) -> dict[str, Any] | None:
    """Where a text edit landed, from pycrdt's delta: the inserted range, or the point of a
    deletion."""
    path = getattr(event, "path", None)
    delta = getattr(event, "delta", None)
    if not path or not isinstance(delta, list):
        return None
    position, start, end = 0, None, None
    for op in delta:
        if "retain" in op:
            position += int(op["retain"])
        elif "insert" in op:
            inserted = op["insert"]
            size = len(inserted) if isinstance(inserted, str) else 1
            start = position if start is None else start
            position += size
            end = position
        elif "delete" in op:
            start = position if start is None else start
            end = position if end is None else end
    if start is None:
        return None
    return {"path": str(path[0]), "from": start, "to": end if end is not None else start}


class ReplayState:
    """Apply events in order; read files and the screen at any point."""

    def __init__(self, seq: int = 0, ts: float | None = None) -> None:
        self.seq = seq
        self.ts = ts
        self.doc: Doc[Any] = Doc()
        self.files: Map[Any] = self.doc.get(FILES_KEY, type=Map)
        self.terminal = TerminalScreen()
        self.last_change: dict[str, Any] | None = None
        self._changes: list[dict[str, Any]] = []
        self._subscription = self.files.observe_deep(self._on_change)

    def _on_change(self, events: list[Any]) -> None:
        for event in events:
            change = _change_of(event)
            if change is not None:
                self._changes.append(change)

    @classmethod
    def restore(cls, seq: int, ts: float, document: bytes, state: dict[str, Any]) -> ReplayState:
        replay = cls(seq, ts)
        if document:
            replay.doc.apply_update(document)
        replay.terminal = TerminalScreen.restore(state.get("terminal") or {})
        replay.last_change = state.get("last_change")
        replay._changes.clear()
        return replay

    def apply(self, seq: int, ts: float, kind: str, data: dict[str, Any]) -> None:
        self.seq, self.ts = seq, ts
        if kind == "doc.update":
            self._apply_update(data.get("update"))
        elif kind == "terminal.output" and isinstance(data.get("data"), str):
            self.terminal.feed(data["data"])
        elif kind == "terminal.resize":
            rows, cols = data.get("rows"), data.get("cols")
            if isinstance(rows, int) and isinstance(cols, int):
                self.terminal.resize(rows, cols)

    def _apply_update(self, encoded: object) -> None:
        if not isinstance(encoded, str):
            return
        try:
            update = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return
        self._changes.clear()
        try:
            self.doc.apply_update(update)
        except Exception:  # a corrupt update must not end the replay
            return
        if self._changes:
            self.last_change = self._changes[-1]

    def file_texts(self) -> dict[str, str]:
        return {
            path: str(value)
            for path, value in sorted(self.files.items())
            if isinstance(value, Text)
        }

    def document(self) -> bytes:
        return self.doc.get_update()

    def snapshot_state(self) -> dict[str, Any]:
        return {"terminal": self.terminal.view(), "last_change": self.last_change}
