"""Reading saved work straight out of real .tar.gz blobs: listing, text, limits, and
archives built to escape (absolute names, '..', links, devices)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from prequel.interviews import archive_files
from prequel.interviews.archive_files import (
    ArchiveMissing,
    ArchiveUnreadable,
    BinaryFile,
    EntryNotFound,
    FileTooLarge,
    InvalidPath,
    NotAFile,
    build_tree,
    list_saved,
    looks_binary,
    read_saved,
    requested_path,
    safe_path,
)
from prequel.storage.local import LocalBlobStore
from tests.support.saved_work import (
    SAMPLE,
    device,
    file,
    folder,
    hardlink,
    symlink,
    tar_gz,
)

KEY = "history/abc/workspace.tar.gz"


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    root = tmp_path / "blobs"
    root.mkdir()
    return LocalBlobStore(root)


async def test_lists_every_entry_sorted_with_kinds_and_sizes(store: LocalBlobStore) -> None:
    await store.put(KEY, tar_gz(*SAMPLE))
    listing = await list_saved(store, KEY)
    assert [(e.path, e.kind, e.size) for e in listing.entries] == [
        ("README.md", "file", 24),
        ("data.bin", "file", 9),
        ("link-out", "symlink", 0),
        ("src", "dir", 0),
        ("src/helpers/util.py", "file", 6),
        ("src/limiter.py", "file", 32),
    ]
    assert listing.entries[2].target == "/etc/passwd"
    assert listing.file_count == 4 and listing.total_bytes == 71
    assert not listing.truncated and listing.skipped == 0
    assert listing.entries[0].modified_at is not None
    assert listing.entries[0].modified_at.year == 2030


async def test_reads_a_text_file(store: LocalBlobStore) -> None:
    await store.put(KEY, tar_gz(*SAMPLE))
    text = await read_saved(store, KEY, "src/limiter.py")
    assert text.text == "def allow(key):\n    return True\n"
    assert (text.path, text.size, text.line_count) == ("src/limiter.py", 32, 2)
    # The same path written differently finds the same file.
    assert (await read_saved(store, KEY, "./src//limiter.py")).text == text.text


async def test_folders_links_and_missing_paths_are_not_files(store: LocalBlobStore) -> None:
    await store.put(KEY, tar_gz(*SAMPLE))
    with pytest.raises(NotAFile, match="folder"):
        await read_saved(store, KEY, "src")
    with pytest.raises(NotAFile, match="never followed"):
        await read_saved(store, KEY, "link-out")
    with pytest.raises(EntryNotFound, match=r"no nope\.txt"):
        await read_saved(store, KEY, "nope.txt")
    # Folders that only exist through their files are still not files.
    with pytest.raises(EntryNotFound):
        await read_saved(store, KEY, "src/helpers")


async def test_binary_files_are_refused_with_their_size(store: LocalBlobStore) -> None:
    await store.put(KEY, tar_gz(*SAMPLE, file("latin1.txt", "café".encode("latin-1"))))
    with pytest.raises(BinaryFile, match="binary") as nul:
        await read_saved(store, KEY, "data.bin")
    assert nul.value.size == 9
    with pytest.raises(BinaryFile):
        await read_saved(store, KEY, "latin1.txt")


def test_binary_detection() -> None:
    assert not looks_binary(b"")
    assert not looks_binary("naïve café ✓\n".encode())
    assert looks_binary(b"text\x00more")
    assert looks_binary(b"\xff\xfe\xfd")
    assert looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00")


async def test_files_over_the_cap_are_refused_unread(store: LocalBlobStore, tmp_path: Path) -> None:
    big = "x" * (archive_files.MAX_VIEW_BYTES + 1)
    exact = "y" * archive_files.MAX_VIEW_BYTES
    await store.put(KEY, tar_gz(file("big.txt", big), file("exact.txt", exact)))
    with pytest.raises(FileTooLarge, match="download") as refused:
        await read_saved(store, KEY, "big.txt")
    assert (refused.value.size, refused.value.limit) == (len(big), archive_files.MAX_VIEW_BYTES)
    assert len((await read_saved(store, KEY, "exact.txt")).text) == len(exact)

    local = tmp_path / "a.tar.gz"
    local.write_bytes(tar_gz(file("small.txt", "12345")))
    with pytest.raises(FileTooLarge):
        archive_files.read_text(local, "small.txt", max_bytes=4)


def _tree(root: Path) -> list[str]:
    return sorted(p.as_posix() for p in root.rglob("*"))


async def test_hostile_names_never_escape(store: LocalBlobStore, tmp_path: Path) -> None:
    archive = tar_gz(
        file("../escape.txt", "outside"),
        file("/etc/cron.d/evil", "absolute"),
        file("a/../../up.txt", "climbs"),
        file("./fine.txt", "fine"),
        file("ok/../ok.txt", "dots inside"),
        file("tab\there", "control character"),
        symlink("etc", "/etc"),
        file("etc/passwd", "through the link?"),
        hardlink("hard", "/etc/shadow"),
        device("null"),
    )
    await store.put(KEY, archive)
    before = _tree(tmp_path)

    listing = await list_saved(store, KEY)
    paths = {e.path: e.kind for e in listing.entries}
    # "etc/passwd" is a plain member named that way: listed as a file, never read via "etc".
    assert paths == {
        "fine.txt": "file",
        "etc": "symlink",
        "etc/passwd": "file",
        "hard": "hardlink",
    }
    assert listing.skipped == 6
    assert (await read_saved(store, KEY, "fine.txt")).text == "fine"
    assert (await read_saved(store, KEY, "etc/passwd")).text == "through the link?"
    with pytest.raises(NotAFile, match="/etc/shadow"):
        await read_saved(store, KEY, "hard")
    for bad in ("../escape.txt", "/etc/cron.d/evil", "a/../../up.txt", "ok/../ok.txt", ""):
        with pytest.raises(InvalidPath):
            await read_saved(store, KEY, bad)
    with pytest.raises(EntryNotFound):
        await read_saved(store, KEY, "escape.txt")
    # Nothing was written anywhere: the archive is read as a stream, never extracted.
    assert _tree(tmp_path) == before


def test_safe_path_rules() -> None:
    assert safe_path("a/b.py") == "a/b.py"
    assert safe_path("./a//b.py/") == "a/b.py"
    for bad in ("", "/abs", "..", "../x", "a/../b", "a/..", "nul\x00", "new\nline", "x" * 5000):
        assert safe_path(bad) is None, bad
    with pytest.raises(InvalidPath, match=r"without '\.\.'"):
        requested_path("../../etc/passwd")


async def test_a_later_member_of_the_same_name_wins(store: LocalBlobStore) -> None:
    await store.put(KEY, tar_gz(file("a.txt", "first"), file("a.txt", "second")))
    listing = await list_saved(store, KEY)
    assert [(e.path, e.size) for e in listing.entries] == [("a.txt", 6)]
    assert (await read_saved(store, KEY, "a.txt")).text == "second"


async def test_listing_stops_at_the_entry_cap(tmp_path: Path) -> None:
    local = tmp_path / "many.tar.gz"
    local.write_bytes(tar_gz(*(file(f"f{i:03d}.txt", "x") for i in range(30))))
    listing = archive_files.list_entries(local, max_entries=10)
    assert len(listing.entries) == 10 and listing.truncated


async def test_missing_damaged_and_inflating_archives(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ArchiveMissing, match="missing from the blob store"):
        await list_saved(store, KEY)

    whole = tar_gz(*SAMPLE)
    await store.put(KEY, whole[: len(whole) // 2])
    with pytest.raises(ArchiveUnreadable, match="damaged"):
        await list_saved(store, KEY)
    await store.put(KEY, b"not gzip at all")
    with pytest.raises(ArchiveUnreadable):
        await read_saved(store, KEY, "README.md")

    # 20 MB of zeros packs into a few kB; the unpacked budget stops the scan.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("zeros")
        info.size = 20_000_000
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    bomb = gzip.compress(raw.getvalue())
    assert len(bomb) < 100_000
    await store.put(KEY, bomb)
    monkeypatch.setattr(archive_files, "MAX_SCAN_BYTES", 1_000_000)
    with pytest.raises(ArchiveUnreadable, match="unpacks to more than"):
        await list_saved(store, KEY)


def test_tree_groups_files_under_their_folders() -> None:
    local_entries = [
        archive_files.ArchiveEntry("b.txt", "file", 1, None),
        archive_files.ArchiveEntry("src", "dir", 0, None),
        archive_files.ArchiveEntry("src/z.py", "file", 1, None),
        archive_files.ArchiveEntry("src/a/deep.py", "file", 1, None),
        archive_files.ArchiveEntry("A.md", "file", 1, None),
    ]
    tree = build_tree(local_entries)
    assert [(n.name, n.is_dir) for n in tree] == [("src", True), ("A.md", False), ("b.txt", False)]
    src = tree[0]
    assert [(n.name, n.path, n.is_dir) for n in src.children] == [
        ("a", "src/a", True),
        ("z.py", "src/z.py", False),
    ]
    assert [n.path for n in src.children[0].children] == ["src/a/deep.py"]


def test_folder_member_helper_is_a_directory() -> None:
    # Guard for the test helper itself: folders are real directory members.
    local = io.BytesIO(tar_gz(folder("d")))
    with tarfile.open(fileobj=local, mode="r:gz") as tar:
        assert tar.getmembers()[0].isdir()


async def test_every_text_file_in_one_pass_within_limits(store: LocalBlobStore) -> None:
    await store.put(
        KEY,
        tar_gz(
            *SAMPLE,
            file("latin1.txt", "café".encode("latin-1")),
            file("src/limiter.py", b"def allow(key):\n    return False\n"),  # replaces
        ),
    )
    saved = await archive_files.read_saved_texts(store, KEY)
    assert [(t.path, t.text) for t in saved.files] == [
        ("README.md", "# Notes\n\nsliding window\n"),
        ("src/helpers/util.py", "X = 1\n"),
        ("src/limiter.py", "def allow(key):\n    return False\n"),
    ]
    assert saved.left_out == 2  # data.bin and latin1.txt are not text
    limited = await archive_files.read_saved_texts(store, KEY, max_files=1)
    assert [t.path for t in limited.files] == ["README.md"] and limited.left_out == 4
