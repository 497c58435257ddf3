"""Reading an interview's saved work (the `.tar.gz` in the blob store) without extracting it.

The archive holds whatever the candidate left in the workspace, so every name in it is
untrusted. Nothing is ever written to disk under a member's name: entries are listed and one
file's bytes are read straight out of the tar stream. Names that are absolute or climb with
`..` are skipped; links are listed with their target and never followed.

The tar stream is read once, front to back, through a reader that stops after
MAX_SCAN_BYTES of unpacked data, so a small archive that inflates to terabytes (or a header
that claims a huge size) costs a bounded amount of time and memory.
"""

from __future__ import annotations

import gzip
import os
import tarfile
import tempfile
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import anyio.to_thread

from prequel.storage.base import BlobNotFound, BlobStore

# A file larger than this is offered as a download instead of shown in the page.
MAX_VIEW_BYTES = 1024 * 1024
# The listing stops here; a workspace with more entries is shown truncated.
MAX_ENTRIES = 10_000
# Unpacked tar bytes read per request at most (the decompression-bomb guard).
MAX_SCAN_BYTES = 2 * 1024 * 1024 * 1024
MAX_PATH_CHARS = 4096
# Bytes looked at to tell text from binary before decoding.
SNIFF_BYTES = 8192

EntryKind = Literal["file", "dir", "symlink", "hardlink"]


class ArchiveProblem(Exception):
    """Base class; the message is safe to show to the interviewer."""


class ArchiveMissing(ArchiveProblem):
    pass


class ArchiveUnreadable(ArchiveProblem):
    pass


class InvalidPath(ArchiveProblem):
    pass


class EntryNotFound(ArchiveProblem):
    pass


class NotAFile(ArchiveProblem):
    pass


class FileTooLarge(ArchiveProblem):
    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(
            f"{path} is {size} bytes, more than the {limit} bytes shown in the page; "
            "download the archive to read it"
        )
        self.size = size
        self.limit = limit


class BinaryFile(ArchiveProblem):
    def __init__(self, path: str, size: int) -> None:
        super().__init__(f"{path} is a binary file ({size} bytes); download the archive to open it")
        self.size = size


@dataclass(frozen=True)
class ArchiveEntry:
    path: str
    kind: EntryKind
    size: int
    modified_at: datetime | None
    # For links: where they point, as stored (shown as text, never followed).
    target: str | None = None

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ArchiveListing:
    entries: list[ArchiveEntry]
    # More entries than MAX_ENTRIES: the listing holds the first ones only.
    truncated: bool = False
    # Members left out because their name or type is unsafe (absolute, "..", devices).
    skipped: int = 0

    @property
    def file_count(self) -> int:
        return sum(1 for entry in self.entries if entry.kind == "file")

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries if entry.kind == "file")


@dataclass(frozen=True)
class TextFile:
    path: str
    size: int
    modified_at: datetime | None
    text: str

    @property
    def line_count(self) -> int:
        if not self.text:
            return 0
        return self.text.count("\n") + (0 if self.text.endswith("\n") else 1)


@dataclass
class TreeNode:
    """A folder or a file in the browser's tree; folders list folders first, then files."""

    name: str
    path: str
    entry: ArchiveEntry | None
    children: list[TreeNode] = field(default_factory=list)

    @property
    def is_dir(self) -> bool:
        return self.entry is None or self.entry.kind == "dir"


# Names ------------------------------------------------------------------------------------


def safe_path(name: str) -> str | None:
    """The member name as a clean relative path ("a/b.py"), or None if it is unsafe:
    absolute, climbing out with "..", empty, too long, or holding control characters."""
    if not name or len(name) > MAX_PATH_CHARS or name.startswith("/"):
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return None
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def requested_path(path: str) -> str:
    """A path from a URL, cleaned like member names; InvalidPath when it is not one."""
    cleaned = safe_path(path)
    if cleaned is None:
        raise InvalidPath(
            f"{path[:200]!r} is not a path inside the saved work; use a relative path such "
            "as src/main.py, without '..'"
        )
    return cleaned


def looks_binary(data: bytes) -> bool:
    """NUL bytes near the start, or bytes that are not UTF-8, mean "not text"."""
    if b"\x00" in data[:SNIFF_BYTES]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# Reading the tar stream -------------------------------------------------------------------


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _BoundedReader:
    """The unpacked tar stream, refusing to go past a byte budget."""

    def __init__(self, source: _Readable, limit: int) -> None:
        self._source = source
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        want = self._left + 1 if size < 0 else min(size, self._left + 1)
        data = self._source.read(want)
        self._left -= len(data)
        if self._left < 0:
            raise ArchiveUnreadable(
                "the saved work unpacks to more than "
                f"{MAX_SCAN_BYTES // (1024 * 1024)} MB; download it to read it"
            )
        return data


def _moment(member: tarfile.TarInfo) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(member.mtime), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _entry(member: tarfile.TarInfo, path: str) -> ArchiveEntry | None:
    moment = _moment(member)
    if member.isreg():
        return ArchiveEntry(path, "file", max(0, member.size), moment)
    if member.isdir():
        return ArchiveEntry(path, "dir", 0, moment)
    if member.issym():
        return ArchiveEntry(path, "symlink", 0, moment, member.linkname)
    if member.islnk():
        return ArchiveEntry(path, "hardlink", 0, moment, member.linkname)
    return None  # devices, FIFOs: never workspace content


def _members(archive: Path) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
    try:
        with (
            gzip.open(archive, "rb") as unpacked,
            tarfile.open(
                fileobj=_BoundedReader(unpacked, MAX_SCAN_BYTES),  # type: ignore[call-overload]
                mode="r|",
            ) as tar,
        ):
            for member in tar:
                yield tar, member
    except ArchiveProblem:
        raise
    except (tarfile.TarError, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ArchiveUnreadable(f"the saved work is damaged and cannot be read: {exc}") from exc


def list_entries(archive: Path, *, max_entries: int = MAX_ENTRIES) -> ArchiveListing:
    """Every safe entry of a .tar.gz on local disk, sorted by path. Blocking."""
    found: dict[str, ArchiveEntry] = {}
    skipped = 0
    truncated = False
    for _tar, member in _members(archive):
        path = safe_path(member.name)
        entry = _entry(member, path) if path is not None else None
        if entry is None:
            skipped += 1
            continue
        # A later member of the same name replaces the earlier one, as extraction would.
        if entry.path not in found and len(found) >= max_entries:
            truncated = True
            continue
        found[entry.path] = entry
    return ArchiveListing(sorted(found.values(), key=lambda e: e.path), truncated, skipped)


def read_text(archive: Path, path: str, *, max_bytes: int = MAX_VIEW_BYTES) -> TextFile:
    """One regular file's text. Blocking. Raises EntryNotFound, NotAFile, FileTooLarge or
    BinaryFile with a message for the interviewer."""
    wanted = requested_path(path)
    found: ArchiveEntry | None = None
    data = b""
    for tar, member in _members(archive):
        if safe_path(member.name) != wanted:
            continue
        entry = _entry(member, wanted)
        if entry is None:
            continue
        found, data = entry, b""
        if entry.kind == "file" and entry.size <= max_bytes:
            stream = tar.extractfile(member)
            data = stream.read(max_bytes + 1) if stream is not None else b""
        # Keep reading: a later member of the same name is the one that counts.
    if found is None:
        raise EntryNotFound(f"there is no {wanted} in the saved work")
    if found.kind == "dir":
        raise NotAFile(f"{wanted} is a folder; pick a file inside it")
    if found.kind in ("symlink", "hardlink"):
        raise NotAFile(
            f"{wanted} is a link to {found.target!r}; links in saved work are never followed"
        )
    if found.size > max_bytes:
        raise FileTooLarge(wanted, found.size, max_bytes)
    if looks_binary(data):
        raise BinaryFile(wanted, found.size)
    return TextFile(wanted, found.size, found.modified_at, data.decode("utf-8"))


def build_tree(entries: list[ArchiveEntry]) -> list[TreeNode]:
    """Nested folders from flat paths; a file's folders exist even without their own entry."""
    root = TreeNode("", "", None)
    folders: dict[str, TreeNode] = {"": root}

    def folder(path: str) -> TreeNode:
        node = folders.get(path)
        if node is None:
            parent_path, _, name = path.rpartition("/")
            node = TreeNode(name, path, None)
            folder(parent_path).children.append(node)
            folders[path] = node
        return node

    for entry in entries:
        if entry.kind == "dir":
            folder(entry.path).entry = entry
        else:
            parent_path, _, name = entry.path.rpartition("/")
            folder(parent_path).children.append(TreeNode(name, entry.path, entry))

    def order(node: TreeNode) -> None:
        node.children.sort(key=lambda child: (not child.is_dir, child.name.lower(), child.name))
        for child in node.children:
            order(child)

    order(root)
    return root.children


# From the blob store ----------------------------------------------------------------------


def _temporary_file() -> Path:
    fd, name = tempfile.mkstemp(prefix="prequel-saved-", suffix=".tar.gz")
    os.close(fd)
    return Path(name)


@asynccontextmanager
async def local_copy(blobs: BlobStore, key: str) -> AsyncIterator[Path]:
    """The archive in a temporary file for the block's duration (S3 streams it to disk)."""
    path = await anyio.to_thread.run_sync(_temporary_file)
    try:
        try:
            await blobs.get_to_file(key, path)
        except BlobNotFound:
            raise ArchiveMissing(
                f"the saved work ({key}) is missing from the blob store; "
                "ask an administrator to check the storage"
            ) from None
        yield path
    finally:
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


async def list_saved(blobs: BlobStore, key: str) -> ArchiveListing:
    async with local_copy(blobs, key) as path:
        return await anyio.to_thread.run_sync(list_entries, path)


async def read_saved(blobs: BlobStore, key: str, path: str) -> TextFile:
    wanted = requested_path(path)  # refuse bad paths before fetching anything
    async with local_copy(blobs, key) as local:
        return await anyio.to_thread.run_sync(lambda: read_text(local, wanted))


@dataclass(frozen=True)
class SavedTexts:
    """The text files of an archive for a printable page, within limits."""

    files: list[TextFile]
    left_out: int  # files not shown: binary, too large, or past the limits


def _read_texts(local: Path, max_files: int, max_bytes: int) -> SavedTexts:
    """One pass over the tar: a later member of a name replaces an earlier one."""
    found: dict[str, TextFile | None] = {}
    kept = 0  # bytes held, so a huge workspace never fills the memory
    for tar, member in _members(local):
        path = safe_path(member.name)
        entry = _entry(member, path) if path is not None else None
        if entry is None or entry.kind != "file":
            if path is not None:
                found.pop(path, None)
            continue
        text: TextFile | None = None
        if kept + entry.size <= max_bytes:
            stream = tar.extractfile(member)
            data = stream.read(max_bytes + 1) if stream is not None else b""
            if not looks_binary(data):
                try:
                    text = TextFile(entry.path, entry.size, entry.modified_at, data.decode("utf-8"))
                except UnicodeDecodeError:
                    text = None
        kept += text.size if text is not None else 0
        found[entry.path] = text
    files: list[TextFile] = []
    left_out, total = 0, 0
    for path in sorted(found):
        text = found[path]
        if text is None or len(files) >= max_files or total + text.size > max_bytes:
            left_out += 1
            continue
        files.append(text)
        total += text.size
    return SavedTexts(files, left_out)


async def read_saved_texts(
    blobs: BlobStore, key: str, *, max_files: int = 40, max_bytes: int = 512 * 1024
) -> SavedTexts:
    """Every text file (up to the limits) from one download of the archive."""
    async with local_copy(blobs, key) as local:
        return await anyio.to_thread.run_sync(lambda: _read_texts(local, max_files, max_bytes))
