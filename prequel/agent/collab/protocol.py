"""The y-websocket wire format, as far as the agent needs to read and write it.

Every WebSocket message is binary: a varuint message type, then its payload.

- 0 `sync`: a sync sub-type (0 step 1 = a state vector, 1 step 2 = an update answering it,
  2 update) and a varuint-length-prefixed payload;
- 1 `awareness`: a length-prefixed awareness update: a count, then per client its id, its
  clock and its state as JSON text (`null` when the client left);
- 100 `prequel`: the agent's own notices, a length-prefixed UTF-8 JSON object. The browser's
  y-websocket provider ignores unknown types unless it registers a handler
  (`provider.messageHandlers[100] = ...`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pycrdt import YMessageType, YSyncMessageType, write_var_uint

MESSAGE_SYNC = int(YMessageType.SYNC)
MESSAGE_AWARENESS = int(YMessageType.AWARENESS)
MESSAGE_PREQUEL = 100
SYNC_STEP1 = int(YSyncMessageType.SYNC_STEP1)
SYNC_STEP2 = int(YSyncMessageType.SYNC_STEP2)
SYNC_UPDATE = int(YSyncMessageType.SYNC_UPDATE)
# An update with no structs and an empty delete set (what a client with nothing new sends).
EMPTY_UPDATE = b"\x00\x00"


class ProtocolError(ValueError):
    """A message that does not parse."""


class Reader:
    """Reads varuints and length-prefixed byte strings, refusing to run past the end."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def var_uint(self) -> int:
        value = 0
        shift = 0
        while True:
            if self.offset >= len(self.data) or shift > 63:
                raise ProtocolError("truncated or overlong varuint")
            byte = self.data[self.offset]
            self.offset += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    def var_bytes(self) -> bytes:
        length = self.var_uint()
        end = self.offset + length
        if end > len(self.data):
            raise ProtocolError("a length-prefixed field runs past the end of the message")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def var_string(self) -> str:
        try:
            return self.var_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("a string is not UTF-8") from None


def var_bytes(data: bytes) -> bytes:
    return write_var_uint(len(data)) + data


def message_type(message: bytes) -> int:
    return Reader(message).var_uint()


@dataclass(frozen=True)
class SyncMessage:
    kind: int  # SYNC_STEP1, SYNC_STEP2 or SYNC_UPDATE
    payload: bytes  # a state vector (step 1) or an update


def parse_sync(message: bytes) -> SyncMessage:
    reader = Reader(message)
    if reader.var_uint() != MESSAGE_SYNC:
        raise ProtocolError("not a sync message")
    kind = reader.var_uint()
    if kind not in (SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE):
        raise ProtocolError(f"unknown sync message type {kind}")
    return SyncMessage(kind, reader.var_bytes())


@dataclass(frozen=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: Any  # the decoded JSON state; None when the client left

    def encoded_state(self) -> bytes:
        return json.dumps(self.state, separators=(",", ":")).encode("utf-8")


def parse_awareness(message: bytes) -> list[AwarenessEntry]:
    reader = Reader(message)
    if reader.var_uint() != MESSAGE_AWARENESS:
        raise ProtocolError("not an awareness message")
    return parse_awareness_update(reader.var_bytes())


def parse_awareness_update(update: bytes) -> list[AwarenessEntry]:
    inner = Reader(update)
    count = inner.var_uint()
    entries: list[AwarenessEntry] = []
    for _ in range(count):
        client_id = inner.var_uint()
        clock = inner.var_uint()
        raw = inner.var_string()
        try:
            state = json.loads(raw) if raw else None
        except ValueError:
            raise ProtocolError("an awareness state is not JSON") from None
        entries.append(AwarenessEntry(client_id, clock, state))
    return entries


def awareness_update(entries: list[AwarenessEntry]) -> bytes:
    parts = [write_var_uint(len(entries))]
    for entry in entries:
        parts += [
            write_var_uint(entry.client_id),
            write_var_uint(entry.clock),
            var_bytes(entry.encoded_state()),
        ]
    return b"".join(parts)


def awareness_message(entries: list[AwarenessEntry]) -> bytes:
    return write_var_uint(MESSAGE_AWARENESS) + var_bytes(awareness_update(entries))


def prequel_message(payload: dict[str, Any]) -> bytes:
    """One of the agent's own notices, e.g. {"type": "mode", "writable": false}."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return write_var_uint(MESSAGE_PREQUEL) + var_bytes(body)


def parse_prequel(message: bytes) -> dict[str, Any]:
    reader = Reader(message)
    if reader.var_uint() != MESSAGE_PREQUEL:
        raise ProtocolError("not a prequel message")
    try:
        body = json.loads(reader.var_string())
    except ValueError:
        raise ProtocolError("a prequel message is not JSON") from None
    if not isinstance(body, dict):
        raise ProtocolError("a prequel message is not a JSON object")
    return body
