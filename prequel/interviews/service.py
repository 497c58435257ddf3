"""Creating, starting and joining interviews (ending them: prequel.interviews.ending): the
decisions the API and the CLI share.

Every status change goes through the compare-and-set in prequel.interviews.transitions, so a
request racing the worker, the deadline timer or another request either wins cleanly or is
refused with a message; nothing is overwritten silently. Nothing here commits: the caller
commits with commit_and_publish so the staged events reach the SSE streams only if the change
did. A refusal is an InterviewRefused subclass carrying its HTTP status.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.db.models import Challenge, Interview, Operation, new_id
from prequel.db.types import utcnow
from prequel.domain.interviews import EndReason, InterviewKind, InterviewStatus
from prequel.domain.lifecycle import check_initial
from prequel.domain.rules import (
    RuleViolation,
    check_duration,
    check_valid_days,
    new_passcode,
    normalize_passcode,
    provisioning_starts_at,
)
from prequel.interviews import inputs
from prequel.interviews.credentials import check_password, decrypt_password, issue_password
from prequel.interviews.errors import (
    AlreadyStarted,
    Ended,
    Expired,
    InvalidInput,
    NotFound,
    NotReady,
    StartsCapped,
    WrongPassword,
)
from prequel.interviews.starts import RETRY_AFTER_SECONDS, count_starting, start_provisioning
from prequel.interviews.transitions import stage_interview_update, transition
from prequel.interviews.views import workspace_path
from prequel.settings import Settings

S = InterviewStatus
PASSCODE_ATTEMPTS = 5
ENDING = frozenset({S.DESTROYING, S.DESTROYED})

T = TypeVar("T")


def _checked(field: str, check: Callable[[], T]) -> T:
    try:
        return check()
    except RuleViolation as exc:
        raise InvalidInput(str(exc), field=field) from exc


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "an earlier date"


async def _check_start_cap(db: AsyncSession, settings: Settings) -> None:
    if await count_starting(db) >= settings.workspaces.max_concurrent_starts:
        raise StartsCapped(RETRY_AFTER_SECONDS)


# Creating ---------------------------------------------------------------------------------


async def create_live(
    db: AsyncSession,
    *,
    org_id: str,
    user_id: str | None,
    challenge: Challenge,
    candidate_name: str,
    duration_minutes: int,
    scheduled_at: datetime | None,
    settings: Settings,
) -> tuple[Interview, str]:
    """A live interview and its workspace password (the only time it is returned in plain).

    It starts provisioning now when it is due within the provisioning lead (5 minutes);
    otherwise the deadline timer starts it at provision_at."""
    now = utcnow()
    name = _checked("candidate_name", lambda: inputs.clean_name(candidate_name))
    minutes = _checked(
        "duration_minutes", lambda: check_duration(InterviewKind.LIVE, duration_minutes)
    )
    when = (
        _checked("scheduled_at", lambda: inputs.check_scheduled_at(scheduled_at, now))
        if scheduled_at is not None
        else None
    )
    check_initial(InterviewKind.LIVE, S.SCHEDULED)
    provision_at = now if when is None else max(now, provisioning_starts_at(when))
    start_now = provision_at <= now
    if start_now:
        await _check_start_cap(db, settings)
    issued = issue_password(settings.secret_key.get_secret_value())
    interview_id = new_id()
    interview = Interview(
        id=interview_id,
        org_id=org_id,
        kind=InterviewKind.LIVE.value,
        candidate_name=name,
        challenge_id=challenge.id,
        challenge_slug=challenge.slug,
        status=S.SCHEDULED.value,
        duration_minutes=minutes,
        scheduled_at=when,
        provision_at=provision_at,
        password_hash=issued.hash,
        password_encrypted=issued.encrypted,
        access_url=settings.public_url + workspace_path(interview_id),
        created_by_id=user_id,
        created_at=now,
        updated_at=now,
    )
    db.add(interview)
    await db.flush()
    stage_interview_update(db, interview, settings.public_url)
    if start_now:
        started = await start_provisioning(
            db,
            interview_id,
            public_url=settings.public_url,
            note=f"live interview with {name} created; starting its workspace now",
        )
        if started is not None:
            interview = started
    return interview, issued.plain


async def _open_outer_transaction(db: AsyncSession) -> None:
    """pysqlite opens a transaction only at the first write, so a SAVEPOINT issued before
    any write becomes the outermost transaction and its RELEASE commits on its own. Begin
    the outer transaction first so the savepoint nests and the caller's rollback covers it."""
    connection = await db.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = await connection.get_raw_connection()
    if not getattr(raw.driver_connection, "in_transaction", True):
        await connection.exec_driver_sql("BEGIN")


async def _passcode_taken(db: AsyncSession, passcode: str) -> bool:
    found = await db.execute(select(Interview.id).where(Interview.passcode == passcode))
    return found.first() is not None


async def create_take_home(
    db: AsyncSession,
    *,
    org_id: str,
    user_id: str | None,
    challenge: Challenge,
    candidate_name: str,
    candidate_email: str | None,
    custom_instructions: str | None,
    valid_days: int,
    duration_minutes: int,
    settings: Settings,
) -> Interview:
    """A take-home invitation with a new unique passcode, valid for valid_days."""
    now = utcnow()
    name = _checked("candidate_name", lambda: inputs.clean_name(candidate_name))
    email = _checked("candidate_email", lambda: inputs.clean_email(candidate_email))
    instructions = _checked(
        "custom_instructions", lambda: inputs.clean_instructions(custom_instructions)
    )
    days = _checked("valid_days", lambda: check_valid_days(valid_days))
    minutes = _checked(
        "duration_minutes", lambda: check_duration(InterviewKind.TAKE_HOME, duration_minutes)
    )
    check_initial(InterviewKind.TAKE_HOME, S.INVITED)
    await _open_outer_transaction(db)
    for _ in range(PASSCODE_ATTEMPTS):
        passcode = new_passcode()
        interview = Interview(
            id=new_id(),
            org_id=org_id,
            kind=InterviewKind.TAKE_HOME.value,
            candidate_name=name,
            candidate_email=email,
            challenge_id=challenge.id,
            challenge_slug=challenge.slug,
            status=S.INVITED.value,
            passcode=passcode,
            valid_until=now + timedelta(days=days),
            custom_instructions=instructions,
            duration_minutes=minutes,
            created_by_id=user_id,
            created_at=now,
            updated_at=now,
        )
        try:
            # A savepoint: a passcode collision undoes this insert only.
            async with db.begin_nested():
                db.add(interview)
        except IntegrityError:
            if await _passcode_taken(db, passcode):
                continue
            raise
        stage_interview_update(db, interview, settings.public_url)
        return interview
    raise RuntimeError(
        f"no unused passcode found in {PASSCODE_ATTEMPTS} tries; the passcode space is "
        "nearly full or the random source is broken"
    )


# Reading ----------------------------------------------------------------------------------


async def get_for_org(db: AsyncSession, org_id: str, interview_id: str) -> Interview | None:
    """An interview of this organization; another organization's is as good as missing."""
    interview = await db.get(Interview, interview_id)
    if interview is None or interview.org_id != org_id:
        return None
    return interview


def same_passcode(stored: str, given: str) -> bool:
    """Constant-time comparison, so response timing says nothing about a near miss."""
    return hmac.compare_digest(stored.encode(), given.encode())


async def find_by_passcode(db: AsyncSession, text: str) -> Interview | None:
    """The take-home whose passcode a person typed (case, spaces and dashes forgiven)."""
    passcode = normalize_passcode(text)
    if passcode is None:
        return None
    interview = await db.scalar(select(Interview).where(Interview.passcode == passcode))
    if interview is None or interview.passcode is None:
        return None
    # The index found the row; compare again in constant time before trusting the match.
    if not same_passcode(interview.passcode, passcode):
        return None
    return interview


def password_of(interview: Interview, settings: Settings) -> str | None:
    """The live interview's workspace password for staff; None for take-homes, or when the
    secret key changed since the interview was created."""
    return decrypt_password(interview.password_encrypted, settings.secret_key.get_secret_value())


async def list_operations(db: AsyncSession, interview_id: str) -> list[Operation]:
    rows = await db.scalars(
        select(Operation)
        .where(Operation.interview_id == interview_id)
        .order_by(Operation.created_at.desc(), Operation.id.desc())
    )
    return list(rows)


async def count_operations(db: AsyncSession, interview_id: str) -> int:
    count = await db.scalar(
        select(func.count()).select_from(Operation).where(Operation.interview_id == interview_id)
    )
    return int(count or 0)


# Starting a take-home ---------------------------------------------------------------------


def _ended(interview: Interview) -> Ended | Expired:
    reason = interview.end_reason
    if reason == EndReason.EXPIRED.value:
        return Expired(
            f"this invitation expired on {_day(interview.valid_until)}; "
            "ask your interviewer for a new one"
        )
    if reason == EndReason.REVOKED.value:
        return Ended(
            "this take-home test was withdrawn by your interviewer; contact them if you "
            "think this is a mistake"
        )
    if reason == EndReason.FAILED.value:
        return Ended("this take-home test failed to run; contact your interviewer")
    return Ended("this take-home test is over; your work has been saved")


def _not_startable(interview: Interview) -> AlreadyStarted | Ended | Expired:
    status = S(interview.status)
    if status in ENDING:
        return _ended(interview)
    return AlreadyStarted(
        f"this take-home test was already started on {_day(interview.activated_at)} and "
        "can be started only once; reload the page to follow it"
    )


async def activate(db: AsyncSession, interview: Interview, settings: Settings) -> Interview:
    """The candidate's Start: invited -> activated -> initializing plus the create job, in
    the caller's transaction. Exactly one of concurrent activations wins the CAS."""
    if interview.kind != InterviewKind.TAKE_HOME.value:
        raise NotFound("this is not a take-home test; use the join link you were given")
    now = utcnow()
    if S(interview.status) is not S.INVITED:
        raise _not_startable(interview)
    if interview.valid_until is not None and interview.valid_until <= now:
        # Close it now rather than wait for the timer; Expired keeps this change.
        await transition(
            db,
            interview.id,
            S.DESTROYED,
            public_url=settings.public_url,
            expected=(S.INVITED,),
            end_reason=EndReason.EXPIRED,
        )
        raise Expired(
            f"this invitation expired on {_day(interview.valid_until)}; "
            "ask your interviewer for a new one"
        )
    await _check_start_cap(db, settings)
    # The candidate's workspace password, shown on their page once the workspace runs: it
    # lets them open the workspace from another browser or device.
    issued = issue_password(settings.secret_key.get_secret_value())
    activated = await transition(
        db,
        interview.id,
        S.ACTIVATED,
        public_url=settings.public_url,
        expected=(S.INVITED,),
        fields={
            "activated_at": now,
            "password_hash": issued.hash,
            "password_encrypted": issued.encrypted,
        },
    )
    if activated is None:
        await db.refresh(interview)
        raise _not_startable(interview)
    started = await start_provisioning(
        db,
        interview.id,
        public_url=settings.public_url,
        note=f"{interview.candidate_name} started the take-home test",
    )
    if started is None:  # pragma: no cover - the row is ours until commit
        raise AlreadyStarted("this take-home test is already starting; reload the page")
    return started


# Joining a workspace ----------------------------------------------------------------------


def _join_refusal(interview: Interview) -> Ended | Expired | NotReady | None:
    """Why a candidate with the right password still cannot get in, if they cannot."""
    status = S(interview.status)
    live = interview.kind == InterviewKind.LIVE.value
    if status in ENDING:
        if live:
            return Ended("this interview has ended; thank you for taking part")
        return _ended(interview)
    if status is S.ERROR:
        return NotReady(
            "the workspace for this interview failed to start; your interviewer can see "
            "the error and will restart it or send a new link"
        )
    return None


async def join_workspace(
    db: AsyncSession,
    interview: Interview,
    password: str,
    display_name: str | None,
    settings: Settings,
) -> Interview:
    """Check the workspace password. A live interview's candidate also gives the name the
    interviewer sees; a take-home's candidate (who got the password from their own page,
    to open the workspace elsewhere) gives none."""
    live = interview.kind == InterviewKind.LIVE.value
    name = (
        _checked("display_name", lambda: inputs.clean_display_name(display_name or ""))
        if live
        else None
    )
    if not check_password(interview.password_hash, password):
        raise WrongPassword(
            "wrong workspace password; check it with your interviewer "
            "(it looks like abcd-efgh-jkmn)"
            if live
            else "wrong workspace password; it is shown on your take-home test's page "
            "(it looks like abcd-efgh-jkmn)",
            field="password",
        )
    refused = _join_refusal(interview)
    if refused is not None:
        raise refused
    if name is not None:
        interview.candidate_display_name = name
        interview.updated_at = utcnow()
        await db.flush()
        stage_interview_update(db, interview, settings.public_url)
    return interview
