"""Keeping the shared document and the workspace's files in step, both ways.

The document's root map `files` holds one Y.Text per shared file, keyed by its workspace
path. For each file the agent remembers the **base**: the text and content version last known
to be the same in the document and on disk.

- **Document to disk.** An edit marks its file; `flush_seconds` later (always well under a
  second) the text is written through the file API's atomic write (temp file, rename), on
  the condition that the file still has the base's version. A file that changed on disk
  meanwhile is not overwritten: it is merged first.
- **Disk to document.** Every `poll_seconds` the workspace is scanned; a file whose inode,
  size or times changed is read. If its version differs from the base, the change reaches the
  Y.Text as a minimal diff (textdiff.diff), never as a wipe-and-replace; if the document was
  edited too, the disk's change is rebased onto it (textdiff.rebase) and the merged text is
  written back. New text files join the map; a file missing from two scans in a row leaves it
  (so a `git checkout` that deletes and recreates a file does not); a file that moved keeps
  its content and pending edits under its new name (same inode); a file that became binary
  or too large leaves the map.
- **Clients' map changes.** A key a client adds is created on disk; a key a client deletes
  deletes the file, if the file is still the base's version (else the disk's file comes
  back). Keys that are not shareable paths, or not texts, are removed.
- **Restart.** The base versions are saved (`disk.json`); the document comes back from its
  log, and for each file: the same on both sides, nothing to do; disk still at the base
  version, so the document is newer, it is written; otherwise the disk changed while the
  agent was away and the document follows it by a minimal diff. Plain text is loaded into
  the document only for files it does not hold yet, never over a text clients already have.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycrdt import Map, Text

from prequel.agent.bodies import encode_content, in_thread
from prequel.agent.collab.log import write_atomic
from prequel.agent.collab.room import CollabRoom
from prequel.agent.collab.scan import FileStat, Scan, scan_workspace, shareable_path
from prequel.agent.collab.settings import CollabSettings
from prequel.agent.collab.textdiff import apply_edits, diff, rebase
from prequel.agent.errors import AgentError
from prequel.agent.files import Workspace

log = logging.getLogger("prequel.agent.collab")

DISK = "disk"  # the transaction origin and log author of changes that came from disk
FILES_KEY = "files"
MISSING_SCANS = 2


@dataclass
class Base:
    text: str
    version: str
    stat: FileStat | None = None


@dataclass(frozen=True)
class DiskText:
    text: str | None  # None: not text (binary, or over the size limit)
    version: str


class DiskSync:
    def __init__(
        self, room: CollabRoom, workspace: Workspace, settings: CollabSettings, state_file: Path
    ) -> None:
        self.room = room
        self.doc = room.ydoc
        self.files: Map[Any] = self.doc.get(FILES_KEY, type=Map)
        self.workspace = workspace
        self.settings = settings
        self.state_file = state_file
        self.bases: dict[str, Base] = {}
        self.saved_versions: dict[str, str] = self._load_versions()
        self.dirty: set[str] = set()
        self.missing: dict[str, int] = {}
        self.lock = asyncio.Lock()
        self.wake = asyncio.Event()
        self.writes = 0
        self.last_scan = 0.0
        self.truncated = False
        # Hears renames found on disk (the recording).
        self.on_rename: Callable[[str, str], None] | None = None
        self._subscription = self.files.observe_deep(self._changed)

    # observing the document ---------------------------------------------------------------

    def _changed(self, events: list[Any], txn: Any) -> None:
        if txn.origin == DISK:
            return
        for event in events:
            path = getattr(event, "path", None) or []
            if path:
                self.dirty.add(str(path[0]))
            else:
                self.dirty.update(str(key) for key in (getattr(event, "keys", None) or {}))
        if self.dirty:
            self.wake.set()

    def _text_at(self, path: str) -> Text | None:
        value = self.files.get(path)
        return value if isinstance(value, Text) else None

    def _transact(self) -> Any:
        self.room.author = DISK
        return self.doc.transaction(origin=DISK)

    # the loop -------------------------------------------------------------------------------

    async def run(self, active: asyncio.Event) -> None:
        """Scan and flush while `active` is set (clients are connected)."""
        while True:
            await active.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.poll_seconds)
            if self.wake.is_set():
                await asyncio.sleep(self.settings.flush_seconds)  # gather a burst of keystrokes
                self.wake.clear()
            due = time.monotonic() - self.last_scan >= self.settings.poll_seconds
            try:
                await self.tick(scan=due)
            except Exception:  # one bad file must not stop syncing the others
                log.exception("collaboration disk sync failed; retrying")
                await asyncio.sleep(self.settings.poll_seconds)

    async def tick(self, *, scan: bool) -> None:
        async with self.lock:
            before = {path: base.version for path, base in self.bases.items()}
            if scan:
                self.last_scan = time.monotonic()
                found = await in_thread(
                    lambda: scan_workspace(
                        self.workspace.root_fd,
                        max_file_bytes=self.workspace.max_file_bytes,
                        max_entries=self.settings.max_files,
                    )
                )
                await self._ingest(found)
            await self._flush()
            after = {path: base.version for path, base in self.bases.items()}
            if after != before or after != self.saved_versions:
                self.saved_versions = after
                await in_thread(self._save_versions, after)

    # disk -> document ---------------------------------------------------------------------

    async def _read(self, path: str) -> DiskText | None:
        """The file as text, or with text None when it is not text; None if it is gone."""

        def work() -> DiskText | None:
            try:
                found = self.workspace.read(path)
            except AgentError as exc:
                if exc.code == "too_large":
                    return DiskText(None, "")
                return None
            content, encoding = encode_content(found.data)
            text = content if encoding == "utf-8" else None
            assert found.info.version is not None
            return DiskText(text, found.info.version)

        return await in_thread(work)

    async def _ingest(self, found: Scan) -> None:
        self.truncated = found.truncated
        stats = found.files
        new = [path for path in stats if path not in self.bases]
        by_inode = {stats[path].ino: path for path in new}
        for path in [path for path in self.bases if path not in stats]:
            known_stat = self.bases[path].stat
            inode = known_stat.ino if known_stat is not None else None
            target = by_inode.pop(inode, None) if inode is not None else None
            if target is not None and self._text_at(target) is None:
                new.remove(target)
                await self._moved(path, target, stats[target])
                continue
            self.missing[path] = self.missing.get(path, 0) + 1
            if self.missing[path] >= MISSING_SCANS:
                self._drop(path)
        for path, info in stats.items():
            known = self.bases.get(path)
            if known is None:
                continue
            self.missing.pop(path, None)
            if known.stat != info:
                await self._disk_changed(path, info)
        for path in new:
            await self._disk_added(path, stats[path])

    def _drop(self, path: str) -> None:
        """The file is gone from disk (or no longer text): it leaves the document."""
        self.bases.pop(path, None)
        self.missing.pop(path, None)
        self.dirty.discard(path)
        if path in self.files:
            with self._transact():
                del self.files[path]

    async def _moved(self, old: str, new: str, info: FileStat) -> None:
        """A rename: the content moves to the new key, with edits not yet written."""
        base = self.bases.pop(old)
        self.missing.pop(old, None)
        ytext = self._text_at(old)
        doc_text = str(ytext) if ytext is not None else base.text
        with self._transact():
            if old in self.files:
                del self.files[old]
            self.files[new] = Text(doc_text)
        self.bases[new] = Base(base.text, base.version, None)
        if self.on_rename is not None:
            self.on_rename(old, new)
        if doc_text != base.text:
            self.dirty.add(new)  # edits not yet written follow the file
        await self._disk_changed(new, info)

    async def _disk_changed(self, path: str, info: FileStat) -> None:
        disk = await self._read(path)
        if disk is None:
            return  # vanished since the scan; the next scan sees it missing
        if disk.text is None:
            self._drop(path)
            return
        base = self.bases[path]
        base.stat = info
        if disk.version == base.version:
            return
        ytext = self._text_at(path)
        if ytext is None:
            with self._transact():
                self.files[path] = Text(disk.text)
            self.bases[path] = Base(disk.text, disk.version, info)
            return
        doc_text = str(ytext)
        if doc_text == base.text:
            edits = diff(doc_text, disk.text)
        else:
            edits = rebase(base.text, doc_text, diff(base.text, disk.text))
        with self._transact():
            apply_edits(ytext, doc_text, edits)
        self.bases[path] = Base(disk.text, disk.version, info)
        if str(ytext) != disk.text:
            self.dirty.add(path)  # both sides changed: write the merge back

    async def _disk_added(self, path: str, info: FileStat) -> None:
        disk = await self._read(path)
        if disk is None:
            return
        ytext = self._text_at(path)
        if disk.text is None:
            if path in self.files:  # a client's key for a file that is not text
                with self._transact():
                    del self.files[path]
            return
        if ytext is None:
            if len(self.files) >= self.settings.max_files or self.room.full:
                return
            with self._transact():
                self.files[path] = Text(disk.text)
        else:
            doc_text = str(ytext)
            if doc_text != disk.text and self.saved_versions.get(path) != disk.version:
                # The disk is newer than what the document last wrote (or unknown): follow it.
                with self._transact():
                    apply_edits(ytext, doc_text, diff(doc_text, disk.text))
            elif doc_text != disk.text:
                self.dirty.add(path)  # the document holds edits the disk never got
        self.bases[path] = Base(disk.text, disk.version, info)

    # document -> disk ---------------------------------------------------------------------

    async def _flush(self) -> None:
        candidates = self.dirty | (set(self.files.keys()) - set(self.bases))
        self.dirty = set()
        for path in sorted(candidates):
            try:
                await self._flush_one(path)
            except AgentError as exc:
                if exc.code in ("version_conflict", "exists", "changed"):
                    continue  # the disk changed: the next scan merges it
                log.warning("cannot write %s from the shared document: %s", path, exc.message)

    async def _flush_one(self, path: str) -> None:
        value = self.files.get(path)
        base = self.bases.get(path)
        if value is not None and not isinstance(value, Text) and base is not None:
            with self._transact():  # only texts belong in the map: put the file's back
                self.files[path] = Text(base.text)
            return
        if value is not None and (not isinstance(value, Text) or not shareable_path(path)):
            with self._transact():
                del self.files[path]
            return
        if base is None:
            if value is None:
                return
            if path in self.saved_versions:
                self._drop(path)  # synced before, gone from disk while the agent was away
                return
            text = str(value)
            info, _created = await in_thread(self.workspace.write, path, text.encode(), None)
            assert info.version is not None
            self.bases[path] = Base(text, info.version)
            self.writes += 1
            return
        if value is None:
            await self._client_deleted(path, base)
            return
        assert isinstance(value, Text)
        text = str(value)
        if text == base.text:
            return
        info, _created = await in_thread(self.workspace.write, path, text.encode(), base.version)
        assert info.version is not None
        self.bases[path] = Base(text, info.version, base.stat)
        self.writes += 1

    async def _client_deleted(self, path: str, base: Base) -> None:
        disk = await self._read(path)
        self.bases.pop(path, None)
        if disk is None:
            return
        if disk.version == base.version:
            await in_thread(self.workspace.delete, path)
            return
        if disk.text is not None:  # changed on disk since: the file wins and comes back
            with self._transact():
                self.files[path] = Text(disk.text)
            self.bases[path] = Base(disk.text, disk.version)

    # saved base versions ------------------------------------------------------------------

    def _load_versions(self) -> dict[str, str]:
        try:
            data = json.loads(self.state_file.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}

    def _save_versions(self, versions: dict[str, str]) -> None:
        write_atomic(self.state_file, json.dumps(versions, sort_keys=True).encode())

    def status(self) -> dict[str, Any]:
        return {
            "files": len(self.files),
            "writes": self.writes,
            "truncated": self.truncated,
        }
