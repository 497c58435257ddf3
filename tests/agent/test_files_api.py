"""The file API through the real agent: tree, read, write, create, rename, delete, upload,
download, with optimistic concurrency and size limits."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.agent.conftest import RunningAgent, StartAgent

SMALL_LIMIT = 1000


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


async def test_tree_lists_files_and_folders_recursively(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    (agent.workspace / "src" / "lib").mkdir(parents=True)
    (agent.workspace / "src" / "lib" / "util.py").write_text("x = 1\n")
    (agent.workspace / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(agent.workspace / "run.sh", 0o755)  # noqa: S103
    response = await client.get("/files")
    assert response.status_code == 200
    body = response.json()
    assert body["path"] == "" and body["truncated"] is False
    paths = [e["path"] for e in body["entries"]]
    assert paths == ["rate_limiter.py", "run.sh", "src", "src/lib", "src/lib/util.py"]
    entries = {e["path"]: e for e in body["entries"]}
    assert entries["src"]["type"] == "dir"
    util = entries["src/lib/util.py"]
    assert util["type"] == "file" and util["size"] == 6
    assert util["version"] == version_of(b"x = 1\n")
    assert entries["run.sh"]["executable"] is True
    assert isinstance(util["mtime"], float)

    sub = (await client.get("/files", params={"path": "src"})).json()
    assert [e["path"] for e in sub["entries"]] == ["src/lib", "src/lib/util.py"]
    cheap = (await client.get("/files", params={"versions": "false"})).json()
    assert all("version" not in e or e["version"] is None for e in cheap["entries"])
    missing = await client.get("/files", params={"path": "nope"})
    assert missing.status_code == 404


async def test_tree_is_truncated_at_the_entry_limit(start_agent: StartAgent) -> None:
    running = start_agent(extra_args=["--max-tree-entries", "3"])
    for i in range(5):
        (running.workspace / f"f{i}.txt").write_text(str(i))
    async with running.client() as c:
        body = (await c.get("/files")).json()
    assert len(body["entries"]) == 3 and body["truncated"] is True


async def test_read_text_and_binary(agent: RunningAgent, client: httpx.AsyncClient) -> None:
    text = "héllo\n"
    (agent.workspace / "t.txt").write_text(text, encoding="utf-8")
    response = await client.get("/files/t.txt")
    body = response.json()
    assert body["encoding"] == "utf-8" and body["content"] == text
    assert body["version"] == version_of(text.encode())
    assert body["size"] == len(text.encode())
    assert response.headers["etag"] == f'"{body["version"]}"'

    blob = bytes(range(256))
    (agent.workspace / "b.bin").write_bytes(blob)
    body = (await client.get("/files/b.bin")).json()
    assert body["encoding"] == "base64"
    assert base64.b64decode(body["content"]) == blob
    # Valid UTF-8 with a NUL byte is binary too.
    (agent.workspace / "nul.txt").write_bytes(b"abc\x00def")
    assert (await client.get("/files/nul.txt")).json()["encoding"] == "base64"


async def test_reading_a_folder_or_a_missing_file(client: httpx.AsyncClient) -> None:
    await client.post("/files/dir", json={"type": "dir"})
    folder = await client.get("/files/dir")
    assert folder.status_code == 422 and folder.json()["error"]["code"] == "is_a_directory"
    missing = await client.get("/files/missing.py")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    under_file = await client.get("/files/rate_limiter.py/x")
    assert under_file.status_code == 422
    assert under_file.json()["error"]["code"] == "not_a_directory"


async def test_write_with_the_current_version_replaces(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    path = agent.workspace / "rate_limiter.py"
    os.chmod(path, 0o750)  # noqa: S103
    current = (await client.get("/files/rate_limiter.py")).json()["version"]
    response = await client.put(
        "/files/rate_limiter.py", json={"content": "new\n", "version": current}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == version_of(b"new\n") and body["created"] is False
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o750, "the mode is kept"
    # If-Match works the same way.
    again = await client.put(
        "/files/rate_limiter.py",
        json={"content": "newer\n"},
        headers={"If-Match": f'"{body["version"]}"'},
    )
    assert again.status_code == 200, again.text
    assert path.read_text() == "newer\n"
    assert not [p for p in agent.workspace.iterdir() if p.name.startswith(".prequel-")]


async def test_a_stale_write_is_refused_and_changes_nothing(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    path = agent.workspace / "rate_limiter.py"
    seen = (await client.get("/files/rate_limiter.py")).json()["version"]
    path.write_text("changed in the terminal\n")  # someone else's change
    response = await client.put(
        "/files/rate_limiter.py", json={"content": "stale edit\n", "version": seen}
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "version_conflict"
    assert error["details"]["current_version"] == version_of(b"changed in the terminal\n")
    assert path.read_text() == "changed in the terminal\n"

    gone = await client.put("/files/deleted.py", json={"content": "x", "version": seen})
    assert gone.status_code == 409
    assert gone.json()["error"]["details"]["current_version"] is None
    assert not (agent.workspace / "deleted.py").exists()
    folder_gone = await client.put("/files/gone/x.py", json={"content": "x", "version": seen})
    assert folder_gone.status_code == 409
    assert not (agent.workspace / "gone").exists(), "a conditional write recreates nothing"


async def test_write_without_a_version_only_creates(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    created = await client.put("/files/pkg/new.py", json={"content": "a = 1\n"})
    assert created.status_code == 201, created.text
    assert created.json()["created"] is True
    assert (agent.workspace / "pkg" / "new.py").read_text() == "a = 1\n"
    again = await client.put("/files/pkg/new.py", json={"content": "overwrite?\n"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "exists"
    assert again.json()["error"]["details"]["current_version"] == version_of(b"a = 1\n")
    assert (agent.workspace / "pkg" / "new.py").read_text() == "a = 1\n"


async def test_write_binary_and_bad_bodies(agent: RunningAgent, client: httpx.AsyncClient) -> None:
    blob = b"\x89PNG\x00\xff"
    response = await client.put(
        "/files/img.png",
        json={"content": base64.b64encode(blob).decode(), "encoding": "base64"},
    )
    assert response.status_code == 201
    assert (agent.workspace / "img.png").read_bytes() == blob
    cases = [
        (b"not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (b'{"content": 5}', 422, "invalid_input"),
        (b"{}", 422, "invalid_input"),
        (b'{"content": "x", "encoding": "latin-1"}', 422, "invalid_input"),
        (b'{"content": "!!!", "encoding": "base64"}', 422, "invalid_input"),
        (b'{"content": "\\ud800"}', 422, "invalid_input"),
    ]
    for raw, status, code in cases:
        bad = await client.put(
            "/files/x.txt", content=raw, headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == status, (raw, bad.text)
        assert bad.json()["error"]["code"] == code
    conflicting = await client.put(
        "/files/x.txt", json={"content": "x", "version": "a" * 32}, headers={"If-Match": "b"}
    )
    assert conflicting.status_code == 422


async def test_size_limits(start_agent: StartAgent) -> None:
    running = start_agent(
        extra_args=["--max-file-bytes", str(SMALL_LIMIT), "--max-upload-bytes", "5000"]
    )
    (running.workspace / "big.txt").write_text("x" * (SMALL_LIMIT + 1))
    async with running.client() as c:
        read = await c.get("/files/big.txt")
        assert read.status_code == 413
        assert "/download/big.txt" in read.json()["error"]["message"]
        write = await c.put("/files/new.txt", json={"content": "y" * (SMALL_LIMIT + 1)})
        assert write.status_code == 413 and write.json()["error"]["code"] == "too_large"
        huge_body = await c.put("/files/new.txt", json={"content": "y" * (SMALL_LIMIT * 4)})
        assert huge_body.status_code == 413
        ok = await c.put("/files/new.txt", json={"content": "y" * SMALL_LIMIT})
        assert ok.status_code == 201
        upload = await c.post("/upload/up.bin", content=b"z" * 5001)
        assert upload.status_code == 413
        assert upload.json()["error"]["code"] == "too_large"

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(6):
                yield b"z" * 1000

        streamed = await c.post("/upload/up.bin", content=chunked())  # no Content-Length
        assert streamed.status_code == 413
        fits = await c.post("/upload/up.bin", content=b"z" * 5000)
        assert fits.status_code == 201
        download = await c.get("/download/big.txt")
        assert download.status_code == 200 and len(download.content) == SMALL_LIMIT + 1
    assert (running.workspace / "new.txt").read_text() == "y" * SMALL_LIMIT
    assert (running.workspace / "up.bin").stat().st_size == 5000
    assert not [p for p in running.workspace.iterdir() if p.name.startswith(".prequel-")]


async def test_create_files_and_folders(agent: RunningAgent, client: httpx.AsyncClient) -> None:
    folder = await client.post("/files/a/b", json={"type": "dir"})
    assert folder.status_code == 201 and folder.json()["type"] == "dir"
    assert (agent.workspace / "a" / "b").is_dir()
    empty = await client.post("/files/a/b/empty.py")
    assert empty.status_code == 201 and empty.json()["size"] == 0
    exists = await client.post("/files/a/b", json={"type": "dir"})
    assert exists.status_code == 409 and exists.json()["error"]["code"] == "exists"
    file_exists = await client.post("/files/a/b/empty.py", json={"content": "x"})
    assert file_exists.status_code == 409
    bad_type = await client.post("/files/c", json={"type": "socket"})
    assert bad_type.status_code == 422


async def test_rename(agent: RunningAgent, client: httpx.AsyncClient) -> None:
    await client.put("/files/one.py", json={"content": "1"})
    await client.put("/files/two.py", json={"content": "2"})
    moved = await client.post("/rename", json={"from": "one.py", "to": "lib/uno.py"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == "lib/uno.py" and moved.json()["from"] == "one.py"
    assert moved.json()["version"] == version_of(b"1")
    assert (agent.workspace / "lib" / "uno.py").read_text() == "1"
    blocked = await client.post("/rename", json={"from": "lib/uno.py", "to": "two.py"})
    assert blocked.status_code == 409 and blocked.json()["error"]["code"] == "exists"
    assert (agent.workspace / "two.py").read_text() == "2"
    replaced = await client.post(
        "/rename", json={"from": "lib/uno.py", "to": "two.py", "overwrite": True}
    )
    assert replaced.status_code == 200
    assert (agent.workspace / "two.py").read_text() == "1"
    into_itself = await client.post("/rename", json={"from": "lib", "to": "lib/inner/lib"})
    assert into_itself.status_code == 400 and into_itself.json()["error"]["code"] == "invalid_move"
    missing = await client.post("/rename", json={"from": "nope", "to": "x"})
    assert missing.status_code == 404
    folder = await client.post("/rename", json={"from": "lib", "to": "library"})
    assert folder.status_code == 200 and folder.json()["type"] == "dir"
    dir_over_file = await client.post(
        "/rename", json={"from": "library", "to": "two.py", "overwrite": True}
    )
    assert dir_over_file.status_code == 409


async def test_delete(agent: RunningAgent, client: httpx.AsyncClient, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (agent.workspace / "tree" / "sub").mkdir(parents=True)
    (agent.workspace / "tree" / "sub" / "f.txt").write_text("f")
    (agent.workspace / "tree" / "escape").symlink_to(outside)
    deleted = await client.delete("/files/tree")
    assert deleted.status_code == 200
    assert deleted.json() == {"path": "tree", "type": "dir", "deleted": True}
    assert not (agent.workspace / "tree").exists()
    assert (outside / "keep.txt").read_text() == "keep", "links inside are removed, not followed"
    file = await client.delete("/files/rate_limiter.py")
    assert file.status_code == 200 and file.json()["type"] == "file"
    again = await client.delete("/files/rate_limiter.py")
    assert again.status_code == 404


async def test_upload_raw_and_multipart(agent: RunningAgent, client: httpx.AsyncClient) -> None:
    data = os.urandom(300_000)
    raw = await client.post("/upload/data/raw.bin", content=data)
    assert raw.status_code == 201, raw.text
    assert raw.json()["version"] == version_of(data) and raw.json()["size"] == len(data)
    assert (agent.workspace / "data" / "raw.bin").read_bytes() == data

    form = await client.post("/upload/data/form.bin", files={"file": ("x.bin", data[:1000])})
    assert form.status_code == 201, form.text
    assert (agent.workspace / "data" / "form.bin").read_bytes() == data[:1000]

    exists = await client.post("/upload/data/raw.bin", content=b"new")
    assert exists.status_code == 409 and exists.json()["error"]["code"] == "exists"
    stale = await client.post("/upload/data/raw.bin?version=" + "0" * 32, content=b"new")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    assert (agent.workspace / "data" / "raw.bin").read_bytes() == data
    matching = await client.post(
        "/upload/data/raw.bin", content=b"new", headers={"If-Match": version_of(data)}
    )
    assert matching.status_code == 200
    forced = await client.post("/upload/data/raw.bin?overwrite=true", content=b"newest")
    assert forced.status_code == 200 and forced.json()["created"] is False
    assert (agent.workspace / "data" / "raw.bin").read_bytes() == b"newest"
    no_file = await client.post(
        "/upload/data/none.bin",
        content=(
            b'--XyZ\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n--XyZ--\r\n'
        ),
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert no_file.status_code == 422
    onto_folder = await client.post("/upload/data?overwrite=true", content=b"x")
    assert onto_folder.status_code == 422
    assert not [p for p in (agent.workspace / "data").iterdir() if p.name.startswith(".prequel")]


async def test_download(agent: RunningAgent, client: httpx.AsyncClient) -> None:
    data = os.urandom(700_000)
    (agent.workspace / "résumé.pdf").write_bytes(data)
    response = await client.get("/download/résumé.pdf")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(data))
    disposition = response.headers["content-disposition"]
    assert (
        disposition.startswith("attachment;")
        and "filename*=UTF-8''r%C3%A9sum%C3%A9.pdf" in disposition
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    text = await client.get("/download/rate_limiter.py")
    assert text.headers["content-type"].startswith("text/x-python")
    head = await client.head("/download/rate_limiter.py")
    assert head.status_code == 200
    missing = await client.get("/download/missing.bin")
    assert missing.status_code == 404


async def test_health_and_meta(agent: RunningAgent, client: httpx.AsyncClient) -> None:
    health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    # The sandbox self-test runs beside start-up; it lands in /health within a moment.
    for _ in range(100):
        if health["sandbox"] is not None:
            break
        await asyncio.sleep(0.05)
        health = (await client.get("/health")).json()
    assert health["sandbox"]["safe"] is True, health["sandbox"]
    assert {check["name"] for check in health["sandbox"]["checks"]} >= {"bubblewrap"}
    assert health["checks"]["workspace_writable"] is True
    meta = (await client.get("/meta")).json()
    assert meta["challenge"] == {
        "slug": "rate-limiter",
        "title": "Sliding-Window Rate Limiter",
        "version": "7",
        "language": "python",
        "test_format": "junit",
        "limits": {},
    }
    size = (agent.workspace / "rate_limiter.py").stat().st_size
    assert meta["workspace"] == {
        "files": 1,
        "dirs": 0,
        "symlinks": 0,
        "bytes": size,
        "truncated": False,
    }
    assert meta["limits"]["max_file_bytes"] > 0


async def test_meta_without_a_challenge(start_agent: StartAgent) -> None:
    running = start_agent(challenge=False)
    async with running.client() as c:
        assert (await c.get("/meta")).json()["challenge"] is None


@pytest.mark.parametrize("name", ["ünïcode.py", "with space.py", "..dots..py"])
async def test_unusual_but_valid_names_round_trip(
    agent: RunningAgent, client: httpx.AsyncClient, name: str
) -> None:
    created = await client.put(f"/files/{name}", json={"content": "ok"})
    assert created.status_code == 201, created.text
    assert (agent.workspace / name).read_text() == "ok"
    assert (await client.get(f"/files/{name}")).json()["content"] == "ok"


async def test_a_name_that_is_not_utf8_is_listed_safely(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    (agent.workspace / os.fsdecode(b"bad-\xff.txt")).write_bytes(b"x")
    response = await client.get("/files")
    assert response.status_code == 200
    bad = [e for e in response.json()["entries"] if e.get("invalid_name")]
    assert [e["path"] for e in bad] == ["bad-\ufffd.txt"]
