"""Staff API for interviews: create (live or take-home), list, read, operations, end, archive.

Every read is scoped to the caller's organization: another organization's interview answers
404 exactly like a missing one.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Body, Query
from fastapi.responses import FileResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from prequel.auth.accounts import Principal
from prequel.challenges.library import get_latest
from prequel.db.models import Challenge, Interview
from prequel.db.types import utcnow
from prequel.domain.interviews import InterviewKind
from prequel.domain.rules import (
    DURATION_BOUNDS,
    VALID_DAYS,
    check_duration,
    check_valid_days,
)
from prequel.interviews import ending, inputs, listing, service
from prequel.interviews.errors import InterviewRefused
from prequel.interviews.views import staff_view
from prequel.jobs.queue import operation_view
from prequel.state import AppState
from prequel.storage.base import BlobError, BlobNotFound
from prequel.web.deps import DbSession, InterviewerPrincipal, StateDep, ViewerPrincipal
from prequel.web.errors import ApiError
from prequel.web.interview_support import commit, refusal

router = APIRouter(prefix="/api/interviews", tags=["interviews"])

LIVE_MINUTES = DURATION_BOUNDS[InterviewKind.LIVE]
TAKE_HOME_MINUTES = DURATION_BOUNDS[InterviewKind.TAKE_HOME]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such interview in your organization."},
    422: {"description": "Invalid input; the error names the field."},
}


# Request bodies ---------------------------------------------------------------------------


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_name: str = Field(max_length=1000, description="The candidate's full name.")
    challenge: str = Field(
        min_length=1, max_length=64, description="Slug of the challenge (its latest version)."
    )

    @field_validator("candidate_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return inputs.clean_name(value)


class LiveCreate(_Create):
    kind: Literal["live"]
    duration_minutes: int = Field(
        json_schema_extra={"minimum": LIVE_MINUTES[0], "maximum": LIVE_MINUTES[1]},
        description="Length of the interview, 30 to 240 minutes.",
    )
    scheduled_at: AwareDatetime | None = Field(
        default=None,
        description="When the interview starts (with a time zone). Leave out to start now; "
        "provisioning begins 5 minutes early.",
    )

    @field_validator("duration_minutes")
    @classmethod
    def _duration(cls, value: int) -> int:
        return check_duration(InterviewKind.LIVE, value)

    @field_validator("scheduled_at")
    @classmethod
    def _scheduled(cls, value: datetime | None) -> datetime | None:
        return inputs.check_scheduled_at(value, utcnow()) if value is not None else None


class TakeHomeCreate(_Create):
    kind: Literal["take_home"]
    candidate_email: str | None = Field(default=None, max_length=320)
    custom_instructions: str | None = Field(
        default=None,
        max_length=inputs.INSTRUCTIONS_MAX,
        description="Shown to the candidate before and during the test (Markdown).",
    )
    valid_days: int = Field(
        json_schema_extra={"minimum": VALID_DAYS[0], "maximum": VALID_DAYS[1]},
        description="Days the invitation may be started in, 1 to 30.",
    )
    duration_minutes: int = Field(
        json_schema_extra={"minimum": TAKE_HOME_MINUTES[0], "maximum": TAKE_HOME_MINUTES[1]},
        description="Time from the candidate's Start, 60 to 480 minutes.",
    )

    @field_validator("candidate_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return inputs.clean_email(value)

    @field_validator("custom_instructions")
    @classmethod
    def _instructions(cls, value: str | None) -> str | None:
        return inputs.clean_instructions(value)

    @field_validator("valid_days")
    @classmethod
    def _days(cls, value: int) -> int:
        return check_valid_days(value)

    @field_validator("duration_minutes")
    @classmethod
    def _duration(cls, value: int) -> int:
        return check_duration(InterviewKind.TAKE_HOME, value)


CreateBody = Annotated[LiveCreate | TakeHomeCreate, Body(discriminator="kind")]


# Helpers ----------------------------------------------------------------------------------


async def _challenge(db: AsyncSession, principal: Principal, slug: str) -> Challenge:
    challenge = await get_latest(db, principal.organization, slug)
    if challenge is None:
        message = (
            f"no challenge with slug {slug!r} in your organization; GET /api/challenges lists them"
        )
        raise ApiError(
            422,
            message,
            code="unknown_challenge",
            details=[{"field": "challenge", "message": message}],
        )
    return challenge


async def _interview(db: AsyncSession, principal: Principal, interview_id: str) -> Interview:
    interview = await service.get_for_org(db, principal.organization.id, interview_id)
    if interview is None:
        raise ApiError(
            404,
            f"no interview {interview_id[:64]!r} in your organization; "
            "GET /api/interviews lists them",
        )
    return interview


def _detail(interview: Interview, state: AppState, operations_count: int) -> dict[str, Any]:
    view = staff_view(interview, state.settings.public_url)
    if interview.kind == InterviewKind.LIVE.value:
        view["password"] = service.password_of(interview, state.settings)
    view["operations_count"] = operations_count
    return view


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def archive_filename(interview: Interview) -> str:
    """e.g. ada-lovelace_two-sum_2030-01-31.tar.gz: safe in any header and file system."""
    when = interview.destroyed_at or interview.completed_at or interview.created_at
    parts = [interview.candidate_name, interview.challenge_slug, when.strftime("%Y-%m-%d")]
    cleaned = [_UNSAFE.sub("-", part).strip("-.").lower()[:60] or "x" for part in parts]
    return "_".join(cleaned) + ".tar.gz"


def _temporary_path() -> Path:
    fd, name = tempfile.mkstemp(prefix="prequel-archive-", suffix=".tar.gz")
    os.close(fd)
    return Path(name)


# Routes -----------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    responses={
        **ERRORS,
        429: {"description": "Too many workspaces are starting; see Retry-After."},
    },
)
async def create_interview(
    body: CreateBody, principal: InterviewerPrincipal, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """Create a live interview (`kind: live`: starts now, or 5 minutes before `scheduled_at`)
    or a take-home invitation (`kind: take_home`: the candidate starts it from
    `candidate_url` within `valid_days`). A live interview's workspace `password` is in the
    answer; staff can read it again with GET /api/interviews/{id}."""
    challenge = await _challenge(db, principal, body.challenge)
    password: str | None = None
    try:
        if isinstance(body, LiveCreate):
            interview, password = await service.create_live(
                db,
                org_id=principal.organization.id,
                user_id=principal.user.id,
                challenge=challenge,
                candidate_name=body.candidate_name,
                duration_minutes=body.duration_minutes,
                scheduled_at=body.scheduled_at,
                settings=state.settings,
            )
        else:
            interview = await service.create_take_home(
                db,
                org_id=principal.organization.id,
                user_id=principal.user.id,
                challenge=challenge,
                candidate_name=body.candidate_name,
                candidate_email=body.candidate_email,
                custom_instructions=body.custom_instructions,
                valid_days=body.valid_days,
                duration_minutes=body.duration_minutes,
                settings=state.settings,
            )
    except InterviewRefused as exc:
        raise await refusal(db, state, exc) from exc
    await commit(db, state)
    view = staff_view(interview, state.settings.public_url)
    if password is not None:
        view["password"] = password
    return view


@router.get("", responses={422: ERRORS[422]})
async def list_interviews(
    principal: ViewerPrincipal,
    db: DbSession,
    state: StateDep,
    kind: InterviewKind | None = None,
    status: Annotated[
        list[str] | None,
        Query(
            max_length=20,
            description="Statuses to include: repeat the parameter or separate with commas.",
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=listing.MAX_QUERY,
            description="Text in the candidate's name or email or the challenge slug "
            "(case-insensitive).",
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=500, description="next_cursor from the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=listing.MAX_LIMIT)] = listing.DEFAULT_LIMIT,
    end_reason: Annotated[
        list[str] | None,
        Query(
            max_length=10,
            description="End reasons to include (time_up, ended_by_interviewer, revoked, "
            "expired, failed): repeat the parameter or separate with commas.",
        ),
    ] = None,
    ended_after: Annotated[
        AwareDatetime | None, Query(description="Only interviews that ended at or after this.")
    ] = None,
    ended_before: Annotated[
        AwareDatetime | None, Query(description="Only interviews that ended before this.")
    ] = None,
) -> dict[str, Any]:
    """Your organization's interviews, newest first, a page at a time. Pass `next_cursor`
    back as `cursor` for the next page; it is null on the last one."""
    try:
        page = await listing.list_interviews(
            db,
            principal.organization.id,
            kind=kind,
            statuses=listing.parse_statuses(status or []),
            q=q,
            cursor=cursor,
            limit=limit,
            end_reasons=listing.parse_end_reasons(end_reason or []),
            ended_after=ended_after,
            ended_before=ended_before,
        )
    except InterviewRefused as exc:
        raise await refusal(db, state, exc) from exc
    public_url = state.settings.public_url
    return {
        "items": [staff_view(interview, public_url) for interview in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/{interview_id}", responses={404: ERRORS[404]})
async def get_interview(
    interview_id: str, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """One interview, with the live workspace `password` and how many operations it has."""
    interview = await _interview(db, principal, interview_id)
    return _detail(interview, state, await service.count_operations(db, interview.id))


@router.get("/{interview_id}/operations", responses={404: ERRORS[404]})
async def list_operations(
    interview_id: str, principal: ViewerPrincipal, db: DbSession
) -> dict[str, Any]:
    """The interview's create and destroy jobs with their logs, newest first."""
    interview = await _interview(db, principal, interview_id)
    operations = await service.list_operations(db, interview.id)
    return {"operations": [operation_view(operation) for operation in operations]}


@router.post(
    "/{interview_id}/destroy",
    responses={**ERRORS, 409: {"description": "Already ending or ended."}},
)
async def destroy_interview(
    interview_id: str, principal: InterviewerPrincipal, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """End a live interview or revoke a take-home test. Before its workspace exists it closes
    at once; otherwise it moves to `destroying` while the work is archived and the workspace
    removed."""
    interview = await _interview(db, principal, interview_id)
    try:
        ended = await ending.request_end(db, interview, principal.user.id, state.settings)
    except InterviewRefused as exc:
        raise await refusal(db, state, exc) from exc
    await commit(db, state)
    return staff_view(ended, state.settings.public_url)


@router.get(
    "/{interview_id}/archive",
    response_class=FileResponse,
    status_code=200,
    responses={
        200: {"content": {"application/gzip": {}}, "description": "The saved workspace."},
        404: {"description": "No such interview, or no saved work yet."},
    },
)
async def download_archive(
    interview_id: str, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> FileResponse:
    """The candidate's saved work as a .tar.gz, written when the workspace was destroyed."""
    interview = await _interview(db, principal, interview_id)
    key = interview.history_key
    if not key:
        raise ApiError(
            404,
            "no saved work yet: the archive is written when the workspace is destroyed "
            f"(this interview is {interview.status})",
            code="no_archive",
        )
    path = await anyio.to_thread.run_sync(_temporary_path)
    try:
        await state.blobs.get_to_file(key, path)
    except BlobNotFound:
        await anyio.to_thread.run_sync(path.unlink)
        raise ApiError(
            404,
            f"the saved work of this interview ({key}) is missing from the blob store; "
            "ask an administrator to check the storage",
            code="no_archive",
        ) from None
    except BlobError as exc:
        await anyio.to_thread.run_sync(path.unlink)
        raise ApiError(
            503, f"the saved work cannot be read from the blob store right now: {exc}"
        ) from exc
    except BaseException:
        await anyio.to_thread.run_sync(path.unlink)
        raise
    return FileResponse(
        path,
        media_type="application/gzip",
        filename=archive_filename(interview),
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
