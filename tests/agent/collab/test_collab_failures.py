"""One client's trouble never stops the room: dropped sockets and slow readers."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

from tests.agent.collab.conftest import StartCollab, read_file
from tests.agent.collab.yclient import wait_for, yconnect
from tests.agent.conftest import RunningAgent

FILE = "rate_limiter.py"


async def _status(agent: RunningAgent) -> dict[str, object]:
    async with agent.portal_client() as portal:
        response = await portal.get("/collab/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


async def test_a_dropped_socket_does_not_stop_the_room(collab: RunningAgent) -> None:
    async with (
        yconnect(collab.socket_path, collab.token) as alice,
        yconnect(collab.socket_path, collab.token) as bob,
    ):
        async with yconnect(collab.socket_path, collab.token) as carol:
            carol.set_awareness({"user": {"name": "carol"}})
            await wait_for(lambda: carol.doc.client_id in alice.awareness_ids, what="awareness")
            # Kill carol's connection abruptly (no closing handshake), then keep the room busy
            # at once, while the agent still counts carol among its clients.
            assert carol.ws.transport is not None
            carol.ws.transport.abort()
            for i in range(20):
                alice.insert(FILE, 0, f"# after drop {i}\n")
                alice.set_awareness({"user": {"name": "alice"}, "n": i})
            await asyncio.sleep(0)
        await wait_for(lambda: bob.text(FILE) == alice.text(FILE), what="bob keeps syncing")
        bob.insert(FILE, 0, "# bob still edits\n")
        await wait_for(lambda: "# bob still edits" in (alice.text(FILE) or ""), what="alice")
        # The room and the server are healthy: a newcomer syncs, the file follows.
        async with yconnect(collab.socket_path, collab.token) as dave:
            assert dave.text(FILE) == alice.text(FILE)
        await wait_for(lambda: read_file(collab, FILE) == alice.text(FILE), what="disk")
        status = await _status(collab)
        rooms = status["rooms"]
        assert isinstance(rooms, dict)
        assert len(rooms["doc"]["clients"]) == 2
    assert "Traceback" not in collab.log()


async def test_a_client_that_never_reads_is_disconnected_and_memory_stays_bounded(
    start_collab: StartCollab,
) -> None:
    bound = 256 * 1024
    agent = start_collab(limits={"max_queue_bytes": bound})
    async with yconnect(agent.socket_path, agent.token) as writer:
        slow = await _never_reading_client(agent)
        try:
            chunk = "x" * 60_000 + "\n"
            for i in range(100):  # ~12 MB of updates, far past every buffer on the way
                writer.insert(FILE, 0, f"{i}{chunk}")
                del writer.ytext(FILE)[0 : len(chunk) + len(str(i))]
                if i % 10 == 0:
                    await asyncio.sleep(0.01)

            async def clients() -> int:
                rooms = (await _status(agent))["rooms"]
                assert isinstance(rooms, dict)
                return len(rooms["doc"]["clients"])

            for _ in range(300):
                if await clients() == 1:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the slow client was never disconnected")
        finally:
            slow.close()
        status = await _status(agent)
        rooms = status["rooms"]
        assert isinstance(rooms, dict)
        doc = rooms["doc"]
        assert doc["dropped_clients"] == 1
        assert 0 < doc["peak_queue_bytes"] <= bound
        # The room is healthy: a newcomer gets everything.
        async with yconnect(agent.socket_path, agent.token) as late:
            assert late.text(FILE) == writer.text(FILE)
        rss = _rss_bytes(agent.pid)
        assert rss < 400 * 1024 * 1024, f"agent RSS {rss} bytes"


async def _never_reading_client(agent: RunningAgent) -> asyncio.StreamWriter:
    """A WebSocket client that completes the handshake, asks for the document, and then never
    reads again (with a small receive buffer)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(str(agent.socket_path))
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /collab/doc HTTP/1.1\r\nHost: agent\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {agent.token}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = bytes([0, 0, 1, 0])  # sync step 1 with an empty state vector
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(bytes([0x82, 0x80 | len(payload)]) + mask + masked)
    await writer.drain()
    return writer


def _rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
