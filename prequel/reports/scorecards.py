"""Scorecards: each interviewer's ratings per criterion (1 to 4), notes and recommendation.
One per interviewer and interview; saving again replaces it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview, Scorecard, User
from prequel.reports.settings import RATINGS, RECOMMENDATIONS, Criterion

Recommendation = Literal["strong_no", "no", "yes", "strong_yes"]


class ScorecardInput(BaseModel):
    ratings: dict[str, int] = Field(
        default_factory=dict,
        description="Criterion key to a rating: 1 poor, 2 mixed, 3 good, 4 excellent.",
    )
    notes: str = Field(default="", max_length=20_000)
    recommendation: Recommendation | None = None


class ScorecardRefused(ValueError):
    """What was sent cannot be saved; the message says why."""


def check_ratings(ratings: dict[str, int], criteria: list[Criterion]) -> dict[str, int]:
    keys = {criterion.key for criterion in criteria}
    unknown = sorted(set(ratings) - keys)
    if unknown:
        raise ScorecardRefused(
            f"no criterion {unknown[0]!r} in this organization; the criteria are "
            + ", ".join(sorted(keys))
        )
    for key, value in ratings.items():
        if value not in RATINGS:
            raise ScorecardRefused(f"the rating for {key!r} must be 1 to 4; got {value}")
    return {
        criterion.key: ratings[criterion.key] for criterion in criteria if criterion.key in ratings
    }


async def save_scorecard(
    db: AsyncSession,
    interview: Interview,
    author: User,
    criteria: list[Criterion],
    data: ScorecardInput,
) -> Scorecard:
    ratings = check_ratings(data.ratings, criteria)
    card = await db.scalar(
        select(Scorecard).where(
            Scorecard.interview_id == interview.id, Scorecard.author_id == author.id
        )
    )
    if card is None:
        card = Scorecard(interview_id=interview.id, author_id=author.id)
        db.add(card)
    card.author_name = author.name
    card.ratings = ratings
    card.notes = data.notes
    card.recommendation = data.recommendation
    await db.flush()
    return card


async def scorecards_of(db: AsyncSession, interview_id: str) -> list[Scorecard]:
    found = await db.scalars(
        select(Scorecard)
        .where(Scorecard.interview_id == interview_id)
        .order_by(Scorecard.created_at, Scorecard.id)
    )
    return list(found)


def scorecard_view(card: Scorecard, criteria: list[Criterion]) -> dict[str, Any]:
    ratings = card.ratings or {}
    return {
        "id": card.id,
        "author_id": card.author_id,
        "author_name": card.author_name,
        "ratings": [
            {
                "key": criterion.key,
                "label": criterion.label,
                "rating": ratings.get(criterion.key),
                "rating_label": RATINGS.get(ratings.get(criterion.key, 0)),
            }
            for criterion in criteria
        ],
        "notes": card.notes,
        "recommendation": card.recommendation,
        "recommendation_label": RECOMMENDATIONS.get(card.recommendation or ""),
        "updated_at": card.updated_at.isoformat() if card.updated_at else None,
    }
