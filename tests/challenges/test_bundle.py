"""Packing is reproducible; unpacking an upload refuses everything unsafe, with a reason."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from prequel.challenges.bundle import BundleRejected, pack, unpack_upload
from prequel.challenges.manifest import load_challenge_dir
from prequel.settings import ChallengeSettings
from tests.challenges.builders import as_bytes, challenge_files, tar_gz, write_challenge, zip_bytes

LIMITS = ChallengeSettings()
GOOD = as_bytes(challenge_files())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rejected(
    data: bytes, filename: str | None, dest: Path, limits: ChallengeSettings = LIMITS
) -> str:
    with pytest.raises(BundleRejected) as caught:
        unpack_upload(data, filename, dest, limits)
    return str(caught.value)


def tar_with(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return raw.getvalue()


def member(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


# pack -------------------------------------------------------------------------------------


def test_pack_is_reproducible(tmp_path: Path) -> None:
    first = write_challenge(tmp_path / "one")
    second = tmp_path / "two"
    shutil.copytree(first, second)
    for path in second.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    (second / "files" / "__pycache__").mkdir()
    (second / "files" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    packed = pack(first)
    assert packed == pack(first)
    assert sha(packed) == sha(pack(second))
    assert gzip.decompress(packed)  # a real gzip stream
    assert packed[4:8] == b"\0\0\0\0"  # gzip mtime is zero

    (second / "files" / "reverse.py").write_text("changed\n")
    assert sha(pack(second)) != sha(packed)


def test_pack_normalizes_entries_and_keeps_the_executable_bit(tmp_path: Path) -> None:
    root = write_challenge(tmp_path)
    script = root / "files" / "run.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o700)
    with tarfile.open(fileobj=io.BytesIO(pack(root)), mode="r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert "files/__pycache__" not in names
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    modes = {m.name: m.mode for m in members}
    assert modes["files/run.sh"] == 0o755 and modes["files/reverse.py"] == 0o644


def test_pack_then_unpack_round_trips(tmp_path: Path) -> None:
    root = write_challenge(tmp_path / "src")
    out = unpack_upload(pack(root), "reverse.tar.gz", tmp_path / "out", LIMITS)
    assert load_challenge_dir(out).manifest.slug == "reverse-string"
    assert sha(pack(out)) == sha(pack(root))


# accepted uploads -------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["c.tar.gz", "c.tgz", "C.TAR.GZ", None])
def test_tar_gz_upload(tmp_path: Path, filename: str | None) -> None:
    root = unpack_upload(tar_gz(GOOD), filename, tmp_path / "out", LIMITS)
    assert root == tmp_path / "out"
    assert load_challenge_dir(root).manifest.title == "Reverse a String"


def test_zip_upload(tmp_path: Path) -> None:
    root = unpack_upload(zip_bytes(GOOD), "c.zip", tmp_path / "out", LIMITS)
    assert load_challenge_dir(root).starter_files == ["files/reverse.py"]


def test_a_single_top_level_folder_is_the_root(tmp_path: Path) -> None:
    entries = {**GOOD, ".DS_Store": b"junk"}
    root = unpack_upload(tar_gz(entries, prefix="reverse-string/"), "c.tgz", tmp_path / "t", LIMITS)
    assert root == tmp_path / "t" / "reverse-string"
    data = _with_macos_junk(zip_bytes(GOOD, prefix="reverse-string/"))
    root = unpack_upload(data, "c.zip", tmp_path / "z", LIMITS)
    assert root == tmp_path / "z" / "reverse-string"
    assert not (tmp_path / "z" / "__MACOSX").exists()
    assert load_challenge_dir(root).manifest.slug == "reverse-string"


def _with_macos_junk(data: bytes) -> bytes:
    """What macOS Finder adds to a zip; it is skipped, not unpacked."""
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("__MACOSX/reverse-string/._README.md", b"apple double")
    return buffer.getvalue()


def test_two_top_level_folders_are_not_guessed(tmp_path: Path) -> None:
    entries = {**{f"a/{k}": v for k, v in GOOD.items()}, "b/notes.txt": b"x"}
    root = unpack_upload(tar_gz(entries), "c.tar.gz", tmp_path / "out", LIMITS)
    assert root == tmp_path / "out"  # validation then reports the missing challenge.toml


# refused uploads --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../evil.py", "files/../../evil.py", "a/../../../etc/cron.d/x"])
def test_zip_slip_in_tar(tmp_path: Path, name: str) -> None:
    message = rejected(tar_gz({**GOOD, name: b"pwned"}), "c.tar.gz", tmp_path / "out")
    assert name in message and "zip-slip" in message
    assert not (tmp_path / "evil.py").exists()


def test_zip_slip_in_zip(tmp_path: Path) -> None:
    message = rejected(zip_bytes({**GOOD, "../../evil.py": b"pwned"}), "c.zip", tmp_path / "o")
    assert "'../../evil.py'" in message and "zip-slip" in message


@pytest.mark.parametrize("name", ["/etc/passwd", "C:/windows/evil.py"])
def test_absolute_paths(tmp_path: Path, name: str) -> None:
    assert "absolute path" in rejected(tar_gz({name: b"x"}), "c.tgz", tmp_path / "t")
    assert "absolute path" in rejected(zip_bytes({name: b"x"}), "c.zip", tmp_path / "z")


def test_backslashes_are_refused(tmp_path: Path) -> None:
    assert "backslashes" in rejected(zip_bytes({"..\\evil.py": b"x"}), "c.zip", tmp_path / "z")


def test_symlinks_and_hard_links_in_tar(tmp_path: Path) -> None:
    symlink = tar_with(member("files/passwd", tarfile.SYMTYPE, link="/etc/passwd"))
    assert "'files/passwd' is a symlink" in rejected(symlink, "c.tgz", tmp_path / "a")
    hardlink = tar_with(member("a.txt", data=b"x"), member("b.txt", tarfile.LNKTYPE, link="a.txt"))
    assert "'b.txt' is a hard link" in rejected(hardlink, "c.tgz", tmp_path / "b")


def test_symlink_in_zip(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("files/passwd")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    assert "is a symlink" in rejected(buffer.getvalue(), "c.zip", tmp_path / "z")


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_device_files(tmp_path: Path, kind: bytes) -> None:
    data = tar_with(member("files/dev", kind))
    assert "device or pipe" in rejected(data, "c.tgz", tmp_path / "d")


def test_too_many_entries(tmp_path: Path) -> None:
    limits = ChallengeSettings(max_files=3)
    entries = {f"files/{i}.txt": b"x" for i in range(5)}
    assert "more than 3 entries" in rejected(tar_gz(entries), "c.tgz", tmp_path / "t", limits)
    assert "the limit is 3" in rejected(zip_bytes(entries), "c.zip", tmp_path / "z", limits)


def test_declared_size_over_the_limit(tmp_path: Path) -> None:
    limits = ChallengeSettings(max_unpacked_bytes=4096)
    entries = {"a.bin": b"a" * 3000, "b.bin": b"b" * 3000}
    assert "more than 4096 bytes" in rejected(tar_gz(entries), "c.tgz", tmp_path / "t", limits)
    assert "more than 4096 bytes" in rejected(zip_bytes(entries), "c.zip", tmp_path / "z", limits)


def test_tar_stream_is_bounded_whatever_the_headers_say(tmp_path: Path) -> None:
    # A PAX header is metadata, not file data: tarfile would read all of it into memory.
    info = tarfile.TarInfo("files/a.txt")
    info.pax_headers = {"comment": "x" * 3_000_000}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))
    limits = ChallengeSettings(max_unpacked_bytes=1024 * 1024, max_files=1)
    assert "unpacks to more than" in rejected(raw.getvalue(), "c.tgz", tmp_path / "t", limits)


def test_zip_with_a_lying_size_header(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("files/big.txt", b"y" * 5000)
    data = bytearray(buffer.getvalue())
    # Claim 10 bytes in the local header (offset 22) and the central directory (offset 24).
    struct.pack_into("<I", data, 22, 10)
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)
    message = rejected(bytes(data), "c.zip", tmp_path / "z", ChallengeSettings())
    assert "corrupt" in message
    written = tmp_path / "z" / "files" / "big.txt"
    assert not written.exists() or written.stat().st_size <= 10


def test_duplicate_entries(tmp_path: Path) -> None:
    data = tar_with(member("a.txt", data=b"1"), member("./a.txt", data=b"2"))
    assert "appears twice" in rejected(data, "c.tgz", tmp_path / "t")


def test_file_and_folder_with_one_name(tmp_path: Path) -> None:
    data = tar_with(member("files", data=b"1"), member("files/a.txt", data=b"2"))
    assert "clashes with a file" in rejected(data, "c.tgz", tmp_path / "t")


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic", "c.tar.gz", "corrupt"),
        (b"PK\x03\x04garbage", "c.zip", "corrupt"),
        (b"just some text", "c.tar.gz", "not a gzip-compressed tar or zip"),
        (b"just some text", None, "not a gzip-compressed tar or zip"),
        (b"Rar!\x1a\x07\x00", "c.rar", "not a .tar.gz, .tgz or .zip"),
        # mtime=0: the same bytes, and so the same test id, in every xdist worker.
        (gzip.compress(b"not a tar archive at all" * 40, mtime=0), "c.tgz", "corrupt"),
    ],
)
def test_corrupt_and_unknown_data(
    tmp_path: Path, data: bytes, filename: str | None, expected: str
) -> None:
    assert expected in rejected(data, filename, tmp_path / "out")


def test_truncated_archives(tmp_path: Path) -> None:
    whole = tar_gz(GOOD)
    assert "truncated" in rejected(whole[: len(whole) // 2], "c.tgz", tmp_path / "t")
    assert "corrupt" in rejected(zip_bytes(GOOD)[:200], "c.zip", tmp_path / "z")


def test_name_and_content_must_agree(tmp_path: Path) -> None:
    assert "holds a zip" in rejected(zip_bytes(GOOD), "c.tar.gz", tmp_path / "out")


def test_empty_archive(tmp_path: Path) -> None:
    assert "holds no files" in rejected(tar_gz({}), "c.tgz", tmp_path / "out")


def test_upload_over_the_bundle_limit(tmp_path: Path) -> None:
    limits = ChallengeSettings(max_bundle_bytes=1024)
    big = tar_gz({"a.bin": os.urandom(4096)})
    assert "larger than 1024 bytes" in rejected(big, "c.tgz", tmp_path / "out", limits)
