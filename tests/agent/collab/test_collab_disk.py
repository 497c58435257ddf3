"""Disk to document: changes made outside the editor arrive as minimal diffs; files come,
go and move."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tarfile
from typing import Any

import pytest
from pycrdt import Assoc, StickyIndex, Text, TextEvent

from prequel.agent.collab.settings import STATE_DIR_ENV
from tests.agent.collab.conftest import StartCollab, read_file, write_file
from tests.agent.collab.yclient import wait_for, yconnect
from tests.agent.conftest import RunningAgent, fresh_uid, short_tempdir
from tests.agent.wsclient import connect, receive, send

FILE = "rate_limiter.py"
OLD_LINE = "        self.limit = limit\n"
NEW_LINE = "        self.limit = int(limit)  # from the terminal\n"
SED_LINE = "self.limit = int(limit)"


def _record_deltas(text: Text) -> list[list[dict[str, Any]]]:
    deltas: list[list[dict[str, Any]]] = []

    def on_change(event: TextEvent) -> None:
        deltas.append(list(getattr(event, "delta", [])))

    text.observe(on_change)
    return deltas


async def test_a_disk_change_is_a_minimal_diff_and_a_concurrent_edit_survives(
    collab: RunningAgent,
) -> None:
    async with (
        yconnect(collab.socket_path, collab.token) as alice,
        yconnect(collab.socket_path, collab.token) as bob,
    ):
        alice.insert(FILE, 0, "# first\n")
        await wait_for(lambda: read_file(collab, FILE).startswith("# first\n"), what="flush")
        await wait_for(lambda: (bob.text(FILE) or "").startswith("# first\n"))
        ytext = bob.ytext(FILE)
        anchor_at = (bob.text(FILE) or "").index("class SlidingWindowRateLimiter")
        anchor = StickyIndex.new(ytext, anchor_at, Assoc.AFTER)
        deltas = _record_deltas(ytext)

        # Alice types at the top while "the terminal" rewrites one line further down.
        alice.insert(FILE, 0, "# concurrent\n")
        on_disk = read_file(collab, FILE)
        assert OLD_LINE in on_disk and "# concurrent" not in on_disk
        write_file(collab, FILE, on_disk.replace(OLD_LINE, NEW_LINE))

        def merged(text: str | None) -> bool:
            return (
                text is not None
                and text.startswith("# concurrent\n# first\n")
                and (NEW_LINE in text and OLD_LINE not in text)
            )

        await wait_for(lambda: merged(alice.text(FILE)) and merged(bob.text(FILE)), what="merge")
        await wait_for(lambda: read_file(collab, FILE) == alice.text(FILE), what="written back")
        # The untouched part kept its identity: the anchor still marks the class line.
        final = bob.text(FILE) or ""
        assert final.encode()[anchor.get_index() :].startswith(b"class SlidingWindowRateLimiter")
        # And no change wiped the text: each one touched a few characters at most.
        assert deltas
        for delta in deltas:
            deleted = sum(op.get("delete", 0) for op in delta)
            inserted = sum(len(op.get("insert", "")) for op in delta)
            assert deleted <= len(OLD_LINE) and inserted <= len(NEW_LINE), delta


async def test_the_terminal_edits_the_open_document(
    start_collab: StartCollab, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = fresh_uid()
    # The agent drops to the workspace's uid: its state folder is that uid's, in a folder it
    # can reach (pytest's tmp_path is root's alone).
    home = short_tempdir("pqa-state-")
    os.chmod(home, 0o755)  # noqa: S103
    state = home / "state"
    state.mkdir(mode=0o700)
    os.chown(state, uid, uid)
    monkeypatch.setenv(STATE_DIR_ENV, str(state))
    try:
        await _terminal_scenario(start_collab(user=f"{uid}:{uid}"), uid)
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def _terminal_scenario(agent: RunningAgent, uid: int) -> None:
    async with yconnect(agent.socket_path, agent.token) as alice:
        alice.insert(FILE, 0, "# typed in the editor\n")
        await wait_for(lambda: read_file(agent, FILE).startswith("# typed in the editor\n"))
        async with connect(agent.socket_path, "/terminal", agent.token) as terminal:
            await send(
                terminal,
                {
                    "type": "input",
                    "data": f"sed -i 's/{OLD_LINE.strip()}/{SED_LINE}/' {FILE}"
                    " && echo done-$((40+2))\r",
                },
            )
            seen = ""
            async with asyncio.timeout(20):
                while "done-42" not in seen:
                    seen += (await receive(terminal))["data"]
        await wait_for(lambda: "self.limit = int(limit)" in (alice.text(FILE) or ""), what="sync")
        text = alice.text(FILE) or ""
        assert text.startswith("# typed in the editor\n")
        assert text == read_file(agent, FILE)
        # sed's temporary file came and went; it is not left in the document.
        await asyncio.sleep(1.2)
        assert sorted(alice.files.keys()) == [FILE]
        assert os.stat(agent.workspace / FILE).st_uid == uid


async def test_files_join_leave_and_move(collab: RunningAgent) -> None:
    async with yconnect(collab.socket_path, collab.token) as alice:
        # A file made on disk joins the document; binary files and tool folders do not.
        write_file(collab, "notes.md", "hello\n")
        (collab.workspace / "blob.bin").write_bytes(b"\x00\x01\x02")
        (collab.workspace / ".git").mkdir()
        (collab.workspace / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        await wait_for(lambda: alice.text("notes.md") == "hello\n", what="new file")
        assert "blob.bin" not in alice.files and ".git/HEAD" not in alice.files

        # A file a client creates in the document is created on disk.
        alice.files["src/new_module.py"] = Text("x = 1\n")
        await wait_for(lambda: (collab.workspace / "src/new_module.py").is_file(), what="create")
        assert read_file(collab, "src/new_module.py") == "x = 1\n"

        # A rename on disk moves the text under its new name.
        os.rename(collab.workspace / "notes.md", collab.workspace / "NOTES.md")
        await wait_for(lambda: alice.text("NOTES.md") == "hello\n", what="rename")
        await wait_for(lambda: "notes.md" not in alice.files, what="old name gone")

        # A file deleted on disk leaves the document; one deleted in the document, the disk.
        os.unlink(collab.workspace / "NOTES.md")
        await wait_for(lambda: "NOTES.md" not in alice.files, what="disk delete")
        del alice.files["src/new_module.py"]
        await wait_for(lambda: not (collab.workspace / "src/new_module.py").exists())

        # A key that is not a valid path is removed again, and nothing is written for it.
        alice.files["../escape.py"] = Text("nope\n")
        await wait_for(lambda: "../escape.py" not in alice.files, what="refused key")
        assert not (collab.workspace.parent / "escape.py").exists()


async def test_the_archive_holds_what_was_just_typed(start_collab: StartCollab) -> None:
    # A slow flush makes the race plain: without the flush before reading, the archive would
    # hold the file as it was before the edit. Runs and test runs flush the same way
    # (prequel.agent.routes.collab.flush_typing).
    agent = start_collab(limits={"flush_seconds": 0.9})
    async with (
        yconnect(agent.socket_path, agent.token) as alice,
        yconnect(agent.socket_path, agent.token) as bob,
        agent.client() as client,
    ):
        alice.insert(FILE, 0, "# typed a moment ago\n")
        # Bob sees it: the agent has it, but its disk flush is still ahead.
        await wait_for(lambda: (bob.text(FILE) or "").startswith("# typed a moment ago\n"))
        assert not read_file(agent, FILE).startswith("# typed")
        archive = await client.get("/archive")
        assert archive.status_code == 200
        with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
            member = tar.extractfile(FILE)
            assert member is not None
            assert member.read().decode().startswith("# typed a moment ago\n")
