"""The pure parts of the SSE module: message format, Last-Event-ID parsing, stream scopes."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

from prequel.realtime.bus import Audience, BusEvent
from prequel.realtime.sse import StreamScope, format_sse, last_event_id


def request_with(header: str | None = None, query: str = "") -> Request:
    headers = [(b"last-event-id", header.encode())] if header is not None else []
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/",
            "query_string": query.encode(),
            "headers": headers,
        }
    )


def event(org_id: str | None, interview_id: str | None, audience: str) -> BusEvent:
    return BusEvent(1, "interview_update", org_id, interview_id, audience, {})


def test_a_message_has_event_id_and_one_line_of_json() -> None:
    data = {"text": "two\nlines\r\nand\u2028more", "n": 1}

    message = format_sse("interview_update", data, 42)

    assert message.endswith(b"\n\n")
    lines = message.decode().split("\n")[:-2]
    assert lines[:2] == ["event: interview_update", "id: 42"]
    assert len(lines) == 3
    assert json.loads(lines[2].removeprefix("data: ")) == data


def test_a_message_without_id_has_no_id_line() -> None:
    assert format_sse("heartbeat", {}) == b"event: heartbeat\ndata: {}\n\n"
    assert b"retry: 3000\n" in format_sse("connection", {}, retry_ms=3000)


def test_an_event_name_cannot_break_the_framing() -> None:
    with pytest.raises(ValueError, match="line break"):
        format_sse("bad\nevent: forged", {})


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        (None, "", None),
        ("17", "", 17),
        (" 17 ", "", 17),
        (None, "last_event_id=5", 5),
        ("17", "last_event_id=5", 17),  # the header wins: EventSource updates it
        ("abc", "last_event_id=5", 5),  # a bad header falls back to the query
        ("-3", "", None),
        ("1e3", "", None),
        ("٣", "", None),  # a non-ASCII digit
        ("", "last_event_id=x", None),
        (str(2**63), "", None),  # beyond a database BIGINT
        (str(2**63 - 1), "", 2**63 - 1),
    ],
)
def test_last_event_id(header: str | None, query: str, expected: int | None) -> None:
    assert last_event_id(request_with(header, query)) == expected


def test_a_staff_scope_sees_its_organizations_staff_and_all_events() -> None:
    scope = StreamScope.staff("acme")

    assert scope.matches(event("acme", None, Audience.STAFF))
    assert scope.matches(event("acme", "iv", Audience.ALL))
    assert not scope.matches(event("acme", "iv", Audience.CANDIDATE))
    assert not scope.matches(event("beta", None, Audience.STAFF))
    assert not scope.matches(event(None, None, Audience.ALL))


def test_a_candidate_scope_sees_its_interviews_candidate_and_all_events() -> None:
    scope = StreamScope.candidate("iv-1")

    assert scope.matches(event("acme", "iv-1", Audience.CANDIDATE))
    assert scope.matches(event("acme", "iv-1", Audience.ALL))
    assert not scope.matches(event("acme", "iv-1", Audience.STAFF))
    assert not scope.matches(event("acme", "iv-2", Audience.CANDIDATE))
    assert not scope.matches(event("acme", None, Audience.ALL))


@pytest.mark.parametrize(
    ("org_id", "interview_id", "audience"),
    [(None, None, "staff"), (None, None, "candidate"), ("acme", "iv", "all"), ("acme", None, "x")],
)
def test_an_incomplete_scope_is_refused(
    org_id: str | None, interview_id: str | None, audience: str
) -> None:
    with pytest.raises(ValueError, match="stream"):
        StreamScope(org_id=org_id, interview_id=interview_id, audience=audience)
