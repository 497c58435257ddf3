"""A restarted agent brings the document back from its log and checkpoints, and clients that
kept their old copy neither duplicate nor lose anything."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from pycrdt import Doc, Map, Text

from tests.agent.collab.conftest import StartCollab, read_file
from tests.agent.collab.yclient import raw_connect, wait_for, yconnect
from tests.agent.conftest import RunningAgent

FILE = "rate_limiter.py"


def _contents(doc: Doc[Any]) -> dict[str, str]:
    files = doc.get("files", type=Map)
    return {key: str(value) for key, value in files.items() if isinstance(value, Text)}


async def test_restart_restores_the_document_and_old_clients_do_not_duplicate(
    start_collab: StartCollab, state_dir: Path
) -> None:
    first = start_collab()
    workspace = first.workspace
    async with yconnect(first.socket_path, first.token) as alice:
        for i in range(30):
            alice.insert(FILE, 0, f"# line {i}\n")
        alice.files["extra.py"] = Text("print('extra')\n")
        await wait_for(lambda: read_file(first, FILE) == alice.text(FILE), what="flush")
        epoch = alice.notice("hello")["epoch"]  # type: ignore[index]
        before = _contents(alice.doc)
        kept: Doc[Any] = Doc()  # alice's copy, as a browser tab keeps it across a restart
        kept.apply_update(alice.doc.get_update())
    assert first.stop() == 0

    second = start_collab(workspace=workspace, challenge=False)
    async with yconnect(second.socket_path, second.token) as fresh:
        assert fresh.notice("hello")["epoch"] == epoch  # type: ignore[index]
        assert _contents(fresh.doc) == before
        # The same document, not a copy re-seeded from the files: the old client's state
        # merges without duplicating a single line.
        async with yconnect(second.socket_path, second.token, doc=kept) as returning:
            returning.insert(FILE, 0, "# after restart\n")
            await wait_for(lambda: (fresh.text(FILE) or "").startswith("# after restart\n"))
            assert returning.text(FILE) == fresh.text(FILE)
        text = fresh.text(FILE) or ""
        assert text.count("# line 7\n") == 1
        assert text == "# after restart\n" + before[FILE]
        await wait_for(lambda: read_file(second, FILE) == text, what="flush after restart")
    assert _checkpoints(state_dir)


def _checkpoints(state_dir: Path) -> list[Path]:
    return list(state_dir.glob("doc/checkpoint-*.bin"))


async def test_edits_not_yet_on_disk_survive_a_crash(start_collab: StartCollab) -> None:
    first = start_collab(limits={"flush_seconds": 0.9})
    workspace = first.workspace
    async with (
        yconnect(first.socket_path, first.token) as alice,
        yconnect(first.socket_path, first.token) as bob,
    ):
        alice.insert(FILE, 0, "# typed just before the crash\n")
        # Once bob has it, the agent has applied it, and so appended it to its log.
        await wait_for(lambda: (bob.text(FILE) or "").startswith("# typed just before"))
        first.stop(signal.SIGKILL)
    assert not read_file(first, FILE).startswith("# typed just before")

    second = start_collab(workspace=workspace, challenge=False)
    async with yconnect(second.socket_path, second.token) as again:
        assert (again.text(FILE) or "").startswith("# typed just before the crash\n")
        await wait_for(lambda: read_file(second, FILE) == again.text(FILE), what="written")


async def test_a_client_from_a_previous_document_is_told_to_start_over(
    collab: RunningAgent,
) -> None:
    async with raw_connect(
        collab.socket_path, "/collab/doc?epoch=0123456789abcdef", collab.token
    ) as ws:
        async with asyncio.timeout(5):
            await ws.wait_closed()
        assert ws.close_code == 4409
