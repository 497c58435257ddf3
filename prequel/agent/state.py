"""What every route reaches through `request.app.state.agent`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import HTTPConnection

from prequel.agent.challenge import ChallengeInfo
from prequel.agent.config import AgentConfig
from prequel.agent.files import Workspace


@dataclass
class AgentState:
    config: AgentConfig
    workspace: Workspace
    challenge: ChallengeInfo | None
    # Start-up checks reported by GET /health (name -> result); later features add theirs.
    checks: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


def agent_state(conn: HTTPConnection) -> AgentState:
    state: AgentState = conn.app.state.agent
    return state
