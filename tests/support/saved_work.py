"""Real .tar.gz archives of saved work for tests, including hostile ones, and a way to attach
one to an interview the way the destroy job does."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview
from prequel.storage.base import BlobStore


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    target: str = ""


def file(name: str, data: bytes | str) -> Member:
    return Member(name, data.encode() if isinstance(data, str) else data)


def folder(name: str) -> Member:
    return Member(name, kind=tarfile.DIRTYPE)


def symlink(name: str, target: str) -> Member:
    return Member(name, kind=tarfile.SYMTYPE, target=target)


def hardlink(name: str, target: str) -> Member:
    return Member(name, kind=tarfile.LNKTYPE, target=target)


def device(name: str) -> Member:
    return Member(name, kind=tarfile.CHRTYPE)


def tar_gz(*members: Member) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.type = member.kind
            info.mtime = 1_900_000_000
            info.mode = 0o755 if member.kind == tarfile.DIRTYPE else 0o644
            if member.kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = member.target
            if member.kind == tarfile.REGTYPE:
                info.size = len(member.data)
                tar.addfile(info, io.BytesIO(member.data))
            else:
                tar.addfile(info)
    return out.getvalue()


SAMPLE = (
    folder("src"),
    file("src/limiter.py", "def allow(key):\n    return True\n"),
    file("src/helpers/util.py", "X = 1\n"),
    file("README.md", "# Notes\n\nsliding window\n"),
    file("data.bin", b"\x00\x01\x02binary"),
    symlink("link-out", "/etc/passwd"),
)


async def attach_archive(
    db: AsyncSession, blobs: BlobStore, interview: Interview, archive: bytes
) -> str:
    """Store the archive where the destroy job does and record it on the interview."""
    key = f"history/{interview.id}/workspace.tar.gz"
    await blobs.put(key, archive)
    interview.history_key, interview.history_size = key, len(archive)
    await db.commit()
    return key
