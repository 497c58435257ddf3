"""A real `prequel serve` (with its embedded worker and local workspaces) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.portal_process import PortalProcess, running_portal


@pytest.fixture
def portal() -> Iterator[PortalProcess]:
    with running_portal() as process:
        yield process
