"""Make the candidate's workspace (the current directory) importable, however pytest runs."""

import os
import sys

import pytest

if os.getcwd() not in sys.path:
    sys.path.insert(0, os.getcwd())


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
