"""The interview state machine: every allowed path, and clear errors for the rest."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prequel.domain.interviews import EndReason, InterviewKind, InterviewStatus
from prequel.domain.lifecycle import (
    TRANSITIONS,
    IllegalTransition,
    check_initial,
    check_submit,
    check_transition,
    ending_status,
    is_final,
)

S = InterviewStatus

HAPPY_PATHS = {
    InterviewKind.LIVE: [S.SCHEDULED, S.INITIALIZING, S.CONFIGURING, S.ACTIVE, S.DESTROYING],
    InterviewKind.TAKE_HOME: [
        S.INVITED,
        S.ACTIVATED,
        S.INITIALIZING,
        S.CONFIGURING,
        S.ACTIVE,
        S.DESTROYING,
    ],
}


@pytest.mark.parametrize("kind", list(InterviewKind))
def test_the_happy_path_of_each_kind(kind: InterviewKind) -> None:
    path = HAPPY_PATHS[kind]
    check_initial(kind, path[0])
    for current, target in itertools.pairwise(path):
        check_transition(current, target)
    check_transition(path[-1], S.DESTROYED, EndReason.TIME_UP)
    assert is_final(S.DESTROYED)


def test_every_status_can_reach_the_end() -> None:
    """No status is a trap: from anywhere, some path leads to destroyed."""
    for start in S:
        seen, frontier = {start}, [start]
        while frontier:
            current = frontier.pop()
            for target in TRANSITIONS[current] - seen:
                seen.add(target)
                frontier.append(target)
        assert S.DESTROYED in seen or start is S.DESTROYED, start


def test_error_is_reachable_from_every_live_status_and_retries_by_destroying() -> None:
    for status in (S.SCHEDULED, S.ACTIVATED, S.INITIALIZING, S.CONFIGURING, S.ACTIVE):
        check_transition(status, S.ERROR)
    check_transition(S.ERROR, S.DESTROYING)
    with pytest.raises(IllegalTransition):
        check_transition(S.ERROR, S.ACTIVE)


def test_invitations_end_only_as_expired_or_revoked() -> None:
    check_transition(S.INVITED, S.DESTROYED, EndReason.EXPIRED)
    check_transition(S.INVITED, S.DESTROYED, EndReason.REVOKED)
    with pytest.raises(IllegalTransition, match="expired, revoked"):
        check_transition(S.INVITED, S.DESTROYED, EndReason.TIME_UP)
    with pytest.raises(IllegalTransition, match="end reason"):
        check_transition(S.INVITED, S.DESTROYED)


def test_the_message_names_both_ends_and_the_options() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(S.DESTROYED, S.ACTIVE)
    message = str(caught.value)
    assert "from destroyed to active" in message
    assert "nothing (final)" in message


def test_kinds_start_where_they_should() -> None:
    with pytest.raises(ValueError, match="starts as invited"):
        check_initial(InterviewKind.TAKE_HOME, S.SCHEDULED)


def test_ending_now() -> None:
    assert ending_status(S.ACTIVE) is S.DESTROYING
    assert ending_status(S.ACTIVATED) is S.DESTROYING
    assert ending_status(S.INVITED) is S.DESTROYED
    assert ending_status(S.SCHEDULED) is S.DESTROYED
    with pytest.raises(IllegalTransition, match="already ended"):
        ending_status(S.DESTROYED)


@given(st.sampled_from(list(S)), st.sampled_from(list(S)), st.sampled_from([None, *EndReason]))
def test_check_agrees_with_the_table(
    current: InterviewStatus, target: InterviewStatus, reason: EndReason | None
) -> None:
    try:
        check_transition(current, target, reason)
    except IllegalTransition:
        allowed = False
    else:
        allowed = True
    if allowed:
        assert target in TRANSITIONS[current]
    if target not in TRANSITIONS[current]:
        assert not allowed


def test_a_running_take_home_can_be_submitted() -> None:
    check_submit(InterviewKind.TAKE_HOME, S.ACTIVE)
    check_transition(S.ACTIVE, S.DESTROYING, EndReason.SUBMITTED)
    check_transition(S.DESTROYING, S.DESTROYED, EndReason.SUBMITTED)
    # A destroy retried after an error keeps the reason.
    check_transition(S.ERROR, S.DESTROYING, EndReason.SUBMITTED)


def test_only_a_running_take_home_can_be_submitted() -> None:
    with pytest.raises(IllegalTransition, match="only a take-home"):
        check_submit(InterviewKind.LIVE, S.ACTIVE)
    for status in (S.INVITED, S.ACTIVATED, S.INITIALIZING, S.CONFIGURING, S.DESTROYING):
        with pytest.raises(IllegalTransition, match="only a running test"):
            check_submit(InterviewKind.TAKE_HOME, status)
    for status in (S.ACTIVATED, S.INITIALIZING, S.CONFIGURING):
        with pytest.raises(IllegalTransition, match="only a running test"):
            check_transition(status, S.DESTROYING, EndReason.SUBMITTED)
    with pytest.raises(IllegalTransition, match="expired, revoked"):
        check_transition(S.INVITED, S.DESTROYED, EndReason.SUBMITTED)
