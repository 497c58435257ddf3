"""Rows for tests that need interviews without going through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Interview, Organization
from prequel.db.types import utcnow


async def make_challenge(db: AsyncSession, org: Organization, slug: str = "demo") -> Challenge:
    challenge = Challenge(
        org_id=org.id,
        slug=slug,
        version=1,
        title="Demo",
        difficulty="easy",
        tags=[],
        language="python",
        environment="python3",
        time_estimate_minutes=30,
        test_command="python3 -m pytest",
        test_format="junit",
        statement="Do it.",
        manifest={},
        bundle_key=f"challenges/{org.id}/{slug}/1.tar.gz",
        bundle_sha256="0" * 64,
        bundle_size=0,
    )
    db.add(challenge)
    await db.flush()
    return challenge


async def make_interview(
    db: AsyncSession, org: Organization, challenge: Challenge, **fields: Any
) -> Interview:
    values: dict[str, Any] = {
        "org_id": org.id,
        "kind": "take_home",
        "candidate_name": "Ada Lovelace",
        "challenge_id": challenge.id,
        "challenge_slug": challenge.slug,
        "status": "invited",
        "duration_minutes": 60,
        "valid_until": utcnow() + timedelta(days=3),
    }
    values.update(fields)
    interview = Interview(**values)
    db.add(interview)
    await db.flush()
    return interview
