from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prequel.domain.interviews import InterviewKind
from prequel.domain.rules import (
    PASSCODE_ALPHABET,
    PASSCODE_LENGTH,
    RuleViolation,
    auto_destroy_at,
    check_duration,
    check_valid_days,
    new_passcode,
    normalize_passcode,
    provisioning_starts_at,
)


@pytest.mark.parametrize(
    ("kind", "ok", "bad"),
    [
        (InterviewKind.LIVE, [30, 90, 240], [29, 241, 0, -5]),
        (InterviewKind.TAKE_HOME, [60, 480], [59, 481, 0]),
    ],
)
def test_durations(kind: InterviewKind, ok: list[int], bad: list[int]) -> None:
    for minutes in ok:
        assert check_duration(kind, minutes) == minutes
    for minutes in bad:
        with pytest.raises(RuleViolation, match="minutes"):
            check_duration(kind, minutes)


def test_duration_message_says_the_range_in_hours() -> None:
    with pytest.raises(RuleViolation, match=r"30 to 240 minutes \(0.5 h to 4 h\)"):
        check_duration(InterviewKind.LIVE, 10)
    with pytest.raises(RuleViolation):
        check_duration(InterviewKind.LIVE, True)


def test_valid_days() -> None:
    assert check_valid_days(1) == 1 and check_valid_days(30) == 30
    for days in (0, 31, -1):
        with pytest.raises(RuleViolation, match="1 to 30 days"):
            check_valid_days(days)


def test_times() -> None:
    at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert provisioning_starts_at(at) == at - timedelta(minutes=5)
    assert auto_destroy_at(at, 90) == at + timedelta(minutes=90)


def test_passcodes_are_unambiguous_and_distinct() -> None:
    codes = {new_passcode() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert len(code) == PASSCODE_LENGTH
        assert set(code) <= set(PASSCODE_ALPHABET)
    assert not set("0O1IL5S2Z8B") & set(PASSCODE_ALPHABET)


@given(st.text(alphabet=PASSCODE_ALPHABET, min_size=8, max_size=8))
def test_what_people_type_is_forgiven(code: str) -> None:
    typed = f" {code[:4].lower()}-{code[4:]} "
    assert normalize_passcode(typed) == code


@given(st.text(max_size=20))
def test_garbage_is_not_a_passcode(text: str) -> None:
    result = normalize_passcode(text)
    assert result is None or (len(result) == 8 and set(result) <= set(PASSCODE_ALPHABET))
