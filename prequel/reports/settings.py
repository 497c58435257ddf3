"""An organization's report settings: the scorecard's criteria and the overall score's
weights. Stored on the organization; None there means these defaults."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, field_validator

from prequel.db.models import Organization

DEFAULT_CRITERIA: list[dict[str, str]] = [
    {
        "key": "problem_solving",
        "label": "Problem solving",
        "description": "Understood the problem, found a working approach, handled edge cases.",
    },
    {
        "key": "code_quality",
        "label": "Code quality",
        "description": "Readable, well-structured code with sensible names.",
    },
    {
        "key": "testing",
        "label": "Testing",
        "description": "Checked their work: ran the tests, added cases, debugged methodically.",
    },
    {
        "key": "communication",
        "label": "Communication",
        "description": "Explained their thinking, asked good questions, took hints well.",
    },
]
# Percent points of the overall score; a part with no data is left out and the rest rescaled.
DEFAULT_WEIGHTS: dict[str, int] = {"hidden_tests": 50, "visible_tests": 30, "static_analysis": 20}
WEIGHT_LABELS = {
    "hidden_tests": "Hidden tests",
    "visible_tests": "Visible tests",
    "static_analysis": "Static analysis",
}
RATINGS = {1: "Poor", 2: "Mixed", 3: "Good", 4: "Excellent"}
RECOMMENDATIONS = {
    "strong_no": "Strong no",
    "no": "No",
    "yes": "Yes",
    "strong_yes": "Strong yes",
}
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Criterion(BaseModel):
    key: str = Field(description="Lower-case letters, digits and _, starting with a letter.")
    label: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY.match(value):
            raise ValueError("a key is 1 to 40 of a-z, 0-9 and _, starting with a letter")
        return value


class ReportSettings(BaseModel):
    criteria: list[Criterion] = Field(min_length=1, max_length=12)
    weights: dict[str, int]

    @field_validator("criteria")
    @classmethod
    def _unique(cls, value: list[Criterion]) -> list[Criterion]:
        keys = [criterion.key for criterion in value]
        if len(set(keys)) != len(keys):
            raise ValueError("each criterion needs its own key")
        return value

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise ValueError(
                f"unknown weight {unknown[0]!r}; the parts are {', '.join(DEFAULT_WEIGHTS)}"
            )
        if any(not 0 <= weight <= 100 for weight in value.values()):
            raise ValueError("each weight is 0 to 100")
        if not any(value.values()):
            raise ValueError("at least one weight must be above 0")
        return {key: value.get(key, 0) for key in DEFAULT_WEIGHTS}


def report_settings(org: Organization) -> ReportSettings:
    return ReportSettings(
        criteria=[Criterion(**c) for c in (org.scorecard_criteria or DEFAULT_CRITERIA)],
        weights=dict(org.score_weights or DEFAULT_WEIGHTS),
    )


def save_report_settings(org: Organization, settings: ReportSettings) -> dict[str, Any]:
    org.scorecard_criteria = [criterion.model_dump() for criterion in settings.criteria]
    org.score_weights = dict(settings.weights)
    return settings.model_dump()
