"""Limits: bounds that name the field, and how they become rlimits in the child."""

from __future__ import annotations

import resource
from dataclasses import FrozenInstanceError

import pytest

from prequel.sandbox.bwrap import rlimits
from prequel.sandbox.limits import DEFAULT_LIMITS, GIB, KIB, MIB, LimitError, Limits


def test_defaults() -> None:
    assert DEFAULT_LIMITS.as_dict() == {
        "cpu_seconds": 10,
        "wall_seconds": 20,
        "memory_bytes": 512 * MIB,
        "processes": 128,
        "file_size_bytes": 16 * MIB,
        "open_files": 256,
        "output_bytes": 1 * MIB,
        "tmp_bytes": 64 * MIB,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu_seconds", 0),
        ("cpu_seconds", -1),
        ("wall_seconds", 0),
        ("memory_bytes", 1 * MIB),
        ("memory_bytes", 1024 * GIB),
        ("processes", 0),
        ("file_size_bytes", 0),
        ("open_files", 3),
        ("output_bytes", 0),
        ("tmp_bytes", 0),
    ],
)
def test_nonsense_is_rejected_with_the_field_named(field: str, value: float) -> None:
    with pytest.raises(LimitError) as caught:
        DEFAULT_LIMITS.merged({field: value})
    assert caught.value.field == field
    assert field in str(caught.value)


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(LimitError, match="gpu_seconds"):
        DEFAULT_LIMITS.merged({"gpu_seconds": 1})


@pytest.mark.parametrize("value", ["10", None, True, float("nan"), float("inf"), 2.5])
def test_wrong_types_are_rejected(value: object) -> None:
    with pytest.raises(LimitError, match="processes"):
        DEFAULT_LIMITS.merged({"processes": value})


def test_merged_keeps_the_rest_and_is_frozen() -> None:
    merged = DEFAULT_LIMITS.merged({"cpu_seconds": 2})
    assert merged.cpu_seconds == 2
    assert merged.wall_seconds == DEFAULT_LIMITS.wall_seconds
    assert DEFAULT_LIMITS.merged(None) is DEFAULT_LIMITS
    with pytest.raises(FrozenInstanceError):
        merged.cpu_seconds = 3  # type: ignore[misc]


def test_rlimits_in_the_child() -> None:
    limits = Limits(cpu_seconds=2.5, file_size_bytes=4 * KIB, open_files=64)
    values = {which: (soft, hard) for which, soft, hard in rlimits(limits, cpu=True)}
    assert values[resource.RLIMIT_FSIZE] == (4 * KIB, 4 * KIB)
    assert values[resource.RLIMIT_NOFILE] == (64, 64)
    assert values[resource.RLIMIT_CORE] == (0, 0)
    # A per-process backstop just above the tree limit (which cgroup accounting enforces).
    assert values[resource.RLIMIT_CPU] == (4, 5)
    assert resource.RLIMIT_AS not in values  # it breaks Node; memory is the cgroup's job


def test_terminal_runs_get_no_cpu_rlimit() -> None:
    assert resource.RLIMIT_CPU not in {which for which, *_ in rlimits(DEFAULT_LIMITS, cpu=False)}
