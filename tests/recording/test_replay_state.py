"""The replay state machine: Yjs updates and terminal output applied in order, snapshots."""

from __future__ import annotations

from prequel.recording.replay_state import ReplayState, TerminalScreen
from tests.recording.scripted import ScriptedSession


def apply_all(state: ReplayState, session: ScriptedSession, until: int) -> None:
    for event in session.events[state.seq : until]:
        state.apply(event["seq"], event["ts"], event["type"], event["data"])


def test_files_match_what_was_true_after_every_event() -> None:
    session = ScriptedSession()
    session.create("main.py", "print('hi')\n")
    session.type("main.py", "x = 1\n")
    session.delete("main.py", 0, 6)
    session.create("util.py", "")
    session.type("util.py", "def f():\n    return 2\n")
    state = ReplayState()
    for event in session.events:
        state.apply(event["seq"], event["ts"], event["type"], event["data"])
        assert state.file_texts() == session.truth[event["seq"] - 1]["files"]


def test_the_last_change_points_at_the_edit() -> None:
    session = ScriptedSession()
    session.create("main.py", "abc")
    session.type("main.py", "XY", at=1)
    state = ReplayState()
    apply_all(state, session, len(session.events))
    assert state.last_change == {"path": "main.py", "from": 2, "to": 3}
    session.delete("main.py", 0, 2)
    apply_all(state, session, len(session.events))
    assert state.last_change == {"path": "main.py", "from": 0, "to": 0}


def test_a_snapshot_resumes_exactly_where_it_was_taken() -> None:
    session = ScriptedSession()
    session.create("a.py", "")
    session.type("a.py", "hello")
    session.terminal("$ ls\r\na.py\r\n$ ")
    state = ReplayState()
    apply_all(state, session, len(session.events))
    restored = ReplayState.restore(
        state.seq, state.ts or 0, state.document(), state.snapshot_state()
    )
    session.type("a.py", " world")
    session.terminal("echo ok\r\nok\r\n$ ")
    apply_all(state, session, len(session.events))
    apply_all(restored, session, len(session.events))
    assert restored.file_texts() == state.file_texts() == {"a.py": "hello world"}
    assert restored.terminal.view() == state.terminal.view()
    assert restored.last_change == state.last_change


def test_the_terminal_is_a_real_screen() -> None:
    screen = TerminalScreen(rows=4, cols=20)
    screen.feed("one\r\ntwo\r\n\x1b[2J\x1b[Hcleared")
    view = screen.view()
    assert view["lines"] == ["cleared", "", "", ""]
    assert view["cursor"] == [7, 0]
    screen.resize(6, 30)
    assert screen.view()["rows"] == 6 and screen.view()["cols"] == 30


def test_garbage_does_not_stop_the_replay() -> None:
    state = ReplayState()
    state.apply(1, 1.0, "doc.update", {"update": "not base64!"})
    state.apply(2, 2.0, "doc.update", {"update": "AAAA"})
    state.apply(3, 3.0, "terminal.resize", {"rows": "x"})
    state.apply(4, 4.0, "chat.message", {"id": "m", "text": "hi"})
    assert state.seq == 4 and state.file_texts() == {}
