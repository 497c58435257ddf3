"""The SSE streams end to end: a real uvicorn server on the test's app, read over the network
with httpx (the in-process ASGI transport buffers whole responses, so it cannot stream).

Runs on SQLite and PostgreSQL, and on the memory and the redis bus.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import create_api_token
from prequel.db.models import Membership, Organization, User
from prequel.domain.roles import Role
from prequel.realtime.bus import Audience, BusEvent
from prequel.realtime.memory import InProcessBus
from prequel.realtime.outbox import commit_and_publish, stage_event
from prequel.realtime.redis import RedisBus
from prequel.realtime.sse import StreamScope, last_event_id, sse_response
from prequel.settings import EventSettings, Settings
from prequel.state import AppState
from tests.conftest import PASSWORD, MakeUser
from tests.support.factories import make_challenge, make_interview
from tests.support.live import free_port

REDIS_URL = os.environ.get("PREQUEL_TEST_REDIS_URL", "")
BUSES = ["memory", *(["redis"] if REDIS_URL else [])]
# Long enough that a live event can only have come through the bus.
LIVE_HEARTBEAT = 30.0
SHORT_HEARTBEAT = 0.25


@pytest.fixture
def heartbeat() -> float:
    """Override with @pytest.mark.parametrize("heartbeat", [...])."""
    return LIVE_HEARTBEAT


@pytest.fixture(params=BUSES)
def settings(settings: Settings, request: pytest.FixtureRequest, heartbeat: float) -> Settings:
    events = EventSettings(
        backend=request.param,
        redis_url=REDIS_URL or EventSettings().redis_url,
        channel=f"prequel:test:{uuid.uuid4().hex}",
        heartbeat_seconds=heartbeat,
    )
    return settings.model_copy(update={"events": events})


@pytest.fixture
def state(app: FastAPI) -> AppState:
    value: AppState = app.state.prequel
    return value


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """uvicorn serving the already started app (its lifespan runs in the `app` fixture)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    async with asyncio.timeout(10):
        while not running.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    await task


# Reading streams ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    type: str
    id: int | None
    data: dict[str, Any]
    retry: int | None = None


class EventReader:
    """Parses an SSE response the way EventSource does (one message per blank line)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, within: float = 5) -> Message:
        fields: dict[str, str] = {}
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "":
                    if "data" in fields:
                        return Message(
                            type=fields.get("event", "message"),
                            id=int(fields["id"]) if "id" in fields else None,
                            data=json.loads(fields["data"]),
                            retry=int(fields["retry"]) if "retry" in fields else None,
                        )
                    fields = {}
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def next_event(self, within: float = 5) -> Message:
        """The next message that is not a heartbeat."""
        while True:
            message = await self.next(within)
            if message.type != "heartbeat":
                return message

    async def until(self, predicate: Callable[[Message], bool], within: float = 5) -> list[Message]:
        """Every non-heartbeat message up to and including the first that matches."""
        seen: list[Message] = []
        async with asyncio.timeout(within):
            while True:
                seen.append(await self.next_event(within))
                if predicate(seen[-1]):
                    return seen


@asynccontextmanager
async def logged_in(base_url: str, user: User) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None)) as client:
        response = await client.post(
            "/api/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        yield client


Connect = Callable[[Organization], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def connect(server: str, db: AsyncSession) -> Connect:
    """A client for a new interviewer of the organization, signed in with an API token
    (no password, so no argon2: the tests stay quick)."""

    @asynccontextmanager
    async def open_client(organization: Organization) -> AsyncIterator[httpx.AsyncClient]:
        user = User(email=f"sse-{uuid.uuid4().hex[:8]}@example.com", name="SSE Tester")
        db.add(user)
        await db.flush()
        db.add(Membership(org_id=organization.id, user_id=user.id, role=Role.INTERVIEWER.value))
        _row, token = await create_api_token(db, user, name="sse test", expires_in=None)
        await db.commit()
        async with httpx.AsyncClient(
            base_url=server,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10, read=None),
        ) as client:
            yield client

    return open_client


@asynccontextmanager
async def stream(
    client: httpx.AsyncClient, path: str = "/api/events", **headers: str
) -> AsyncIterator[EventReader]:
    async with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        reader = EventReader(response)
        connection = await reader.next()
        assert connection.type == "connection"
        yield reader


# Writing events ----------------------------------------------------------------------------


async def emit(
    state: AppState,
    org_id: str | None,
    *,
    interview_id: str | None = None,
    audience: str = Audience.STAFF,
    payload: dict[str, Any] | None = None,
    publish: bool = True,
) -> int:
    """Stage and commit one event as the application does; its seq."""
    async with state.sessions() as session:
        stage_event(
            session,
            "interview_update",
            org_id=org_id,
            interview_id=interview_id,
            audience=audience,
            payload=payload or {"note": uuid.uuid4().hex},
        )
        [written] = await commit_and_publish(session, state.bus if publish else None)
        return written.seq


async def other_organization(db: AsyncSession, make: str = "Beta") -> Organization:
    organization = Organization(name=make, slug=f"{make.lower()}-{uuid.uuid4().hex[:6]}")
    db.add(organization)
    await db.commit()
    return organization


# Tests -------------------------------------------------------------------------------------


async def test_the_connection_event_comes_first(
    server: str, make_user: MakeUser, org: Organization
) -> None:
    user = await make_user(Role.VIEWER)
    async with (
        logged_in(server, user) as client,
        client.stream("GET", "/api/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-accel-buffering"] == "no"
        first = await EventReader(response).next()

    assert first.type == "connection"
    assert first.id is None
    assert first.retry is not None
    assert first.data["scope"] == {"audience": "staff", "org_id": org.id}
    assert first.data["server_time"]
    assert first.data["role"] == "viewer"


async def test_a_committed_event_arrives_with_its_id(
    connect: Connect, state: AppState, org: Organization
) -> None:
    async with connect(org) as client, stream(client) as events:
        seq = await emit(state, org.id, payload={"status": "active"})

        message = await events.next_event()

    assert message == Message("interview_update", seq, {"status": "active"})


async def test_anonymous_gets_401_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/events", headers={"accept": "text/event-stream"})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("via", ["header", "query"])
async def test_reconnecting_replays_exactly_what_was_missed(
    connect: Connect,
    state: AppState,
    db: AsyncSession,
    org: Organization,
    via: str,
) -> None:
    beta = await other_organization(db)
    async with connect(org) as client:
        async with stream(client) as events:
            seen = await emit(state, org.id)
            assert (await events.next_event()).id == seen
        missed = [await emit(state, org.id), await emit(state, org.id, audience=Audience.ALL)]
        await emit(state, beta.id)
        await emit(state, org.id, audience=Audience.CANDIDATE)

        if via == "header":
            reconnect = stream(client, **{"Last-Event-ID": str(seen)})
        else:
            reconnect = stream(client, f"/api/events?last_event_id={seen}")
        async with reconnect as events:
            replayed = [await events.next_event(), await events.next_event()]
            after = await emit(state, org.id)
            live = await events.next_event()

    assert [m.id for m in replayed] == missed
    assert live.id == after


async def test_the_header_wins_over_the_query_parameter(
    connect: Connect, state: AppState, org: Organization
) -> None:
    first, second = await emit(state, org.id), await emit(state, org.id)
    async with (
        connect(org) as client,
        stream(client, "/api/events?last_event_id=0", **{"Last-Event-ID": str(first)}) as events,
    ):
        assert (await events.next_event()).id == second


async def test_a_long_absence_replays_the_newest_events_after_a_flag(
    connect: Connect, state: AppState, org: Organization
) -> None:
    async with state.sessions() as session:
        for n in range(1005):
            stage_event(session, "interview_update", org_id=org.id, payload={"n": n})
        written = await commit_and_publish(session, None)
    async with (
        connect(org) as client,
        stream(client, "/api/events?last_event_id=0") as events,
    ):
        flag = await events.next_event()
        replayed = [await events.next_event() for _ in range(1000)]

    assert flag.type == "replay_truncated"
    assert flag.id is None
    assert [m.id for m in replayed] == [e.seq for e in written[5:]]
    assert replayed[-1].data == {"n": 1004}


async def test_staff_never_receive_another_organizations_events(
    connect: Connect,
    state: AppState,
    db: AsyncSession,
    org: Organization,
) -> None:
    beta = await other_organization(db)
    async with (
        connect(org) as acme_client,
        connect(beta) as beta_client,
        stream(acme_client) as acme,
        stream(beta_client) as beta_events,
    ):
        acme_seqs = [await emit(state, org.id), await emit(state, org.id, audience=Audience.ALL)]
        beta_seqs = [await emit(state, beta.id)]
        await emit(state, org.id, audience=Audience.CANDIDATE)
        await emit(state, beta.id, audience=Audience.CANDIDATE)
        acme_marker, beta_marker = await emit(state, org.id), await emit(state, beta.id)

        acme_got = await acme.until(lambda m: m.id == acme_marker)
        beta_got = await beta_events.until(lambda m: m.id == beta_marker)

    assert [m.id for m in acme_got] == [*acme_seqs, acme_marker]
    assert [m.id for m in beta_got] == [*beta_seqs, beta_marker]

    # Replay applies the same rule.
    async with (
        connect(beta) as beta_client,
        stream(beta_client, "/api/events?last_event_id=0") as beta_events,
    ):
        replayed = await beta_events.until(lambda m: m.id == beta_marker)
    assert [m.id for m in replayed] == [*beta_seqs, beta_marker]


async def candidate_events(request: Request) -> StreamingResponse:
    """A candidate stream like the candidate page's, without the candidate's login."""
    state: AppState = request.app.state.prequel
    return sse_response(
        request,
        StreamScope.candidate(request.path_params["interview_id"]),
        last_event_id(request),
        sessions=state.sessions,
        bus=state.bus,
        heartbeat_seconds=state.settings.events.heartbeat_seconds,
        on_connect={"interview_id": request.path_params["interview_id"]},
    )


async def test_a_candidate_stream_gets_only_its_interviews_candidate_events(
    app: FastAPI, server: str, state: AppState, db: AsyncSession, org: Organization
) -> None:
    app.add_api_route("/test/candidate/{interview_id}/events", candidate_events)
    challenge = await make_challenge(db, org)
    mine = await make_interview(db, org, challenge)
    theirs = await make_interview(db, org, challenge, candidate_name="Grace Hopper")
    await db.commit()

    async with (
        httpx.AsyncClient(base_url=server, timeout=httpx.Timeout(10, read=None)) as client,
        stream(client, f"/test/candidate/{mine.id}/events") as events,
    ):
        await emit(state, org.id, interview_id=mine.id, audience=Audience.STAFF)
        expected = [
            await emit(state, org.id, interview_id=mine.id, audience=Audience.CANDIDATE),
            await emit(state, org.id, interview_id=mine.id, audience=Audience.ALL),
        ]
        await emit(state, org.id, interview_id=theirs.id, audience=Audience.CANDIDATE)
        await emit(state, org.id, interview_id=theirs.id, audience=Audience.ALL)
        await emit(state, org.id, audience=Audience.ALL)  # org-wide, no interview
        marker = await emit(state, org.id, interview_id=mine.id, audience=Audience.CANDIDATE)

        live = await events.until(lambda m: m.id == marker)

        async with stream(client, f"/test/candidate/{mine.id}/events?last_event_id=0") as again:
            replayed = await again.until(lambda m: m.id == marker)

    assert [m.id for m in live] == [*expected, marker]
    assert [m.id for m in replayed] == [*expected, marker]


@pytest.mark.parametrize("heartbeat", [SHORT_HEARTBEAT])
async def test_heartbeat_catches_up_an_event_that_was_never_published(
    connect: Connect, state: AppState, org: Organization
) -> None:
    async with connect(org) as client, stream(client) as events:
        lost = await emit(state, org.id, publish=False)  # as if the process died after commit
        beat = await events.next(within=5)
        caught_up = await events.next_event(within=5)
        published = await emit(state, org.id)
        after = await events.until(lambda m: m.id == published, within=5)
        # A few more heartbeats: nothing is sent twice.
        for _ in range(3):
            assert (await events.next(within=5)).type == "heartbeat"

    assert beat.type == "heartbeat"
    assert beat.id is None
    assert caught_up.id == lost
    assert [m.id for m in after] == [published]


@pytest.mark.parametrize("heartbeat", [SHORT_HEARTBEAT])
async def test_an_event_both_published_and_caught_up_is_sent_once(
    connect: Connect, state: AppState, org: Organization
) -> None:
    async with connect(org) as client, stream(client) as events:
        seqs = [await emit(state, org.id) for _ in range(5)]
        for _ in range(3):
            await asyncio.sleep(SHORT_HEARTBEAT)
            seqs.append(await emit(state, org.id))
        got = await events.until(lambda m: m.id == seqs[-1])
        for _ in range(2):
            assert (await events.next(within=5)).type == "heartbeat"

    assert [m.id for m in got] == seqs


async def test_a_late_commit_with_a_lower_seq_is_still_delivered(
    connect: Connect, state: AppState, org: Organization
) -> None:
    """Transactions commit out of order: a seq below the highest sent can still be new."""
    async with connect(org) as client, stream(client) as events:
        high = await emit(state, org.id)
        assert (await events.next_event()).id == high
        low = BusEvent(
            seq=high - 1,
            type="interview_update",
            org_id=org.id,
            interview_id=None,
            audience=Audience.STAFF,
            payload={"late": True},
        )
        await state.bus.publish([low])
        assert (await events.next_event()).id == high - 1
        # And a repeat of something already sent is not.
        await state.bus.publish([low])
        marker = await emit(state, org.id)
        assert (await events.next_event()).id == marker


async def test_a_stream_holds_no_database_connection_while_idle(
    connect: Connect, state: AppState, org: Organization
) -> None:
    async with connect(org) as client, stream(client):
        await asyncio.sleep(0.1)
        checked_out = state.engine.pool.checkedout()  # type: ignore[attr-defined]

    assert checked_out == 0


async def test_a_disconnected_client_gives_up_its_subscription(
    connect: Connect, state: AppState, org: Organization
) -> None:
    bus = state.bus
    assert isinstance(bus, InProcessBus | RedisBus)
    async with connect(org) as client:
        async with stream(client):
            assert bus.subscriber_count == 1
        async with asyncio.timeout(5):
            while bus.subscriber_count:
                await emit(state, org.id)  # writing to the closed socket also notices
                await asyncio.sleep(0.05)
