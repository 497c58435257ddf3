"""GET /archive: a streamed .tar.gz of the workspace, links stored as links."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import httpx

from tests.agent.conftest import RunningAgent


async def _archive(client: httpx.AsyncClient) -> tuple[httpx.Response, tarfile.TarFile]:
    response = await client.get("/archive")
    assert response.status_code == 200, response.text
    return response, tarfile.open(fileobj=io.BytesIO(response.content), mode="r:gz")


async def test_archive_holds_every_file_and_links_as_links(
    agent: RunningAgent, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    ws = agent.workspace
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not in the archive")
    (ws / "src" / "deep").mkdir(parents=True)
    (ws / "src" / "deep" / "a.py").write_text("a = 1\n")
    (ws / "data.bin").write_bytes(os.urandom(50_000))
    (ws / "empty").mkdir()
    (ws / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(ws / "run.sh", 0o755)  # noqa: S103
    (ws / "to-shadow").symlink_to("/etc/shadow")
    (ws / "to-outside").symlink_to(outside)
    (ws / "relative").symlink_to("src/deep/a.py")
    os.mkfifo(ws / "fifo")

    response, tar = await _archive(client)
    assert response.headers["content-type"] == "application/gzip"
    assert "content-length" not in response.headers
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="workspace-rate-limiter-'
    )
    with tar:
        members = {m.name: m for m in tar.getmembers()}
        expected_files = {
            str(p.relative_to(ws)) for p in ws.rglob("*") if p.is_file() and not p.is_symlink()
        }
        files = {name for name, m in members.items() if m.isfile()}
        assert files == expected_files
        for name in files:
            extracted = tar.extractfile(members[name])
            assert extracted is not None
            assert extracted.read() == (ws / name).read_bytes(), name
        assert members["to-shadow"].issym() and members["to-shadow"].linkname == "/etc/shadow"
        assert members["to-outside"].issym()
        assert members["to-outside"].linkname == str(outside)
        assert members["relative"].issym() and members["relative"].linkname == "src/deep/a.py"
        assert members["empty"].isdir() and members["src/deep"].isdir()
        assert members["run.sh"].mode == 0o755
        assert "fifo" not in members
        assert not any(n.startswith(("/", "..")) or "/../" in n for n in members)
        assert not any(n.startswith("to-outside/") for n in members)
        assert all(m.isfile() or m.isdir() or m.issym() for m in members.values())


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def test_archive_streams_without_buffering_the_workspace(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    size = 48 * 1024 * 1024
    with (agent.workspace / "big.bin").open("wb") as f:
        for _ in range(size // (1024 * 1024)):
            f.write(os.urandom(1024 * 1024))  # incompressible: gzip cannot hide buffering
    before = _peak_rss_kib(agent.pid)
    received = 0
    chunks = 0
    async with client.stream("GET", "/archive") as response:
        assert response.status_code == 200
        async for chunk in response.aiter_raw():
            received += len(chunk)
            chunks += 1
    assert received > size
    assert chunks > 10
    growth_mib = (_peak_rss_kib(agent.pid) - before) / 1024
    assert growth_mib < 24, f"the agent's peak memory grew by {growth_mib:.0f} MiB"


async def test_a_client_that_leaves_mid_archive_does_not_hurt_the_agent(
    agent: RunningAgent, client: httpx.AsyncClient
) -> None:
    with (agent.workspace / "big.bin").open("wb") as f:
        for _ in range(16):
            f.write(os.urandom(1024 * 1024))
    async with client.stream("GET", "/archive") as response:
        async for _chunk in response.aiter_raw():
            break  # leave after the first chunk
    assert (await client.get("/health")).status_code == 200
    _response, tar = await _archive(client)
    with tar:
        assert "big.bin" in tar.getnames()
