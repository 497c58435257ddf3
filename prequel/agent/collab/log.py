"""A room's persistence: checkpoints of the whole document plus a log of every update since.

Files in the room's folder (private state, never in the workspace):

    checkpoint-00000007.bin   the whole document as one update, as of generation 7
    log-00000007.bin          every update applied after that checkpoint, in order

A checkpoint is written to a temporary file, flushed and renamed, so it is whole or absent.
A log record is `u32 length, u32 crc32, body`; body is `u64 time in ms, u16 author length,
author (UTF-8), update`. Records are appended as they happen (a crash loses nothing the
process had written) and flushed to disk once a second (a power loss loses at most that).
A torn or corrupt record ends the log: it and anything after it are ignored.

Loading applies the newest readable checkpoint, then every log of that generation or later.
Yjs updates commute and are idempotent, so replaying an update the checkpoint already holds
is harmless. After loading, the room writes a fresh checkpoint and starts a new log; when a
log passes `compact_bytes`, the same happens while the room keeps running. Older
generations are deleted once the newer checkpoint is on disk.

(pycrdt-store's SQLiteYStore is not used: its squash and compression paths lose documents.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("prequel.agent.collab")

CHECKPOINT_MAGIC = b"PQYCKPT1"
LOG_MAGIC = b"PQYLOG01"
_RECORD = struct.Struct(">II")
_BODY = struct.Struct(">QH")
_NAME = re.compile(r"^(checkpoint|log)-(\d{8})\.bin$")
MAX_AUTHOR_BYTES = 200


@dataclass
class Loaded:
    """What a room's folder held: updates to apply in order, oldest first."""

    updates: list[bytes] = field(default_factory=list)
    generation: int = 0  # the newest generation found (0: nothing was stored)
    torn: int = 0  # records ignored because they were torn or corrupt


def _checkpoint_name(generation: int) -> str:
    return f"checkpoint-{generation:08d}.bin"


def _log_name(generation: int) -> str:
    return f"log-{generation:08d}.bin"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a private temp file, flushed, renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def read_checkpoint(path: Path) -> bytes | None:
    """The checkpoint's update, or None when the file is damaged."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    header = len(CHECKPOINT_MAGIC) + _RECORD.size
    if len(raw) < header or not raw.startswith(CHECKPOINT_MAGIC):
        return None
    length, crc = _RECORD.unpack_from(raw, len(CHECKPOINT_MAGIC))
    body = raw[header:]
    if len(body) != length or zlib.crc32(body) != crc:
        return None
    return body


def encode_checkpoint(update: bytes) -> bytes:
    return CHECKPOINT_MAGIC + _RECORD.pack(len(update), zlib.crc32(update)) + update


def encode_record(update: bytes, author: str, when_ms: int) -> bytes:
    author_bytes = author.encode("utf-8")[:MAX_AUTHOR_BYTES]
    body = _BODY.pack(when_ms, len(author_bytes)) + author_bytes + update
    return _RECORD.pack(len(body), zlib.crc32(body)) + body


def read_log(path: Path) -> tuple[list[bytes], int]:
    """The updates of a log file, and how many bytes at its end were torn or corrupt."""
    try:
        raw = path.read_bytes()
    except OSError:
        return [], 0
    if not raw.startswith(LOG_MAGIC):
        return [], len(raw)
    updates: list[bytes] = []
    offset = len(LOG_MAGIC)
    while offset + _RECORD.size <= len(raw):
        length, crc = _RECORD.unpack_from(raw, offset)
        body = raw[offset + _RECORD.size : offset + _RECORD.size + length]
        if len(body) != length or zlib.crc32(body) != crc or length < _BODY.size:
            break
        _when, author_length = _BODY.unpack_from(body)
        updates.append(bytes(body[_BODY.size + author_length :]))
        offset += _RECORD.size + length
    return updates, len(raw) - offset


class UpdateLog:
    """One room's checkpoints and update log in `folder` (created 0700 if missing)."""

    def __init__(self, folder: Path, *, compact_bytes: int) -> None:
        self.folder = folder
        self.compact_bytes = compact_bytes
        self.generation = 0
        self.log_bytes = 0
        self.checkpoint_bytes = 0
        self._fd: int | None = None
        self._unsynced = False
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)

    def _generations(self) -> dict[int, set[str]]:
        found: dict[int, set[str]] = {}
        for name in os.listdir(self.folder):
            match = _NAME.match(name)
            if match:
                found.setdefault(int(match.group(2)), set()).add(match.group(1))
        return found

    def load(self) -> Loaded:
        """Read everything stored (blocking: call from a thread)."""
        generations = self._generations()
        loaded = Loaded(generation=max(generations, default=0))
        start = 0
        for generation in sorted(generations, reverse=True):
            if "checkpoint" not in generations[generation]:
                continue
            update = read_checkpoint(self.folder / _checkpoint_name(generation))
            if update is not None:
                loaded.updates.append(update)
                start = generation
                break
            log.error("checkpoint %d in %s is damaged; using an older one", generation, self.folder)
        for generation in sorted(generations):
            if generation >= start and "log" in generations[generation]:
                updates, torn = read_log(self.folder / _log_name(generation))
                loaded.updates += updates
                loaded.torn += torn
        if loaded.torn:
            log.warning("ignored %d torn bytes at the end of logs in %s", loaded.torn, self.folder)
        return loaded

    def start(self, generation: int, state: bytes) -> None:
        """Write checkpoint `generation` (the whole document), open its empty log, and remove
        older generations. Blocking: used once at load."""
        self._open_log(generation)
        self.write_checkpoint(generation, state)

    def rotate(self) -> int:
        """Begin the next generation: updates from now on go to a new log. Call
        write_checkpoint(new generation, state taken at the same moment) afterwards."""
        self._open_log(self.generation + 1)
        return self.generation

    def write_checkpoint(self, generation: int, state: bytes) -> None:
        """Blocking (run in a thread): store the checkpoint, then drop older generations."""
        write_atomic(self.folder / _checkpoint_name(generation), encode_checkpoint(state))
        self.checkpoint_bytes = len(state)
        for older, kinds in self._generations().items():
            if older < generation:
                for kind in kinds:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.folder / f"{kind}-{older:08d}.bin")

    def _open_log(self, generation: int) -> None:
        path = self.folder / _log_name(generation)
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )
        os.write(fd, LOG_MAGIC)
        previous, self._fd = self._fd, fd
        if previous is not None:
            with contextlib.suppress(OSError):
                os.fsync(previous)
            os.close(previous)
        self.generation = generation
        self.log_bytes = 0
        self._unsynced = True

    def append(self, update: bytes, author: str) -> None:
        """Append one update (a small write; the page cache holds it until sync())."""
        if self._fd is None:
            return
        record = encode_record(update, author, int(time.time() * 1000))
        try:
            os.write(self._fd, record)
        except OSError as exc:  # a full disk must not stop the room; the log says so
            log.error("cannot append to the update log in %s: %s", self.folder, exc.strerror)
            return
        self.log_bytes += len(record)
        self._unsynced = True

    @property
    def needs_compaction(self) -> bool:
        return self.log_bytes > max(self.compact_bytes, self.checkpoint_bytes)

    @property
    def stored_bytes(self) -> int:
        return self.checkpoint_bytes + self.log_bytes

    def sync(self) -> None:
        """Flush appended records to disk (blocking; cheap when nothing changed)."""
        if self._fd is not None and self._unsynced:
            self._unsynced = False
            with contextlib.suppress(OSError):
                os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
