"""The interview services on SQLite and PostgreSQL: creation, activation, ending, joining."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Event, Interview, Operation, Organization, User
from prequel.db.types import utcnow
from prequel.domain.rules import PASSCODE_ALPHABET, PASSCODE_LENGTH, PROVISION_LEAD
from prequel.interviews import service
from prequel.interviews.credentials import decrypt_password
from prequel.interviews.ending import request_end
from prequel.interviews.errors import (
    AlreadyEnding,
    AlreadyStarted,
    Ended,
    Expired,
    InvalidInput,
    NotFound,
    StartsCapped,
    WrongPassword,
)
from prequel.realtime.outbox import commit_and_publish
from prequel.settings import Settings
from prequel.state import AppState
from tests.conftest import MakeUser
from tests.support.factories import make_challenge, make_interview


@pytest.fixture
async def challenge(db: AsyncSession, org: Organization) -> Challenge:
    made = await make_challenge(db, org)
    await db.commit()
    return made


@pytest.fixture
async def user(make_user: MakeUser) -> User:
    return await make_user()


async def _take_home(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, **extra: object
) -> Interview:
    values: dict[str, object] = {
        "candidate_name": "Ada Lovelace",
        "candidate_email": None,
        "custom_instructions": None,
        "valid_days": 3,
        "duration_minutes": 120,
        **extra,
    }
    interview = await service.create_take_home(
        db,
        org_id=org.id,
        user_id=None,
        challenge=challenge,
        settings=settings,
        **values,  # type: ignore[arg-type]
    )
    await commit_and_publish(db, None)
    return interview


async def _operations(db: AsyncSession, interview_id: str) -> list[Operation]:
    rows = await db.scalars(
        select(Operation)
        .where(Operation.interview_id == interview_id)
        .order_by(Operation.created_at)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def _reload(db: AsyncSession, interview_id: str) -> Interview:
    interview = await db.get(Interview, interview_id, populate_existing=True)
    assert interview is not None
    return interview


# Take-home creation -------------------------------------------------------------------------


async def test_take_home_gets_a_unique_passcode_and_window(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    before = utcnow()
    interview = await _take_home(
        db, settings, org, challenge, candidate_email=" Ada@Example.COM ", valid_days=7
    )
    assert interview.status == "invited"
    assert interview.passcode is not None
    assert len(interview.passcode) == PASSCODE_LENGTH
    assert set(interview.passcode) <= set(PASSCODE_ALPHABET)
    assert interview.candidate_email == "ada@example.com"
    assert interview.valid_until is not None
    assert before + timedelta(days=7) <= interview.valid_until <= utcnow() + timedelta(days=7)
    events = list(await db.scalars(select(Event).where(Event.interview_id == interview.id)))
    assert {(e.type, e.audience) for e in events} == {
        ("interview_update", "staff"),
        ("interview_update", "candidate"),
    }


async def test_passcode_collision_is_retried_inside_the_transaction(
    db: AsyncSession,
    settings: Settings,
    org: Organization,
    challenge: Challenge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken_id = (await make_interview(db, org, challenge, passcode="ACDEFGHJ")).id
    await db.commit()
    codes: Iterator[str] = iter(["ACDEFGHJ", "ACDEFGHJ", "KMNPQRTU"])
    monkeypatch.setattr(service, "new_passcode", lambda: next(codes))
    interview = await service.create_take_home(
        db,
        org_id=org.id,
        user_id=None,
        challenge=challenge,
        candidate_name="Grace Hopper",
        candidate_email=None,
        custom_instructions=None,
        valid_days=2,
        duration_minutes=60,
        settings=settings,
    )
    assert interview.passcode == "KMNPQRTU"
    # The retry used a savepoint: the caller's transaction still decides, on SQLite too.
    interview_id = interview.id
    await db.rollback()
    assert await db.get(Interview, interview_id) is None
    assert await db.get(Interview, taken_id) is not None


async def test_take_home_inputs_are_checked(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    with pytest.raises(InvalidInput, match="1 to 30 days") as caught:
        await _take_home(db, settings, org, challenge, valid_days=31)
    assert caught.value.field == "valid_days"
    with pytest.raises(InvalidInput, match="60 to 480 minutes"):
        await _take_home(db, settings, org, challenge, duration_minutes=30)
    with pytest.raises(InvalidInput) as caught:
        await _take_home(db, settings, org, challenge, candidate_email="not-an-email")
    assert caught.value.field == "candidate_email"


async def test_find_by_passcode_forgives_typing(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    interview = await _take_home(db, settings, org, challenge)
    assert interview.passcode is not None
    typed = f" {interview.passcode[:4].lower()}-{interview.passcode[4:]} "
    found = await service.find_by_passcode(db, typed)
    assert found is not None and found.id == interview.id
    assert await service.find_by_passcode(db, "KMNPQRTX") is None
    assert await service.find_by_passcode(db, "not a passcode at all") is None


# Live creation ------------------------------------------------------------------------------


async def test_live_scheduled_later_waits_for_its_timer(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, user: User
) -> None:
    at = utcnow() + timedelta(hours=1)
    interview, password = await service.create_live(
        db,
        org_id=org.id,
        user_id=user.id,
        challenge=challenge,
        candidate_name="Alan Turing",
        duration_minutes=60,
        scheduled_at=at,
        settings=settings,
    )
    await commit_and_publish(db, None)
    assert interview.status == "scheduled"
    assert interview.provision_at == at - PROVISION_LEAD
    assert interview.access_url == f"{settings.public_url}/w/{interview.id}/"
    assert await _operations(db, interview.id) == []
    assert interview.password_hash and password not in interview.password_hash
    assert interview.password_encrypted and password not in interview.password_encrypted
    assert service.password_of(interview, settings) == password


@pytest.mark.parametrize("minutes_ahead", [None, 3])
async def test_live_due_within_the_lead_starts_now(
    db: AsyncSession,
    settings: Settings,
    org: Organization,
    challenge: Challenge,
    minutes_ahead: int | None,
) -> None:
    at = utcnow() + timedelta(minutes=minutes_ahead) if minutes_ahead is not None else None
    interview, _ = await service.create_live(
        db,
        org_id=org.id,
        user_id=None,
        challenge=challenge,
        candidate_name="Alan Turing",
        duration_minutes=45,
        scheduled_at=at,
        settings=settings,
    )
    await commit_and_publish(db, None)
    assert interview.status == "initializing"
    assert interview.provision_at is not None and interview.provision_at <= utcnow()
    operations = await _operations(db, interview.id)
    assert [(op.type, op.status) for op in operations] == [("create", "pending")]


async def test_live_start_respects_the_concurrent_start_cap(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    settings.workspaces.max_concurrent_starts = 1
    await make_interview(db, org, challenge, status="configuring")
    await db.commit()
    with pytest.raises(StartsCapped) as caught:
        await service.create_live(
            db,
            org_id=org.id,
            user_id=None,
            challenge=challenge,
            candidate_name="Alan Turing",
            duration_minutes=45,
            scheduled_at=None,
            settings=settings,
        )
    assert caught.value.status == 429
    assert caught.value.headers == {"Retry-After": str(caught.value.retry_after)}


# Activation ---------------------------------------------------------------------------------


async def test_activation_starts_provisioning_once(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    interview = await _take_home(db, settings, org, challenge)
    started = await service.activate(db, interview, settings)
    await commit_and_publish(db, None)
    assert started.status == "initializing"
    assert started.activated_at is not None
    operations = await _operations(db, interview.id)
    assert [(op.type, op.status) for op in operations] == [("create", "pending")]
    updates = await db.scalars(
        select(Event).where(Event.interview_id == interview.id, Event.type == "interview_update")
    )
    seen = {(e.audience, e.payload["status"]) for e in updates}
    assert {("staff", "initializing"), ("candidate", "initializing")} <= seen
    assert ("candidate", "activated") in seen

    with pytest.raises(AlreadyStarted, match="only once"):
        await service.activate(db, await _reload(db, interview.id), settings)


async def test_expired_invitation_is_closed_on_activation(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    interview = await make_interview(
        db, org, challenge, passcode="ACDEFGHJ", valid_until=utcnow() - timedelta(minutes=1)
    )
    await db.commit()
    with pytest.raises(Expired) as caught:
        await service.activate(db, interview, settings)
    assert caught.value.status == 410 and caught.value.keep_changes
    await commit_and_publish(db, None)
    closed = await _reload(db, interview.id)
    assert (closed.status, closed.end_reason) == ("destroyed", "expired")
    assert await _operations(db, interview.id) == []


async def test_revoked_invitation_cannot_be_started(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, user: User
) -> None:
    interview = await _take_home(db, settings, org, challenge)
    await request_end(db, interview, user.id, settings)
    await commit_and_publish(db, None)
    with pytest.raises(Ended, match="withdrawn"):
        await service.activate(db, await _reload(db, interview.id), settings)


async def test_concurrent_activations_have_exactly_one_winner(
    app_state: AppState,
    db: AsyncSession,
    settings: Settings,
    org: Organization,
    challenge: Challenge,
) -> None:
    interview = await _take_home(db, settings, org, challenge)

    async def attempt() -> bool:
        async with app_state.sessions() as session:
            mine = await session.get(Interview, interview.id)
            assert mine is not None
            try:
                await service.activate(session, mine, settings)
            except AlreadyStarted:
                await session.rollback()
                return False
            await commit_and_publish(session, None)
            return True

    results = await asyncio.gather(*(attempt() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    operations = await _operations(db, interview.id)
    assert [(op.type, op.status) for op in operations] == [("create", "pending")]


async def test_a_live_interview_is_not_activated(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    live = await make_interview(db, org, challenge, kind="live", status="scheduled")
    await db.commit()
    with pytest.raises(NotFound):
        await service.activate(db, live, settings)


# Ending -------------------------------------------------------------------------------------


async def test_revoke_before_start_closes_without_operations(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, user: User
) -> None:
    interview = await _take_home(db, settings, org, challenge)
    ended = await request_end(db, interview, user.id, settings)
    await commit_and_publish(db, None)
    assert (ended.status, ended.end_reason, ended.ended_by_id) == (
        "destroyed",
        "revoked",
        user.id,
    )
    assert ended.destroyed_at is not None
    assert await _operations(db, interview.id) == []
    with pytest.raises(AlreadyEnding, match="already ended"):
        await request_end(db, ended, user.id, settings)


async def test_ending_a_scheduled_live_interview(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, user: User
) -> None:
    interview, _ = await service.create_live(
        db,
        org_id=org.id,
        user_id=user.id,
        challenge=challenge,
        candidate_name="Alan Turing",
        duration_minutes=60,
        scheduled_at=utcnow() + timedelta(days=1),
        settings=settings,
    )
    await commit_and_publish(db, None)
    ended = await request_end(db, interview, user.id, settings)
    await commit_and_publish(db, None)
    assert (ended.status, ended.end_reason) == ("destroyed", "ended_by_interviewer")


async def test_revoke_during_start_destroys_the_workspace(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, user: User
) -> None:
    interview = await _take_home(db, settings, org, challenge)
    started = await service.activate(db, interview, settings)
    await commit_and_publish(db, None)
    ending = await request_end(db, started, user.id, settings)
    await commit_and_publish(db, None)
    assert (ending.status, ending.end_reason, ending.ended_by_id) == (
        "destroying",
        "revoked",
        user.id,
    )
    operations = await _operations(db, interview.id)
    assert [(op.type, op.status) for op in operations] == [
        ("create", "cancelled"),
        ("destroy", "pending"),
    ]
    with pytest.raises(AlreadyEnding, match="already being ended"):
        await request_end(db, ending, user.id, settings)


async def test_ending_a_running_create_keeps_it_and_queues_one_destroy(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, user: User
) -> None:
    interview = await make_interview(db, org, challenge, kind="live", status="active")
    db.add(Operation(type="create", interview_id=interview.id, status="running", logs=[]))
    await db.commit()
    ending = await request_end(db, interview, user.id, settings)
    await commit_and_publish(db, None)
    assert (ending.status, ending.end_reason) == ("destroying", "ended_by_interviewer")
    operations = await _operations(db, interview.id)
    assert sorted((op.type, op.status) for op in operations) == [
        ("create", "running"),
        ("destroy", "pending"),
    ]


# Joining ------------------------------------------------------------------------------------


async def test_join_checks_the_password_and_records_the_name(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge, user: User
) -> None:
    interview, password = await service.create_live(
        db,
        org_id=org.id,
        user_id=user.id,
        challenge=challenge,
        candidate_name="Alan Turing",
        duration_minutes=60,
        scheduled_at=utcnow() + timedelta(hours=2),
        settings=settings,
    )
    await commit_and_publish(db, None)
    with pytest.raises(WrongPassword) as caught:
        await service.join_workspace(db, interview, "aaaa-bbbb-cccc", "Alan", settings)
    assert caught.value.status == 403
    joined = await service.join_workspace(db, interview, password.upper(), "  Alan   T. ", settings)
    await commit_and_publish(db, None)
    assert joined.candidate_display_name == "Alan T."
    with pytest.raises(InvalidInput) as bad_name:
        await service.join_workspace(db, interview, password, "   ", settings)
    assert bad_name.value.field == "display_name"

    ended = await request_end(db, joined, user.id, settings)
    await commit_and_publish(db, None)
    with pytest.raises(Ended, match="has ended"):
        await service.join_workspace(db, ended, password, "Alan", settings)


async def test_a_take_home_is_joined_with_the_password_issued_at_start(
    db: AsyncSession, settings: Settings, org: Organization, challenge: Challenge
) -> None:
    interview = await _take_home(db, settings, org, challenge)
    assert interview.password_hash is None
    # No password before the Start: nothing can be joined yet.
    with pytest.raises(WrongPassword, match="shown on your take-home test's page"):
        await service.join_workspace(db, interview, "abcd-efgh-jkmn", None, settings)
    started = await service.activate(db, interview, settings)
    await commit_and_publish(db, None)
    password = decrypt_password(started.password_encrypted, settings.secret_key.get_secret_value())
    assert password is not None and started.password_hash
    with pytest.raises(WrongPassword):
        await service.join_workspace(db, started, "abcd-efgh-jkmn", None, settings)
    joined = await service.join_workspace(db, started, password, None, settings)
    assert joined.candidate_display_name is None

    ended = await request_end(db, joined, None, settings)
    await commit_and_publish(db, None)
    with pytest.raises(Ended, match="withdrawn"):
        await service.join_workspace(db, ended, password, None, settings)
