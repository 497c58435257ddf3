"""WS /terminal: the shared shell. Every viewer sees the same screen.

client: {"type": "input", "data": "ls\\r"}, {"type": "resize", "rows": 40, "cols": 120}
server: {"type": "output", "data": "..."} (first the recent scrollback, then live output)

Input from a spectator, or from the candidate while the interviewer observes, is dropped and
answered with {"type": "error", "code": "read_only" | "observe_only", "message": ...} (at most
one such notice a second); resizing stays allowed.
"""

from __future__ import annotations

import time

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from prequel.agent.collab.identity import identity_of, write_refusal
from prequel.agent.errors import AgentError
from prequel.agent.recording.recorder import SYSTEM, Recorder, author_of, recorder
from prequel.agent.routes.runs import execution
from prequel.agent.streaming import Utf8Stream, receive_json, send_error
from prequel.agent.terminal import TerminalSession

MAX_ROWS, MAX_COLS = 500, 1000
NOTICE_INTERVAL_SECONDS = 1.0
CLOSE_BAD_REQUEST = 4400


async def terminal(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        identity_of(websocket)  # malformed identity headers: refused before anything is shown
    except AgentError as error:
        await websocket.close(CLOSE_BAD_REQUEST, error.message[:120])
        return
    last_notice = float("-inf")
    session = execution(websocket).terminal
    record_terminal(session, recorder(websocket))
    author = author_of(identity_of(websocket))
    decoder = Utf8Stream()

    async def viewer(chunk: bytes) -> None:
        text = decoder.feed(chunk)
        if text:
            await websocket.send_json({"type": "output", "data": text})

    backlog = await session.attach(viewer)
    try:
        if backlog:
            await websocket.send_json({"type": "output", "data": Utf8Stream().feed(backlog)})
        while True:
            try:
                message = await receive_json(websocket)
            except AgentError as error:
                await send_error(websocket, error)
                continue
            kind = message["type"]
            if kind == "input" and isinstance(message.get("data"), str):
                refusal = write_refusal(websocket)
                if refusal is None:
                    recorder(websocket).record(author, "terminal.input", {"data": message["data"]})
                    await session.write(message["data"].encode())
                elif time.monotonic() - last_notice >= NOTICE_INTERVAL_SECONDS:
                    last_notice = time.monotonic()
                    await send_error(websocket, refusal)
            elif kind == "resize":
                rows, cols = message.get("rows"), message.get("cols")
                if not (isinstance(rows, int) and isinstance(cols, int)):
                    await send_error(websocket, AgentError(400, "bad_message", "rows/cols"))
                    continue
                size = (max(1, min(rows, MAX_ROWS)), max(1, min(cols, MAX_COLS)))
                if size != session.size:
                    recorder(websocket).record(
                        author, "terminal.resize", {"rows": size[0], "cols": size[1]}
                    )
                session.resize(*size)
            else:
                await send_error(websocket, AgentError(400, "bad_message", f"unexpected {kind!r}"))
    except WebSocketDisconnect:
        pass
    finally:
        session.detach(viewer)


def record_terminal(session: TerminalSession, found: Recorder) -> None:
    """The shell's output goes to the recording (once per session; decoded like the viewers')."""
    if session.on_output is not None or not found.enabled:
        return
    decoder = Utf8Stream()

    def on_output(chunk: bytes) -> None:
        text = decoder.feed(chunk)
        if text:
            found.record_output(SYSTEM, "terminal.output", "shell", {}, text)

    session.on_output = on_output


routes: list[BaseRoute] = [WebSocketRoute("/terminal", terminal)]
