"""One agent's collaboration: its rooms, chat, observe mode and disk sync, created on first
use and kept for the agent's life.

The service starts lazily, on the first /collab request, inside the running event loop: the
agent's lifespan belongs to app.py, and nothing here has to run before a client comes. Loading
the rooms reads the state folder; the disk sync loop runs only while the shared document has
clients (the document is brought up to date with the disk before each first client is
served, and flushed to disk when the last one leaves).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import anyio
from pycrdt import Doc
from pycrdt.websocket import WebsocketServer
from starlette.websockets import WebSocket

from prequel.agent.bodies import in_thread
from prequel.agent.collab import notes
from prequel.agent.collab.channel import SocketChannel
from prequel.agent.collab.chat import Chat
from prequel.agent.collab.disk_sync import DiskSync
from prequel.agent.collab.identity import Identity
from prequel.agent.collab.log import UpdateLog, write_atomic
from prequel.agent.collab.outbox import CLOSE_TIMEOUT, Outbox
from prequel.agent.collab.room import CanWrite, CollabRoom, log_exception
from prequel.agent.collab.settings import CollabSettings, prepare_state_dir
from prequel.agent.files import Workspace

log = logging.getLogger("prequel.agent.collab")

Mode = Literal["edit", "observe"]
MODES: tuple[Mode, ...] = ("edit", "observe")
DOC_ROOM = "doc"
CLOSE_TOO_SLOW = 1013
MAINTENANCE_SECONDS = 1.0


class CollabService:
    def __init__(self, settings: CollabSettings, workspace: Workspace) -> None:
        self.settings = settings
        self.workspace = workspace
        self.mode: Mode = "edit"
        self.server = WebsocketServer(
            rooms_ready=True, auto_clean_rooms=False, exception_handler=log_exception, log=log
        )
        self.rooms: dict[str, CollabRoom] = {}
        self.chat = Chat(
            settings.state_dir / "chat.jsonl",
            max_chars=settings.max_chat_chars,
            max_history=settings.max_chat_history,
            max_bytes=settings.max_chat_bytes,
        )
        self.sync: DiskSync | None = None
        self.active = asyncio.Event()  # set while the shared document has clients
        self.doc_clients = 0
        # Hears people joining (True) and leaving (False) the shared document (the recording).
        self.on_presence: Callable[[Identity, bool], None] | None = None
        self.recording_subscription: object | None = None  # keeps the recording's observer
        self._tasks: list[asyncio.Task[Any]] = []

    # start-up -------------------------------------------------------------------------------

    @classmethod
    async def start(cls, workspace_path: Path, workspace: Workspace) -> CollabService:
        settings = CollabSettings.from_env(workspace_path)
        await in_thread(prepare_state_dir, settings.state_dir, workspace_path)
        service = cls(settings, workspace)
        await service._load()
        return service

    async def _load(self) -> None:
        state = self.settings.state_dir
        self.mode = await in_thread(self._read_mode)
        doc = await self._open_room(DOC_ROOM, state / DOC_ROOM, self.can_edit_doc)
        doc.describe = lambda: {"mode": self.mode}
        await self._open_room(notes.NOTES_ROOM, state / notes.NOTES_ROOM, notes.can_write)
        await in_thread(self.chat.load)
        self.sync = DiskSync(doc, self.workspace, self.settings, state / DOC_ROOM / "disk.json")
        started = asyncio.get_running_loop().create_task(self.server.start())
        self._tasks.append(started)
        await self.server.started.wait()
        for room in self.rooms.values():
            self.server.rooms[room.name] = room
            await self.server.start_room(room)
        self._tasks.append(asyncio.get_running_loop().create_task(self.sync.run(self.active)))
        self._tasks.append(asyncio.get_running_loop().create_task(self._maintain()))
        log.info("collaboration ready (state in %s, mode %s)", state, self.mode)

    async def _open_room(self, name: str, folder: Path, can_write: CanWrite) -> CollabRoom:
        update_log = UpdateLog(folder, compact_bytes=self.settings.compact_bytes)
        loaded = await in_thread(update_log.load)
        doc: Doc[Any] = Doc()
        for update in loaded.updates:
            try:
                doc.apply_update(update)
            except Exception:
                log.exception("skipped an unreadable stored update of room %s", name)
        epoch = await in_thread(_epoch, folder, loaded.generation == 0)
        await in_thread(update_log.start, loaded.generation + 1, doc.get_update())
        room = CollabRoom(
            name,
            doc,
            update_log,
            can_write=can_write,
            max_room_bytes=self.settings.max_room_bytes,
            epoch=epoch,
        )
        self.rooms[name] = room
        return room

    # roles and mode -------------------------------------------------------------------------

    def can_edit_doc(self, identity: Identity) -> bool:
        if identity.role == "interviewer":
            return identity.via_portal
        return identity.role == "candidate" and self.mode == "edit"

    def _read_mode(self) -> Mode:
        try:
            stored = json.loads((self.settings.state_dir / "mode.json").read_text("utf-8"))
        except (OSError, ValueError):
            return "edit"
        mode = stored.get("mode") if isinstance(stored, dict) else None
        return "observe" if mode == "observe" else "edit"

    async def set_mode(self, mode: Mode) -> None:
        """Switch at once for everyone connected; stored, so a restart keeps it."""
        self.mode = mode
        path = self.settings.state_dir / "mode.json"
        await in_thread(write_atomic, path, json.dumps({"mode": mode}).encode())
        self.rooms[DOC_ROOM].notify_all(
            lambda identity: {"type": "mode", "mode": mode, "writable": self.can_edit_doc(identity)}
        )

    # serving --------------------------------------------------------------------------------

    async def serve(self, websocket: WebSocket, room_name: str, identity: Identity) -> None:
        """Serve one accepted y-websocket connection until it ends."""
        outbox = Outbox(
            websocket.send_bytes,  # type: ignore[arg-type]
            websocket.close,
            max_bytes=self.settings.max_queue_bytes,
            max_messages=self.settings.max_queue_messages,
        )
        channel = SocketChannel(
            websocket,
            room_name,
            identity,
            outbox,
            max_message_bytes=self.settings.max_message_bytes,
        )
        is_doc = room_name == DOC_ROOM
        if is_doc and self.on_presence is not None:
            self.on_presence(identity, True)
        try:
            if is_doc:
                await self._doc_client_joins()
            async with anyio.create_task_group() as tasks:
                outbox.on_overflow = tasks.cancel_scope.cancel
                tasks.start_soon(outbox.run)
                await self.server.serve(channel)
                if channel.finished is None:
                    outbox.abandon()  # the client left; nothing more to send
                with anyio.move_on_after(CLOSE_TIMEOUT + 1):
                    await outbox.done.wait()
                tasks.cancel_scope.cancel()
        finally:
            if is_doc:
                if self.on_presence is not None:
                    self.on_presence(identity, False)
                await self._doc_client_leaves()
        if outbox.overflowed:
            with anyio.move_on_after(CLOSE_TIMEOUT), contextlib.suppress(Exception):
                await websocket.close(CLOSE_TOO_SLOW, "too slow")

    async def _doc_client_joins(self) -> None:
        assert self.sync is not None
        self.doc_clients += 1
        if not self.active.is_set():
            try:
                await self.sync.tick(scan=True)  # the document first catches up with the disk
            except Exception:
                log.exception("collaboration could not read the workspace; serving anyway")
            self.active.set()

    async def _doc_client_leaves(self) -> None:
        assert self.sync is not None
        self.doc_clients -= 1
        if self.doc_clients == 0:
            self.active.clear()
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self.sync.tick(scan=False)  # what was typed last reaches the disk now

    async def flush_to_disk(self) -> None:
        """What was just typed reaches the disk now (not up to a flush interval later), before
        a run, a test run or an archive reads the files."""
        if self.sync is None:
            return
        try:
            await self.sync.tick(scan=False)
        except Exception:  # the caller reads the disk as it is; the loop retries the flush
            log.exception("collaboration could not flush the document to disk")

    # upkeep ---------------------------------------------------------------------------------

    async def _maintain(self) -> None:
        """Once a second: flush logs to disk, and fold long logs into a checkpoint."""
        while True:
            await asyncio.sleep(MAINTENANCE_SECONDS)
            for room in self.rooms.values():
                try:
                    await self.compact(room, force=False)
                    await in_thread(room.update_log.sync)
                except Exception:
                    log.exception("collaboration upkeep of room %s failed", room.name)
            await in_thread(self.chat.sync)

    async def compact(self, room: CollabRoom, *, force: bool) -> None:
        if not (force or room.update_log.needs_compaction):
            return
        generation = room.update_log.rotate()
        state = room.ydoc.get_update()  # taken with the rotation, before any other update
        await in_thread(room.update_log.write_checkpoint, generation, state)

    async def close(self) -> None:
        """Stop the loops and close the stored files (the agent's exit does this implicitly)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for room in self.rooms.values():
            room.update_log.close()
        self.chat.close()

    def status(self) -> dict[str, Any]:
        assert self.sync is not None
        return {
            "mode": self.mode,
            "state_dir": str(self.settings.state_dir),
            "rooms": {name: room.status() for name, room in self.rooms.items()},
            "files": self.sync.status(),
            "chat": {"messages": self.chat.next_id - 1, "listeners": len(self.chat.listeners)},
            "limits": self.settings.limits(),
        }


def _epoch(folder: Path, new: bool) -> str:
    """The document's identity: a new one whenever the document starts from nothing, so a
    client still holding a previous document's state is told to drop it (close 4409)."""
    path = folder / "epoch"
    if not new:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            stored = path.read_text("utf-8").strip()
            if stored:
                return stored
    epoch = secrets.token_hex(8)
    write_atomic(path, epoch.encode())
    return epoch
