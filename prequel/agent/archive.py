"""The workspace as a streamed .tar.gz: snapshots on demand and the final archive.

A producer thread walks the workspace through directory fds (links are stored as links, never
followed; devices, FIFOs and sockets are skipped) and writes tar into gzip into a bounded
queue; the response drains the queue chunk by chunk. Memory stays at a few chunks whatever
the workspace's size, and a client that goes away stops the producer at its next write.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import queue
import stat
import tarfile
import threading
from collections.abc import AsyncIterator

import anyio.to_thread

from prequel.agent.paths import DIR_FLAGS, FILE_FLAGS
from prequel.agent.tree import MAX_WALK_DEPTH

log = logging.getLogger("prequel.agent.archive")

CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 16
COMPRESS_LEVEL = 6  # gzip's default trade-off; 9 costs much more CPU for a few percent


class _Abandoned(Exception):
    """The client stopped reading; the producer unwinds."""


class _Done:
    pass


_DONE = _Done()


class _Pipe:
    """The file object gzip writes to, in the producer thread."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | _Done | BaseException] = queue.Queue(QUEUE_CHUNKS)
        self.abandoned = threading.Event()
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= CHUNK_BYTES:
            self.put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        """gzip calls this; chunks are only sent when full, or at the end."""

    def finish(self) -> None:
        if self._buffer:
            self.put(bytes(self._buffer))
            self._buffer.clear()
        self.put(_DONE)

    def put(self, item: bytes | _Done | BaseException) -> None:
        while True:
            if self.abandoned.is_set():
                raise _Abandoned
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue


class _ExactReader:
    """Exactly `size` bytes of an open file for tarfile: a file that shrank while being
    archived is padded with zeros (and logged) instead of failing the whole archive; a file
    that grew is cut at the size its header announced."""

    def __init__(self, fd: int, size: int, name: str) -> None:
        self._fd = fd
        self._left = size
        self._name = name
        self._short = False

    def read(self, n: int = -1) -> bytes:
        want = self._left if n < 0 else min(n, self._left)
        data = b""
        if not self._short:
            try:
                data = os.read(self._fd, want)
            except OSError as exc:
                log.warning("archive: %r could not be read (%s); zeros stored", self._name, exc)
                self._short = True
            if len(data) < want and not self._short:
                log.warning("archive: %r shrank while archived; zeros stored", self._name)
                self._short = True
        data += b"\0" * (want - len(data))
        self._left -= len(data)
        return data


def _info(name: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = int(st.st_mtime)
    info.uid = st.st_uid
    info.gid = st.st_gid
    return info


def _add_file(tar: tarfile.TarFile, dir_fd: int, name: str, rel: str) -> None:
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        log.warning("archive: %r skipped (%s)", rel, exc.strerror)
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return  # swapped for something else since it was listed
        os.set_blocking(fd, True)
        info = _info(rel, st, tarfile.REGTYPE)
        info.size = st.st_size
        tar.addfile(info, _ExactReader(fd, st.st_size, rel))
    finally:
        os.close(fd)


def add_tree(tar: tarfile.TarFile, dir_fd: int, prefix: str = "", depth: int = 0) -> None:
    """Add everything under dir_fd, sorted, with names relative to the workspace root."""
    try:
        with os.scandir(dir_fd) as scan:
            items = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        log.warning("archive: folder %r skipped (%s)", prefix or ".", exc.strerror)
        return
    for item in items:
        rel = f"{prefix}{item.name}"
        try:
            st = item.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            _add_file(tar, dir_fd, item.name, rel)
        elif stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(item.name, dir_fd=dir_fd)
            except OSError:
                continue
            info = _info(rel, st, tarfile.SYMTYPE)
            info.linkname = target
            tar.addfile(info)
        elif stat.S_ISDIR(st.st_mode):
            tar.addfile(_info(rel, st, tarfile.DIRTYPE))
            if depth >= MAX_WALK_DEPTH:
                log.warning("archive: %r is nested too deep; its content is skipped", rel)
                continue
            try:
                child = os.open(item.name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                log.warning("archive: folder %r skipped (%s)", rel, exc.strerror)
                continue
            try:
                add_tree(tar, child, rel + "/", depth + 1)
            finally:
                os.close(child)
        # Devices, FIFOs and sockets are not workspace content: skipped.


def write_archive(root_fd: int, sink: _Pipe) -> None:
    """Producer thread body: the whole archive into sink, then _DONE (or the error)."""
    try:
        fd = os.open(".", DIR_FLAGS, dir_fd=root_fd)
        try:
            gz = gzip.GzipFile(filename="", fileobj=sink, mode="wb", compresslevel=COMPRESS_LEVEL)
            # Stream mode ("w|") never seeks, so it can write into a pipe.
            with gz, tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                add_tree(tar, fd)
        finally:
            os.close(fd)
        sink.finish()
    except _Abandoned:
        log.info("archive: the client went away; stopped")
    except BaseException as exc:
        log.exception("archive: failed")
        with contextlib.suppress(_Abandoned):
            sink.put(exc)


async def stream_archive(root_fd: int) -> AsyncIterator[bytes]:
    """The .tar.gz of the workspace, chunk by chunk."""
    sink = _Pipe()
    producer = threading.Thread(
        target=write_archive, args=(root_fd, sink), name="agent-archive", daemon=True
    )
    producer.start()
    try:
        while True:
            item = await anyio.to_thread.run_sync(sink.queue.get)
            if isinstance(item, _Done):
                return
            if isinstance(item, BaseException):
                # Headers are sent already: ending the stream early is the only signal left,
                # and the truncated gzip fails its checksum on the portal's side.
                raise RuntimeError("the archive could not be completed") from item
            yield item
    finally:
        sink.abandoned.set()
