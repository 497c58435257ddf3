"""What the collaboration service records: every update of the shared document (with who
made it), files appearing, leaving and moving, chat messages, and people joining and leaving
the document. Private notes are never recorded."""

from __future__ import annotations

import base64
from typing import Any

from pycrdt import Map, MapEvent

from prequel.agent.collab.identity import Identity
from prequel.agent.collab.service import DOC_ROOM, CollabService
from prequel.agent.recording.recorder import SYSTEM, Recorder, author_of

FILES_KEY = "files"


def attach(service: CollabService, recorder: Recorder) -> None:
    if not recorder.enabled:
        return
    room = service.rooms[DOC_ROOM]
    files: Map[Any] = room.ydoc.get(FILES_KEY, type=Map)

    def on_update(update: bytes, identity: Identity | None) -> None:
        encoded = base64.b64encode(update).decode()
        recorder.record(author_of(identity), "doc.update", {"update": encoded})

    def on_files(event: MapEvent) -> None:
        # Inside the transaction: read the event only (the document is busy).
        author = author_of(room.author_identity)
        changes: dict[str, dict[str, Any]] = getattr(event, "keys", {})
        for path, change in sorted(changes.items()):
            action = change.get("action")
            if action == "add":
                recorder.record(author, "file.create", {"path": path})
            elif action == "delete":
                recorder.record(author, "file.delete", {"path": path})

    # Kept with the service: pycrdt drops an observer whose subscription is garbage.
    service.recording_subscription = files.observe(on_files)
    room.on_update = on_update
    service.chat.on_post = lambda message: recorder.record(
        message["user"], "chat.message", {"id": message["id"], "text": message["text"]}
    )
    if service.sync is not None:
        service.sync.on_rename = lambda old, new: recorder.record(
            SYSTEM, "file.rename", {"from": old, "to": new}
        )
    service.on_presence = lambda identity, joined: recorder.record(
        identity.as_dict(), "presence.join" if joined else "presence.leave", {"room": DOC_ROOM}
    )
