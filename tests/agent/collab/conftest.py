"""Agents with collaboration: each test gets its own private state folder (passed to the agent
as PREQUEL_AGENT_STATE_DIR), so a restarted agent finds its document again."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from prequel.agent.collab.settings import ENV_PREFIX, STATE_DIR_ENV
from tests.agent.conftest import RunningAgent, StartAgent

StartCollab = Callable[..., RunningAgent]
UVICORN_401_NOISE = "ASGI callable returned without completing handshake"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "collab-state"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv(STATE_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def start_collab(
    start_agent: StartAgent, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartCollab]:
    """start_agent with a state folder; limits=... sets PREQUEL_AGENT_COLLAB_* for it. At the
    end, no agent may have logged an unexpected error."""
    started: list[RunningAgent] = []

    def start(*, limits: dict[str, object] | None = None, **options: object) -> RunningAgent:
        for name, value in (limits or {}).items():
            monkeypatch.setenv(ENV_PREFIX + name.upper(), str(value))
        agent = start_agent(**options)  # type: ignore[arg-type]
        started.append(agent)
        return agent

    yield start
    for agent in started:
        # uvicorn's own complaint about the agent's 401 handshake answer (auth.py) is not ours.
        lines = [line for line in agent.log().splitlines() if UVICORN_401_NOISE not in line]
        text = "\n".join(lines)
        assert "Traceback" not in text and " ERROR " not in text, text


@pytest.fixture
def collab(start_collab: StartCollab) -> RunningAgent:
    return start_collab()


def read_file(agent: RunningAgent, path: str) -> str:
    return (agent.workspace / path).read_text(encoding="utf-8")


def write_file(agent: RunningAgent, path: str, text: str) -> None:
    """Write as the terminal would: straight to disk, not through the agent."""
    target = agent.workspace / path
    info = target.stat() if target.exists() else None
    tmp = agent.workspace.parent / f".{target.name}.new"  # same file system, outside the scan
    tmp.write_text(text, encoding="utf-8")
    if info is not None:
        os.chown(tmp, info.st_uid, info.st_gid)
    os.replace(tmp, target)
