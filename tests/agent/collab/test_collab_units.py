"""The pure parts: minimal diffs and merges, the update log, the state folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from prequel.agent.collab.log import UpdateLog
from prequel.agent.collab.settings import (
    STATE_DIR_ENV,
    CollabSettings,
    StateDirError,
    default_state_dir,
    prepare_state_dir,
)
from prequel.agent.collab.textdiff import Edit, apply_edits, diff, rebase

TEXTS = st.text(alphabet="ab\n😀é", max_size=40)


def _apply(old: str, edits: list[Edit]) -> str:
    out, at = [], 0
    for edit in sorted(edits, key=lambda e: e.start):
        out += [old[at : edit.start], edit.text]
        at = edit.end
    return "".join(out) + old[at:]


@settings(max_examples=300, deadline=None)
@given(TEXTS, TEXTS)
def test_diff_turns_old_into_new(old: str, new: str) -> None:
    assert _apply(old, diff(old, new)) == new


@settings(max_examples=200, deadline=None)
@given(TEXTS, TEXTS)
def test_apply_edits_on_a_ytext_counts_characters_not_bytes(old: str, new: str) -> None:
    doc: Doc[Any] = Doc()
    doc["t"] = text = Text(old)
    apply_edits(text, old, diff(old, new))
    assert str(text) == new


def test_a_one_line_change_is_a_small_edit() -> None:
    old = "".join(f"line {i}\n" for i in range(1000))
    new = old.replace("line 500\n", "line five hundred\n")
    edits = diff(old, new)
    assert sum(e.end - e.start + len(e.text) for e in edits) < 20


@settings(max_examples=300, deadline=None)
@given(TEXTS, TEXTS, TEXTS)
def test_rebase_keeps_what_ours_typed(base: str, ours: str, theirs: str) -> None:
    merged = _apply(ours, rebase(base, ours, diff(base, theirs)))
    # Whatever ours inserted into base is still there, in order.
    inserted = "".join(e.text for e in diff(base, ours))
    it = iter(merged)
    assert all(ch in it for ch in inserted)


def test_rebase_merges_edits_in_different_places() -> None:
    base = "one\ntwo\nthree\nfour\n"
    ours = "zero\none\ntwo\nthree\nfour\n"  # the editor added a line at the top
    theirs = "one\ntwo\nTHREE\nfour\n"  # the terminal changed one further down
    merged = _apply(ours, rebase(base, ours, diff(base, theirs)))
    assert merged == "zero\none\ntwo\nTHREE\nfour\n"


def test_log_replays_checkpoint_and_log_and_ignores_a_torn_tail(tmp_path: Path) -> None:
    doc: Doc[Any] = Doc()
    doc["t"] = text = Text("start")
    store = UpdateLog(tmp_path / "room", compact_bytes=1 << 20)
    store.start(1, doc.get_update())
    subscription = doc.observe(lambda event: store.append(event.update, "alice"))
    text += " one"
    generation = store.rotate()
    store.write_checkpoint(generation, doc.get_update())
    text += " two"
    doc.unobserve(subscription)
    store.close()
    log_file = tmp_path / "room" / f"log-{generation:08d}.bin"
    with log_file.open("ab") as torn:
        torn.write(b"\x00\x00\x01\x00garbage")  # a record cut short by a crash
    assert sorted(p.name for p in (tmp_path / "room").iterdir()) == [
        "checkpoint-00000002.bin",
        "log-00000002.bin",
    ]

    loaded = UpdateLog(tmp_path / "room", compact_bytes=1 << 20).load()
    assert loaded.generation == 2 and loaded.torn > 0
    restored: Doc[Any] = Doc()
    for update in loaded.updates:
        restored.apply_update(update)
    assert str(restored.get("t", type=Text)) == "start one two"


def test_a_damaged_checkpoint_falls_back_to_the_previous_generation(tmp_path: Path) -> None:
    doc: Doc[Any] = Doc()
    doc["t"] = text = Text("a")
    store = UpdateLog(tmp_path, compact_bytes=1 << 20)
    store.start(1, doc.get_update())
    subscription = doc.observe(lambda event: store.append(event.update, "bob"))
    text += "b"
    generation = store.rotate()  # crash before the new checkpoint is whole
    text += "c"
    doc.unobserve(subscription)
    store.close()
    (tmp_path / f"checkpoint-{generation:08d}.bin").write_bytes(b"PQYCKPT1 broken")
    restored: Doc[Any] = Doc()
    for update in UpdateLog(tmp_path, compact_bytes=1 << 20).load().updates:
        restored.apply_update(update)
    assert str(restored.get("t", type=Text)) == "abc"


def test_the_state_folder_is_private_and_outside_the_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    with pytest.raises(StateDirError, match="inside the workspace"):
        prepare_state_dir(workspace / "state", workspace)
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    os.chmod(open_dir, 0o755)  # noqa: S103
    with pytest.raises(StateDirError, match="chmod 700"):
        prepare_state_dir(open_dir, workspace)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    with pytest.raises(StateDirError, match="not a folder"):
        prepare_state_dir(link, workspace)
    made = prepare_state_dir(tmp_path / "fresh", workspace)
    assert (made.stat().st_mode & 0o777) == 0o700


def test_without_a_setting_the_state_folder_is_stable_per_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = CollabSettings.from_env(workspace, environ={})
    assert settings.state_dir == default_state_dir(workspace)
    assert settings.state_dir == CollabSettings.from_env(workspace, environ={}).state_dir
    assert str(os.geteuid()) in settings.state_dir.name
    chosen = CollabSettings.from_env(workspace, environ={STATE_DIR_ENV: str(tmp_path / "s")})
    assert chosen.state_dir == tmp_path / "s"
    with pytest.raises(ValueError, match="positive"):
        CollabSettings.from_env(workspace, environ={"PREQUEL_AGENT_COLLAB_MAX_FILES": "0"})
