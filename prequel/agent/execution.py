"""What the agent runs in the sandbox: commands, the challenge's tests, the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import uuid
from dataclasses import dataclass, field
from typing import Any

from prequel.agent.errors import AgentError
from prequel.agent.terminal import SHELL, SHELL_ENV, TERMINAL_LIMITS, TerminalSession
from prequel.sandbox.limits import DEFAULT_LIMITS, LimitError, Limits
from prequel.sandbox.process import SandboxProcess
from prequel.sandbox.runner import Sandbox

# How "run this file" becomes a command, by extension. Anything else: send a command.
RUNNERS: dict[str, list[str]] = {
    ".py": ["python3"],
    ".js": ["node"],
    ".mjs": ["node"],
    ".cjs": ["node"],
    ".sh": ["bash"],
}
MAX_ARGS = 256
MAX_ARG_CHARS = 32 * 1024


# Test suites get more room than a single run; a challenge's [limits] apply to both.
TEST_LIMITS = Limits(cpu_seconds=60, wall_seconds=120)


@dataclass
class Execution:
    sandbox: Sandbox
    default_limits: Limits = DEFAULT_LIMITS
    test_limits: Limits = TEST_LIMITS
    runs: dict[str, SandboxProcess] = field(default_factory=dict)
    terminal: TerminalSession = field(init=False)

    def __post_init__(self) -> None:
        async def start_shell() -> SandboxProcess:
            return await self.sandbox.start(SHELL, TERMINAL_LIMITS, pty=True, env=SHELL_ENV)

        self.terminal = TerminalSession(start_shell)

    def limits(self, overrides: Any, *, base: Limits | None = None) -> Limits:
        """A request's limits: `overrides` on top of the defaults (for runs, or `base`)."""
        start = self.default_limits if base is None else base
        if overrides is None:
            return start
        if not isinstance(overrides, dict):
            raise AgentError(422, "invalid_limits", "limits must be an object of limit: value")
        try:
            return start.merged(overrides)
        except (LimitError, TypeError) as exc:
            raise AgentError(422, "invalid_limits", f"invalid limits: {exc}") from exc

    async def start_run(self, argv: list[str], limits: Limits) -> tuple[str, SandboxProcess]:
        run_id = uuid.uuid4().hex[:12]
        process = await self.sandbox.start(argv, limits)
        self.runs[run_id] = process
        return run_id, process

    def finished(self, run_id: str) -> None:
        self.runs.pop(run_id, None)

    async def close(self) -> None:
        await self.terminal.close()
        for process in list(self.runs.values()):
            with contextlib.suppress(Exception):
                await process.stop()
        await asyncio.sleep(0)
        await self.sandbox.close()


def command_for(body: dict[str, Any], check_file: Any) -> list[str]:
    """The argv for a run request: {"command": [...]} or {"file": "main.py", "args": [...]}.

    check_file(path) must raise AgentError unless path is a regular file in the workspace.
    """
    command, file = body.get("command"), body.get("file")
    if (command is None) == (file is None):
        raise AgentError(400, "bad_request", "send either 'command' (a list) or 'file', not both")
    if command is not None:
        argv = _strings(command, "command")
        if not argv:
            raise AgentError(400, "bad_request", "'command' must not be empty")
        return argv
    if not isinstance(file, str):
        raise AgentError(400, "bad_request", "'file' must be a path in the workspace")
    check_file(file)
    extension = posixpath.splitext(file)[1].lower()
    if extension == ".sql":
        runner = ["sqlite3", "-bail", ":memory:", f".read {file}"]
        return [*runner, *_strings(body.get("args", []), "args")]
    if extension not in RUNNERS:
        known = ", ".join(sorted([*RUNNERS, ".sql"]))
        raise AgentError(
            422,
            "unknown_file_type",
            f"don't know how to run {file!r} (known: {known}); send a 'command' instead",
        )
    return [*RUNNERS[extension], file, *_strings(body.get("args", []), "args")]


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AgentError(400, "bad_request", f"'{name}' must be a list of strings")
    if len(value) > MAX_ARGS or any(len(item) > MAX_ARG_CHARS for item in value):
        raise AgentError(400, "bad_request", f"'{name}' is too long")
    return list(value)
