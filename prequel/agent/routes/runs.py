"""Runs: a file or a command in the sandbox, streamed live over a WebSocket or run to the end.

POST /runs                  {"command": [...]} or {"file": "main.py"}, "stdin", "limits"
                            -> the outcome as one JSON object
WS   /runs/stream           client: {"type": "start", ...same body...}, then any of
                            {"type": "stdin", "data": "..."}, {"type": "stdin_eof"},
                            {"type": "stop"}
                            server: {"type": "started", "run_id", "argv", "limits"},
                            {"type": "output", "stream": "stdout"|"stderr", "data": "..."},
                            {"type": "exit", ...outcome}
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from prequel.agent.bodies import read_json
from prequel.agent.errors import AgentError, AgentJSONResponse
from prequel.agent.execution import Execution, command_for
from prequel.agent.recording.recorder import SYSTEM, author_of_caller, recorder
from prequel.agent.routes.collab import flush_typing
from prequel.agent.state import agent_state
from prequel.agent.streaming import Utf8Stream, receive_json, send_error
from prequel.sandbox.outcome import Outcome
from prequel.sandbox.process import SandboxProcess

MAX_BODY_BYTES = 2 * 1024 * 1024


def execution(conn: HTTPConnection) -> Execution:
    found: Execution = conn.app.state.execution
    return found


def _argv_and_limits(conn: HTTPConnection, body: dict[str, Any]) -> tuple[list[str], Any]:
    state = agent_state(conn)

    def check_file(path: str) -> None:
        fd, _stat, _name = state.workspace.open_download(path)  # refuses links, devices, ..
        os.close(fd)

    return command_for(body, check_file), execution(conn).limits(body.get("limits"))


def _outcome_json(run_id: str, outcome: Outcome) -> dict[str, Any]:
    return {"run_id": run_id, **outcome.to_json()}


def _recorded_exit(run_id: str, outcome: Outcome) -> dict[str, Any]:
    """The outcome as recorded: its output already went out as run.output events."""
    exit_json = _outcome_json(run_id, outcome)
    for key in ("stdout", "stderr"):
        exit_json.pop(key, None)
    return exit_json


async def run_to_end(request: Request) -> Response:
    body = await read_json(request, MAX_BODY_BYTES)
    argv, limits = _argv_and_limits(request, body)
    stdin = body.get("stdin", "")
    if not isinstance(stdin, str):
        raise AgentError(400, "bad_request", "'stdin' must be a string")
    await flush_typing(request)  # the run sees what was just typed
    run_id, process = await execution(request).start_run(argv, limits)
    found, author = recorder(request), author_of_caller(request)
    found.record(author, "run.start", {"run_id": run_id, "argv": argv, "file": body.get("file")})
    try:
        if stdin:
            found.record(author, "run.input", {"run_id": run_id, "data": stdin})
            await process.write_stdin(stdin.encode())
        await process.close_stdin()
        outcome = await process.wait()
    finally:
        if not process.done:
            await process.stop()
        execution(request).finished(run_id)
    result = _outcome_json(run_id, outcome)
    for stream in ("stdout", "stderr"):
        if result.get(stream):
            found.record(
                SYSTEM, "run.output", {"run_id": run_id, "stream": stream, "data": result[stream]}
            )
    found.record(SYSTEM, "run.exit", _recorded_exit(run_id, outcome))
    return AgentJSONResponse(result)


async def stop_run(request: Request) -> Response:
    process = execution(request).runs.get(request.path_params["run_id"])
    if process is None:
        raise AgentError(404, "not_found", "no run with that id is running")
    outcome = await process.stop()
    return AgentJSONResponse(_outcome_json(request.path_params["run_id"], outcome))


async def _forward_output(websocket: WebSocket, process: SandboxProcess, run_id: str) -> None:
    decoders = {"stdout": Utf8Stream(), "stderr": Utf8Stream()}
    found = recorder(websocket)

    async def send(stream: str, text: str) -> None:
        found.record_output(
            SYSTEM, "run.output", f"{run_id}:{stream}", {"run_id": run_id, "stream": stream}, text
        )
        await websocket.send_json({"type": "output", "stream": stream, "data": text})

    async for stream, chunk in process.output():
        text = decoders[stream].feed(chunk)
        if text:
            await send(stream, text)
    for stream, decoder in decoders.items():
        rest = decoder.flush()
        if rest:
            await send(stream, rest)


async def _take_input(websocket: WebSocket, process: SandboxProcess, run_id: str) -> None:
    author = author_of_caller(websocket)
    while True:
        try:
            message = await receive_json(websocket)
        except WebSocketDisconnect:
            await process.stop()  # nobody is watching: a run never outlives its stream
            return
        kind = message["type"]
        if kind == "stdin" and isinstance(message.get("data"), str):
            recorder(websocket).record(
                author, "run.input", {"run_id": run_id, "data": message["data"]}
            )
            await process.write_stdin(message["data"].encode())
        elif kind == "stdin_eof":
            await process.close_stdin()
        elif kind == "stop":
            await process.stop()
        else:
            await send_error(websocket, AgentError(400, "bad_message", f"unexpected {kind!r}"))


async def run_stream(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        start = await receive_json(websocket)
        if start["type"] != "start":
            raise AgentError(400, "bad_message", 'the first message must be {"type": "start"}')
        argv, limits = _argv_and_limits(websocket, start)
    except AgentError as error:
        await send_error(websocket, error)
        await websocket.close(code=1008)
        return
    except WebSocketDisconnect:
        return
    await flush_typing(websocket)
    run_id, process = await execution(websocket).start_run(argv, limits)
    recorder(websocket).record(
        author_of_caller(websocket),
        "run.start",
        {"run_id": run_id, "argv": argv, "file": start.get("file")},
    )
    await websocket.send_json(
        {"type": "started", "run_id": run_id, "argv": argv, "limits": limits.as_dict()}
    )
    inputs = asyncio.create_task(_take_input(websocket, process, run_id))
    outcome: Outcome | None = None
    try:
        await _forward_output(websocket, process, run_id)
        outcome = await process.wait()
        await websocket.send_json({"type": "exit", **_outcome_json(run_id, outcome)})
        await websocket.close()
    except WebSocketDisconnect:
        pass  # the viewer left: the run is stopped below, nothing outlives its stream
    finally:
        inputs.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, AgentError):
            await inputs
        if not process.done:
            outcome = await process.stop()
        execution(websocket).finished(run_id)
        if outcome is not None:
            recorder(websocket).record(SYSTEM, "run.exit", _recorded_exit(run_id, outcome))


routes: list[BaseRoute] = [
    Route("/runs", run_to_end, methods=["POST"]),
    Route("/runs/{run_id}/stop", stop_run, methods=["POST"]),
    WebSocketRoute("/runs/stream", run_stream),
]
