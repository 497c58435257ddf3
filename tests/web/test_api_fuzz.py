"""Schemathesis generates requests from our own OpenAPI schema and sends them to a real
server: no input may produce a 500, and every error must be JSON a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.schemas import BaseSchema

from prequel.app import create_app
from prequel.settings import load_settings
from tests.support.live import LivePortal, live_portal


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    with live_portal(tmp_path_factory.mktemp("fuzz") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def token(portal: LivePortal) -> str:
    return portal.prequel("admin", "token", "--email", portal.email).strip()


def _openapi() -> BaseSchema:
    # Building the app only generates its schema; nothing connects until its lifespan runs.
    document = create_app(load_settings()).openapi()
    # A valid request to an endless Server-Sent Events stream never finishes, so the fuzz
    # would wait forever. Their bad-input answers are tested in tests/realtime and
    # tests/web/test_candidates_api.py.
    return schemathesis.openapi.from_dict(document).exclude(path_regex=r"/events$")


schema = _openapi()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_causes_a_server_error(case: Case[Any], portal: LivePortal, token: str) -> None:
    response = case.call(base_url=portal.url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["message"], response.text
        assert error["code"], response.text
