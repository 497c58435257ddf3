"""The status timeline from real events rows, written by the real transitions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Event, Interview, Organization
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewStatus
from prequel.interviews import service
from prequel.interviews.timeline import fold, from_row, interview_timeline, latest_seq
from prequel.interviews.transitions import stage_interview_update, transition
from prequel.realtime.outbox import commit_and_publish, stage_event
from prequel.settings import Settings
from tests.support.factories import make_challenge, make_interview

S = InterviewStatus


async def _take_home(
    db: AsyncSession, org: Organization, settings: Settings, slug: str = "demo"
) -> Interview:
    interview = await service.create_take_home(
        db,
        org_id=org.id,
        user_id=None,
        challenge=await make_challenge(db, org, slug=slug),
        candidate_name="Grace Hopper",
        candidate_email=None,
        custom_instructions=None,
        valid_days=2,
        duration_minutes=60,
        settings=settings,
    )
    await commit_and_publish(db, None)
    return interview


async def _move(
    db: AsyncSession, interview: Interview, target: S, reason: EndReason | None = None
) -> None:
    moved = await transition(db, interview.id, target, public_url="http://x", end_reason=reason)
    assert moved is not None, target
    await commit_and_publish(db, None)


async def test_one_entry_per_status_in_order(
    db: AsyncSession, org: Organization, settings: Settings
) -> None:
    interview = await _take_home(db, org, settings)
    for status in (S.ACTIVATED, S.INITIALIZING, S.CONFIGURING, S.ACTIVE):
        await _move(db, interview, status)
    # An update that changes no status (a new access URL, say) adds no entry.
    stage_interview_update(db, interview, "http://x")
    await commit_and_publish(db, None)
    await _move(db, interview, S.DESTROYING, EndReason.REVOKED)
    await _move(db, interview, S.DESTROYED, EndReason.REVOKED)

    entries = await interview_timeline(db, interview)
    assert [(e.status, e.end_reason) for e in entries] == [
        ("invited", None),
        ("activated", None),
        ("initializing", None),
        ("configuring", None),
        ("active", None),
        ("destroying", "revoked"),
        ("destroyed", "revoked"),
    ]
    seqs = [e.seq or 0 for e in entries]
    assert all(seqs) and seqs == sorted(seqs)
    times = [e.at for e in entries]
    assert times == sorted(times) and utcnow() - times[0] < timedelta(minutes=1)
    # Eight staff updates (and eight candidate copies) made those seven entries.
    rows = list(await db.scalars(select(Event).where(Event.interview_id == interview.id)))
    audiences = [r.audience for r in rows if r.type == "interview_update"]
    assert (audiences.count("staff"), audiences.count("candidate")) == (8, 8)


async def test_only_this_interviews_staff_events_count(
    db: AsyncSession, org: Organization, settings: Settings
) -> None:
    first = await _take_home(db, org, settings)
    second = await _take_home(db, org, settings, slug="other")
    await _move(db, second, S.DESTROYED, EndReason.REVOKED)
    # A candidate-only event for the first one must not show on the staff timeline.
    stage_event(
        db,
        "interview_update",
        org_id=org.id,
        interview_id=first.id,
        audience="candidate",
        payload={"status": "active"},
    )
    await commit_and_publish(db, None)
    assert [e.status for e in await interview_timeline(db, first)] == ["invited"]
    assert [e.status for e in await interview_timeline(db, second)] == ["invited", "destroyed"]


async def test_without_events_the_row_tells_the_story(db: AsyncSession, org: Organization) -> None:
    now = utcnow()
    interview = await make_interview(
        db,
        org,
        await make_challenge(db, org),
        kind="live",
        status="destroyed",
        end_reason="time_up",
        created_at=now - timedelta(hours=2),
        started_at=now - timedelta(hours=1),
        destroyed_at=now,
    )
    await db.commit()
    entries = await interview_timeline(db, interview)
    assert [(e.status, e.end_reason, e.seq) for e in entries] == [
        ("scheduled", None, None),
        ("active", None, None),
        ("destroyed", "time_up", None),
    ]
    assert entries[-1].at == now


def test_fold_skips_unknown_payloads_and_repeats() -> None:
    now = utcnow()
    entries = fold(
        [
            (1, now, {"status": "invited"}),
            (2, now, {"no": "status"}),
            (3, now, {"status": "invited"}),
            (4, now, {"status": "destroying", "end_reason": None}),
            (5, now, {"status": "destroying", "end_reason": "revoked"}),
        ]
    )
    assert [(e.seq, e.status, e.end_reason) for e in entries] == [
        (1, "invited", None),
        (4, "destroying", None),
        (5, "destroying", "revoked"),
    ]
    row = Interview(kind="take_home", status="invited", created_at=now, updated_at=now)
    assert [e.status for e in from_row(row)] == ["invited"]


async def test_latest_seq_is_where_a_page_resumes_its_stream(
    db: AsyncSession, org: Organization, settings: Settings
) -> None:
    assert await latest_seq(db, org.id) == 0
    interview = await _take_home(db, org, settings)
    staff = await db.scalar(
        select(Event.seq)
        .where(Event.interview_id == interview.id, Event.audience == "staff")
        .order_by(Event.seq.desc())
    )
    # The candidate copy comes after the staff one; a staff page resumes after its own.
    assert await latest_seq(db, org.id) == staff
    other = Organization(slug="globex", name="Globex")
    db.add(other)
    await db.commit()
    assert await latest_seq(db, other.id) == 0
