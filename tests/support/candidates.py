"""A candidate's browser for tests against a running portal, without a browser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_token_from(html: str) -> str:
    found = CSRF_META.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


@contextmanager
def candidate_client(base_url: str) -> Iterator[httpx.Client]:
    """An anonymous client that opened a page first, as a browser does: it holds the session
    cookie and sends the page's CSRF token, which Start and join require."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.headers["X-CSRF-Token"] = csrf_token_from(client.get("/login").text)
        yield client
