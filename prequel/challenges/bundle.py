"""Challenge bundles: a deterministic .tar.gz out, and a paranoid unpacker for uploads in.

``pack`` gives the same bytes (and so the same SHA-256) for the same content: entries are
sorted, owners, times and modes are normalized and the gzip header carries no time or name.
``unpack_upload`` accepts .tar.gz/.tgz and .zip and refuses, with a message naming the entry,
anything that could escape or exhaust the destination: absolute paths and "..", symlinks and
hard links, device files, too many entries, and more bytes than allowed (declared sizes are
checked first, and the bytes actually written are counted too).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from prequel.challenges.manifest import (
    MANIFEST_NAME,
    MAX_PATH_DEPTH,
    ChallengeInvalid,
    is_ignored,
    walk_tree,
)
from prequel.settings import ChallengeSettings

CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


class BundleRejected(ValueError):
    """The upload is not a safe, readable challenge archive; the message says why."""


# Packing ----------------------------------------------------------------------------------


def pack(root: Path) -> bytes:
    """A reproducible .tar.gz of the challenge folder (files only, paths relative to root)."""
    files, problems = walk_tree(root)
    if problems:
        raise ChallengeInvalid(problems)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in files:
            info = tarfile.TarInfo(item.path)
            info.size = item.size
            info.mtime = 0
            info.mode = 0o755 if item.executable else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with (root / item.path).open("rb") as handle:
                tar.addfile(info, handle)
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


# Unpacking --------------------------------------------------------------------------------


def safe_relative_path(name: str) -> str | None:
    """The archive entry name as a safe relative path; None for the archive root itself."""
    shown = name if len(name) <= 200 else name[:200] + "…"
    if _CONTROL.search(name):
        raise BundleRejected(f"entry {shown!r} has control characters in its name")
    if "\\" in name:
        raise BundleRejected(f"entry {shown!r} uses backslashes; use '/' between folders")
    if name.startswith("/") or _DRIVE.match(name):
        raise BundleRejected(f"entry {shown!r} is an absolute path; paths must be relative")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BundleRejected(f"entry {shown!r} climbs out of the bundle with '..' (zip-slip)")
    if len(parts) > MAX_PATH_DEPTH:
        raise BundleRejected(f"entry {shown!r} is nested more than {MAX_PATH_DEPTH} deep")
    if any(len(part.encode()) > 255 for part in parts):
        raise BundleRejected(f"entry {shown!r} has a name longer than 255 bytes")
    return "/".join(parts) or None


class _Extractor:
    """Writes entries under dest, enforcing the entry count and the byte budget."""

    def __init__(self, dest: Path, limits: ChallengeSettings) -> None:
        self.dest = dest
        self.limits = limits
        self.entries = 0
        self.declared = 0
        self.written = 0
        self.files = 0

    def admit(self, name: str, declared_size: int) -> str | None:
        """Check one entry before reading it; None means skip it (root or ignored junk).

        Skipped entries count too: their declared bytes would still be read past."""
        self.entries += 1
        if self.entries > self.limits.max_files:
            raise BundleRejected(
                f"the archive has more than {self.limits.max_files} entries; that is the limit"
            )
        self.declared += max(declared_size, 0)
        if self.declared > self.limits.max_unpacked_bytes:
            raise BundleRejected(self._too_big())
        rel = safe_relative_path(name)
        if rel is None or any(is_ignored(part) for part in rel.split("/")):
            return None
        return rel

    def _too_big(self) -> str:
        return f"the archive unpacks to more than {self.limits.max_unpacked_bytes} bytes"

    def make_dir(self, rel: str) -> None:
        try:
            (self.dest / rel).mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise BundleRejected(f"entry {rel!r} clashes with a file of the same name") from exc

    def write_file(self, rel: str, source: IO[bytes], executable: bool) -> None:
        target = self.dest / rel
        parent = target.parent
        if parent != self.dest:
            self.make_dir(str(parent.relative_to(self.dest)))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(target, flags, 0o755 if executable else 0o644)
        except FileExistsError as exc:
            raise BundleRejected(f"entry {rel!r} appears twice in the archive") from exc
        except IsADirectoryError as exc:
            raise BundleRejected(f"entry {rel!r} clashes with a folder of the same name") from exc
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                self.written += len(chunk)
                if self.written > self.limits.max_unpacked_bytes:
                    raise BundleRejected(self._too_big())
                out.write(chunk)
        self.files += 1


def _gunzip_bounded(data: bytes, limit: int, out: IO[bytes]) -> None:
    """Decompress gzip data (one or more members) into out, refusing more than limit bytes.

    tarfile would otherwise inflate whatever a header claims (a PAX header "of 20 GB" is read
    into memory whole), so the tar stream is bounded before tarfile sees it."""
    decompressor = zlib.decompressobj(wbits=31)
    pending = data
    total = 0
    while True:
        chunk = decompressor.decompress(pending, CHUNK)
        pending = decompressor.unconsumed_tail
        total += len(chunk)
        if total > limit:
            raise BundleRejected(f"the archive unpacks to more than {limit} bytes")
        out.write(chunk)
        if decompressor.eof:
            rest = decompressor.unused_data
            if not rest.strip(b"\0"):
                return
            decompressor = zlib.decompressobj(wbits=31)
            pending = rest
        elif not chunk and not pending:
            raise BundleRejected("the tar.gz archive is truncated (the gzip stream ends early)")


def _extract_tar(data: bytes, extractor: _Extractor) -> None:
    limits = extractor.limits
    # Room for the file bytes plus headers, PAX records and padding of every entry.
    stream_limit = limits.max_unpacked_bytes + (limits.max_files + 16) * 4096
    with tempfile.TemporaryFile() as raw:
        _gunzip_bounded(data, stream_limit, raw)
        raw.seek(0)
        _extract_tar_stream(raw, extractor)


def _extract_tar_stream(raw: IO[bytes], extractor: _Extractor) -> None:
    with tarfile.open(fileobj=raw, mode="r:") as tar:
        while (member := tar.next()) is not None:
            name = member.name
            if member.issym():
                raise BundleRejected(f"entry {name!r} is a symlink; bundles hold plain files only")
            if member.islnk():
                raise BundleRejected(
                    f"entry {name!r} is a hard link; bundles hold plain files only"
                )
            if member.ischr() or member.isblk() or member.isfifo():
                raise BundleRejected(f"entry {name!r} is a device or pipe; plain files only")
            if not (member.isreg() or member.isdir()):
                raise BundleRejected(f"entry {name!r} has an unsupported type")
            rel = extractor.admit(name, member.size if member.isreg() else 0)
            if rel is None:
                continue
            if member.isdir():
                extractor.make_dir(rel)
                continue
            source = tar.extractfile(member)
            if source is None:
                raise BundleRejected(f"entry {name!r} cannot be read")
            with source:
                extractor.write_file(rel, source, bool(member.mode & stat.S_IXUSR))


def _extract_zip(data: bytes, extractor: _Extractor) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        if len(infos) > extractor.limits.max_files:
            raise BundleRejected(
                f"the archive has {len(infos)} entries; the limit is {extractor.limits.max_files}"
            )
        declared = sum(info.file_size for info in infos)
        if declared > extractor.limits.max_unpacked_bytes:
            raise BundleRejected(extractor._too_big())
        for info in infos:
            name = info.filename
            mode = (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0
            if stat.S_ISLNK(mode):
                raise BundleRejected(f"entry {name!r} is a symlink; bundles hold plain files only")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise BundleRejected(f"entry {name!r} is a device or pipe; plain files only")
            if info.flag_bits & 0x1:
                raise BundleRejected(f"entry {name!r} is encrypted; upload an unencrypted zip")
            rel = extractor.admit(name, info.file_size)
            if rel is None:
                continue
            if info.is_dir():
                extractor.make_dir(rel)
                continue
            with archive.open(info) as source:
                extractor.write_file(rel, source, bool(mode & stat.S_IXUSR))


def _archive_kind(data: bytes, filename: str | None) -> str:
    lower = (filename or "").lower()
    by_content = (
        "tar.gz" if data.startswith(_GZIP_MAGIC) else "zip" if data[:4] in _ZIP_MAGICS else None
    )
    if lower.endswith((".tar.gz", ".tgz")):
        by_name = "tar.gz"
    elif lower.endswith(".zip"):
        by_name = "zip"
    elif lower:
        raise BundleRejected(f"{filename!r} is not a .tar.gz, .tgz or .zip file")
    else:
        by_name = None
    if by_content is None:
        what = f"{filename!r}" if filename else "the upload"
        raise BundleRejected(f"{what} is not a gzip-compressed tar or zip archive (corrupt?)")
    if by_name is not None and by_name != by_content:
        raise BundleRejected(
            f"{filename!r} is named like a {by_name} file but holds a {by_content}"
        )
    return by_content


@contextmanager
def _corrupt_as_rejected(kind: str) -> Iterator[None]:
    try:
        yield
    except BundleRejected:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise BundleRejected(f"the {kind} archive is corrupt or truncated: {exc}") from exc
    except (gzip.BadGzipFile, NotImplementedError, ValueError) as exc:
        raise BundleRejected(f"the {kind} archive cannot be read: {exc}") from exc


def find_challenge_root(dest: Path) -> Path:
    """dest itself, or its single top-level folder when that one holds challenge.toml."""
    if (dest / MANIFEST_NAME).is_file():
        return dest
    entries = [entry for entry in dest.iterdir() if not is_ignored(entry.name)]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / MANIFEST_NAME).is_file():
        return entries[0]
    return dest


def unpack_upload(data: bytes, filename: str | None, dest: Path, limits: ChallengeSettings) -> Path:
    """Unpack an uploaded bundle into the empty folder dest; return the challenge root."""
    if len(data) > limits.max_bundle_bytes:
        raise BundleRejected(f"the upload is larger than {limits.max_bundle_bytes} bytes")
    kind = _archive_kind(data, filename)
    dest.mkdir(parents=True, exist_ok=True)
    extractor = _Extractor(dest, limits)
    with _corrupt_as_rejected(kind):
        if kind == "zip":
            _extract_zip(data, extractor)
        else:
            _extract_tar(data, extractor)
    if extractor.files == 0:
        raise BundleRejected("the archive holds no files")
    return find_challenge_root(dest)
