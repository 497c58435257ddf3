"""A collaboration room: one pycrdt document served with pycrdt-websocket's YRoom, plus what
Prequel adds around it.

- **Roles.** `can_write(identity)` decides, message by message, whether a client's edits are
  applied; a refused edit closes the connection with 4412 after a `rejected` notice (the
  client's copy now holds an edit the room does not, so it must start again from the room's).
  A read-only client's sync step 2 is still accepted when it changes nothing.
- **Awareness.** A joining client first receives everyone's current awareness, so it sees all
  cursors at once. Each awareness entry is stamped with the sender's identity
  (`state.prequel = {id, name, role}`), a client id belongs to the first connection that
  used it, and a connection's entries are removed (and the removal broadcast) when it leaves.
  Spectators' entries never reach candidates.
- **Persistence.** Every update is appended to the room's `UpdateLog`, with its author.
- **Failures.** Sending never raises (see outbox.py), and every exception is logged and
  swallowed: one client cannot stop the room.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pycrdt import Doc, Snapshot, TransactionEvent, create_awareness_message
from pycrdt.websocket import YRoom

from prequel.agent.collab import protocol as p
from prequel.agent.collab.channel import SocketChannel
from prequel.agent.collab.identity import Identity
from prequel.agent.collab.log import UpdateLog

log = logging.getLogger("prequel.agent.collab")

CLOSE_REJECTED = 4412
# Awareness client ids one connection may own (a browser tab uses one).
MAX_AWARENESS_IDS = 16

CanWrite = Callable[[Identity], bool]


def log_exception(exception: Exception, logger: logging.Logger) -> bool:
    """The exception handler given to pycrdt-websocket: log, and keep going."""
    logger.error("collaboration room error", exc_info=exception)
    return True


class CollabRoom(YRoom):
    def __init__(
        self,
        name: str,
        doc: Doc[Any],
        update_log: UpdateLog,
        *,
        can_write: CanWrite,
        max_room_bytes: int,
        epoch: str,
    ) -> None:
        super().__init__(ready=True, ydoc=doc, exception_handler=log_exception, log=log)
        self.name = name
        self.update_log = update_log
        self.can_write = can_write
        self.max_room_bytes = max_room_bytes
        self.epoch = epoch
        self.channels: set[SocketChannel] = set()
        self.owners: dict[int, SocketChannel] = {}  # awareness client id -> its connection
        self.hidden: set[int] = set()  # awareness client ids of spectators
        self.author = "server"  # who made the update being applied (set just before)
        self.author_identity: Identity | None = None  # the same, for the recording
        # Hears every update applied (the recording), with who made it (None: the agent).
        self.on_update: Callable[[bytes, Identity | None], None] | None = None
        self.rejected = 0
        self.dropped = 0  # clients disconnected for reading too slowly
        self.peak_queue_bytes = 0
        # Extra fields of the hello notice (the service adds the workspace's mode).
        self.describe: Callable[[], dict[str, Any]] | None = None
        self.on_message_error = self._message_error
        self._persist = doc.observe(self._persist_update)

    # persistence ------------------------------------------------------------------------

    def _persist_update(self, event: TransactionEvent) -> None:
        self.update_log.append(event.update, self.author)
        if self.on_update is not None:
            self.on_update(event.update, self.author_identity)
        self.author = "server"
        self.author_identity = None

    @property
    def full(self) -> bool:
        return self.update_log.stored_bytes > self.max_room_bytes

    def _message_error(self, exc: Exception, message: bytes, channel: Any) -> bool:
        log.warning("ignored a malformed message in room %s: %r", self.name, exc)
        return True

    # serving ----------------------------------------------------------------------------

    async def serve(self, channel: Any) -> None:
        assert isinstance(channel, SocketChannel)
        channel.filters = self
        self.channels.add(channel)
        # Registered before the snapshot below, so no broadcast from here on is missed.
        self.clients.add(channel)
        channel.post(p.prequel_message(self.hello(channel.identity)))
        snapshot = self.awareness_snapshot()
        if snapshot is not None:
            channel.post(snapshot)
        try:
            await super().serve(channel)
        finally:
            self.clients.discard(channel)
            self.channels.discard(channel)
            self.peak_queue_bytes = max(self.peak_queue_bytes, channel.outbox.peak_bytes)
            if channel.outbox.overflowed:
                self.dropped += 1
            self._forget(channel)

    def hello(self, identity: Identity) -> dict[str, Any]:
        return {
            "type": "hello",
            "room": self.name,
            "epoch": self.epoch,
            "user": identity.as_dict(),
            "writable": self.can_write(identity),
            **(self.describe() if self.describe is not None else {}),
        }

    def notify_all(self, make: Callable[[Identity], dict[str, Any]]) -> None:
        for channel in list(self.channels):
            channel.post(p.prequel_message(make(channel.identity)))

    def awareness_snapshot(self) -> bytes | None:
        ids = [cid for cid in self.awareness.states if cid != self.awareness.client_id]
        if not ids:
            return None
        return create_awareness_message(self.awareness.encode_awareness_update(ids))

    def _forget(self, channel: SocketChannel) -> None:
        """Remove the awareness states a connection owned, and tell the others."""
        gone = [cid for cid, owner in self.owners.items() if owner is channel]
        for cid in gone:
            del self.owners[cid]
        present = [cid for cid in gone if cid in self.awareness.states]
        if present:
            self.awareness.remove_awareness_states(present, "left")
            message = create_awareness_message(self.awareness.encode_awareness_update(present))
            for other in list(self.channels):
                other.post(message)
        self.hidden.difference_update(gone)

    # filters (called by SocketChannel) --------------------------------------------------

    def inbound(self, channel: SocketChannel, message: bytes) -> bytes | None:
        try:
            kind = p.message_type(message)
            if kind == p.MESSAGE_SYNC:
                return self._inbound_sync(channel, message)
            if kind == p.MESSAGE_AWARENESS:
                return self._inbound_awareness(channel, message)
        except p.ProtocolError as exc:
            log.warning("ignored a malformed message in room %s: %s", self.name, exc)
            return None
        if kind == 3:  # y-protocols' "query awareness": answer with everyone's state
            snapshot = self.awareness_snapshot()
            if snapshot is not None:
                channel.post(snapshot)
        return None  # other types (auth, prequel) are not accepted from clients

    def _inbound_sync(self, channel: SocketChannel, message: bytes) -> bytes | None:
        sync = p.parse_sync(message)
        if sync.kind == p.SYNC_STEP1:
            return message
        identity = channel.identity
        if not self.can_write(identity):
            if sync.kind == p.SYNC_STEP2 and not self._changes_doc(sync.payload):
                return None  # a read-only client confirming it has nothing new
            self._reject(channel, "read_only", "you cannot edit this document now")
            return None
        if self.full and sync.payload != p.EMPTY_UPDATE:
            self._reject(channel, "room_full", "the document reached its size limit")
            return None
        self.author = identity.user_id
        self.author_identity = identity
        return message

    def _changes_doc(self, update: bytes) -> bool:
        """Whether applying `update` would change the document (tried on a copy)."""
        if update == p.EMPTY_UPDATE:
            return False
        probe: Doc[Any] = Doc()
        probe.apply_update(self.ydoc.get_update())
        before = Snapshot.from_doc(probe).encode()
        try:
            probe.apply_update(update)
        except Exception:
            return True
        return Snapshot.from_doc(probe).encode() != before

    def _reject(self, channel: SocketChannel, reason: str, message: str) -> None:
        self.rejected += 1
        log.info(
            "refused an edit from %s (%s) in room %s", channel.identity.user_id, reason, self.name
        )
        channel.post(
            p.prequel_message(
                {"type": "rejected", "reason": reason, "message": message, "resync": True}
            )
        )
        channel.finish(CLOSE_REJECTED, reason)

    def _inbound_awareness(self, channel: SocketChannel, message: bytes) -> bytes | None:
        kept: list[p.AwarenessEntry] = []
        stamp = channel.identity.as_dict()
        for entry in p.parse_awareness(message):
            owner = self.owners.get(entry.client_id)
            if owner is not None and owner is not channel:
                continue  # another connection's client id: not this one's to change
            if entry.client_id == self.awareness.client_id:
                continue
            if owner is None:
                if sum(1 for o in self.owners.values() if o is channel) >= MAX_AWARENESS_IDS:
                    continue  # bounded: a client cannot fill the room with made-up peers
                self.owners[entry.client_id] = channel
            if channel.identity.role == "spectator":
                self.hidden.add(entry.client_id)
            state = entry.state
            if isinstance(state, dict):
                state = {**state, "prequel": stamp}
            elif state is not None:
                continue  # awareness states are JSON objects (or null when leaving)
            kept.append(p.AwarenessEntry(entry.client_id, entry.clock, state))
        if not kept:
            return None
        return p.awareness_message(kept)

    def outbound(self, channel: SocketChannel, message: bytes) -> bytes | None:
        if channel.identity.role != "candidate" or not self.hidden:
            return message
        try:
            if p.message_type(message) != p.MESSAGE_AWARENESS:
                return message
            entries = p.parse_awareness(message)
        except p.ProtocolError:
            return None
        visible = [e for e in entries if e.client_id not in self.hidden]
        if len(visible) == len(entries):
            return message
        return p.awareness_message(visible) if visible else None

    # status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        clients = [
            {
                **channel.identity.as_dict(),
                "queued_bytes": channel.outbox.queued_bytes,
                "queued_messages": channel.outbox.queued_messages,
                "peak_queue_bytes": channel.outbox.peak_bytes,
            }
            for channel in self.channels
        ]
        peak = max([self.peak_queue_bytes, *(c.outbox.peak_bytes for c in self.channels)])
        return {
            "epoch": self.epoch,
            "clients": clients,
            "stored_bytes": self.update_log.stored_bytes,
            "generation": self.update_log.generation,
            "rejected_edits": self.rejected,
            "dropped_clients": self.dropped,
            "peak_queue_bytes": peak,
        }
