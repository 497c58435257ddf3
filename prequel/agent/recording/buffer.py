"""The recording's disk buffer: every event, numbered, kept until the portal acknowledges it.

Layout, in `<state folder>/recording/`:

    seg-000000000001.jsonl   events 1.., one JSON object per line (a new segment every 4 MiB)
    acked                    the highest sequence number the portal acknowledged

Events are appended to the open segment as they come (buffered) and flushed with fsync once a
second by the recorder, so the event path never waits for the disk. On start, the segments are
read back: a torn last line (the agent died mid-write) is cut off; numbering continues after
the highest number ever assigned (the segments' or, when all were acknowledged and deleted,
`acked`), so a number is never reused. Unacknowledged events are also held in memory for the
portal's reads; acknowledged ones are dropped, and segments wholly acknowledged are deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("prequel.agent.recording")

SEGMENT_BYTES = 4 * 1024 * 1024
WARN_BYTES = 256 * 1024 * 1024
SEGMENT_DIGITS = 12


def _segment_name(first_seq: int) -> str:
    return f"seg-{first_seq:0{SEGMENT_DIGITS}d}.jsonl"


def _segment_first(path: Path) -> int | None:
    stem = path.name.removeprefix("seg-").removesuffix(".jsonl")
    return int(stem) if stem.isdigit() and len(stem) == SEGMENT_DIGITS else None


class RecordingBuffer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.events: list[dict[str, Any]] = []  # unacknowledged, in order
        self.acked = 0
        self.last_seq = 0
        self._segments: list[tuple[int, Path]] = []  # (first seq, path), oldest first
        self._file: IO[bytes] | None = None
        self._file_bytes = 0
        self._dirty = False
        self._warned = False

    # start ------------------------------------------------------------------------------

    def open(self) -> None:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.acked = self._read_acked()
        found = sorted(
            (first, path)
            for path in self.folder.glob("seg-*.jsonl")
            if (first := _segment_first(path)) is not None
        )
        for first, path in found:
            events = self._load(path)
            if not events:
                path.unlink(missing_ok=True)
                continue
            self._segments.append((first, path))
            self.last_seq = max(self.last_seq, events[-1]["seq"])
            self.events.extend(event for event in events if event["seq"] > self.acked)
        self.last_seq = max(self.last_seq, self.acked)
        self._prune()

    def _read_acked(self) -> int:
        try:
            return int((self.folder / "acked").read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except (OSError, ValueError) as exc:
            log.warning("ignored a damaged recording acknowledgement: %s", exc)
            return 0

    def _load(self, path: Path) -> list[dict[str, Any]]:
        """A segment's events; a torn or damaged tail is cut off the file."""
        events: list[dict[str, Any]] = []
        good = 0
        with path.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                try:
                    event = json.loads(line)
                except ValueError:
                    break
                if not isinstance(event, dict) or not isinstance(event.get("seq"), int):
                    break
                events.append(event)
                good += len(line)
        if good != path.stat().st_size:
            log.warning("cut a torn recording tail off %s at byte %d", path.name, good)
            with path.open("r+b") as handle:
                handle.truncate(good)
        return events

    # events -----------------------------------------------------------------------------

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        """Number the event and buffer it (in memory now, on disk at the next flush)."""
        self.last_seq += 1
        event = {"seq": self.last_seq, **event}
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode(
            "utf-8", "replace"
        )
        if self._file is None or self._file_bytes >= SEGMENT_BYTES:
            self._rotate(self.last_seq)
        assert self._file is not None
        self._file.write(line + b"\n")
        self._file_bytes += len(line) + 1
        self._dirty = True
        self.events.append(event)
        return event

    def _rotate(self, first_seq: int) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        path = self.folder / _segment_name(first_seq)
        self._file = path.open("ab")
        self._file_bytes = 0
        self._segments.append((first_seq, path))
        total = sum(p.stat().st_size for _, p in self._segments if p.exists())
        if total > WARN_BYTES and not self._warned:
            self._warned = True
            log.warning("the recording buffer holds %d MiB not yet collected", total >> 20)

    def flush(self) -> None:
        """Write buffered events to disk (fsync). Called once a second, and on close."""
        if self._file is None or not self._dirty:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._dirty = False

    def read(self, after: int, limit: int) -> list[dict[str, Any]]:
        # Events are in seq order with no gaps above `acked`: find the start by arithmetic.
        if not self.events:
            return []
        start = max(0, after + 1 - self.events[0]["seq"])
        return self.events[start : start + limit]

    def acknowledge(self, seq: int) -> None:
        """Everything up to `seq` is stored by the portal: drop it here."""
        seq = min(seq, self.last_seq)
        if seq <= self.acked:
            return
        self.acked = seq
        drop = 0
        while drop < len(self.events) and self.events[drop]["seq"] <= seq:
            drop += 1
        del self.events[:drop]
        tmp = self.folder / "acked.tmp"
        tmp.write_text(f"{seq}\n")
        os.replace(tmp, self.folder / "acked")
        self._prune()

    def _prune(self) -> None:
        """Delete segments whose every event is acknowledged (never the open one)."""
        keep: list[tuple[int, Path]] = []
        for index, (first, path) in enumerate(self._segments):
            following = self._segments[index + 1][0] if index + 1 < len(self._segments) else None
            is_open = self._file is not None and index == len(self._segments) - 1
            if following is not None and following - 1 <= self.acked and not is_open:
                path.unlink(missing_ok=True)
            else:
                keep.append((first, path))
        self._segments = keep

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None
