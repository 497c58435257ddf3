"""The report API: scorecards (one per interviewer, validated against the organization's
criteria), the report settings (admins only), and the report itself."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Interview, Organization
from tests.support.factories import make_challenge, make_interview


@pytest.fixture
async def interview(db: AsyncSession, org: Organization) -> Interview:
    challenge = await make_challenge(db, org)
    found = await make_interview(db, org, challenge, status="destroyed")
    await db.commit()
    return found


async def test_an_interviewer_saves_and_replaces_their_scorecard(
    interviewer_client: httpx.AsyncClient, interview: Interview
) -> None:
    url = f"/api/interviews/{interview.id}/scorecard"
    body = {
        "ratings": {"problem_solving": 4, "testing": 2},
        "notes": "Solid.",
        "recommendation": "yes",
    }
    saved = await interviewer_client.put(url, json=body)
    assert saved.status_code == 200, saved.text
    card = saved.json()
    ratings = {r["key"]: r["rating"] for r in card["ratings"]}
    assert ratings == {
        "problem_solving": 4,
        "code_quality": None,
        "testing": 2,
        "communication": None,
    }
    assert card["recommendation_label"] == "Yes"
    again = await interviewer_client.put(url, json={**body, "recommendation": "strong_yes"})
    assert again.json()["id"] == card["id"]  # replaced, not added
    report = (await interviewer_client.get(f"/api/interviews/{interview.id}/report")).json()
    assert len(report["scorecards"]) == 1
    assert report["scorecards"][0]["recommendation"] == "strong_yes"
    assert report["criteria"][0]["key"] == "problem_solving"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"ratings": {"charisma": 3}}, "no criterion 'charisma'"),
        ({"ratings": {"testing": 5}}, "must be 1 to 4"),
        ({"recommendation": "maybe"}, "recommendation"),
        ({"notes": "x" * 20_001}, "notes"),
    ],
)
async def test_bad_scorecards_get_a_clear_error(
    interviewer_client: httpx.AsyncClient, interview: Interview, body: object, fragment: str
) -> None:
    refused = await interviewer_client.put(f"/api/interviews/{interview.id}/scorecard", json=body)
    assert refused.status_code == 422
    assert fragment in refused.text


async def test_viewers_read_but_do_not_score(
    viewer_client: httpx.AsyncClient, interview: Interview
) -> None:
    assert (await viewer_client.get(f"/api/interviews/{interview.id}/report")).status_code == 200
    refused = await viewer_client.put(f"/api/interviews/{interview.id}/scorecard", json={})
    assert refused.status_code == 403
    missing = await viewer_client.get("/api/interviews/nope/report")
    assert missing.status_code == 404 and "no interview" in missing.json()["error"]["message"]


async def test_admins_set_the_criteria_and_weights(
    admin_client: httpx.AsyncClient,
    interviewer_client: httpx.AsyncClient,
    interview: Interview,
) -> None:
    defaults = (await admin_client.get("/api/settings/report")).json()
    assert defaults["weights"] == {"hidden_tests": 50, "visible_tests": 30, "static_analysis": 20}
    new = {
        "criteria": [{"key": "design", "label": "System design", "description": "Trade-offs"}],
        "weights": {"hidden_tests": 100, "visible_tests": 0},
    }
    saved = await admin_client.put("/api/settings/report", json=new)
    assert saved.status_code == 200, saved.text
    assert saved.json()["weights"] == {
        "hidden_tests": 100,
        "visible_tests": 0,
        "static_analysis": 0,
    }
    refused = await interviewer_client.put("/api/settings/report", json=new)
    assert refused.status_code == 403
    # Scorecards follow the new criteria.
    url = f"/api/interviews/{interview.id}/scorecard"
    assert (await interviewer_client.put(url, json={"ratings": {"testing": 3}})).status_code == 422
    card = await interviewer_client.put(url, json={"ratings": {"design": 3}})
    assert [r["label"] for r in card.json()["ratings"]] == ["System design"]
    report = (await interviewer_client.get(f"/api/interviews/{interview.id}/report")).json()
    weights = {p["key"]: p["weight"] for p in report["scores"]["overall"]["parts"]}
    assert weights == {"hidden_tests": 100, "visible_tests": 0, "static_analysis": 0}


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"criteria": [], "weights": {"hidden_tests": 1}}, "criteria"),
        ({"criteria": [{"key": "Bad Key", "label": "x"}], "weights": {}}, "a key is"),
        (
            {"criteria": [{"key": "a", "label": "A"}, {"key": "a", "label": "B"}], "weights": {}},
            "its own key",
        ),
        ({"criteria": [{"key": "a", "label": "A"}], "weights": {"luck": 5}}, "unknown weight"),
        ({"criteria": [{"key": "a", "label": "A"}], "weights": {"hidden_tests": 101}}, "0 to 100"),
        ({"criteria": [{"key": "a", "label": "A"}], "weights": {"hidden_tests": 0}}, "above 0"),
    ],
)
async def test_bad_report_settings_are_refused_with_the_reason(
    admin_client: httpx.AsyncClient, values: object, fragment: str
) -> None:
    refused = await admin_client.put("/api/settings/report", json=values)
    assert refused.status_code == 422
    assert fragment in refused.text
