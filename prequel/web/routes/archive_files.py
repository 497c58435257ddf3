"""Staff API to read an interview's saved work in place: the archive's file list and one
file's text, so the History page can show code without a download."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import Principal
from prequel.db.models import Interview
from prequel.interviews import archive_files, service
from prequel.interviews.archive_files import (
    ArchiveEntry,
    ArchiveListing,
    ArchiveMissing,
    ArchiveProblem,
    ArchiveUnreadable,
    BinaryFile,
    EntryNotFound,
    FileTooLarge,
    InvalidPath,
    NotAFile,
    TextFile,
)
from prequel.state import AppState
from prequel.storage.base import BlobError
from prequel.web.deps import DbSession, StateDep, ViewerPrincipal
from prequel.web.errors import ApiError

router = APIRouter(prefix="/api/interviews", tags=["saved work"])

NOT_FOUND = "No such interview in your organization, no saved work yet, or no such file."
LIST_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": NOT_FOUND},
    422: {"description": "The archive is damaged or unpacks to too much to read."},
    503: {"description": "The blob store cannot be reached right now."},
}
FILE_ERRORS: dict[int | str, dict[str, Any]] = {
    **LIST_ERRORS,
    413: {
        "description": "The file is larger than the 1 MiB shown in the page (code file_too_large)."
    },
    422: {
        "description": "Not viewable text: binary_file, not_a_file (a folder or link), "
        "invalid_path (absolute or '..'), or a damaged archive (archive_unreadable)."
    },
}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def entry_view(entry: ArchiveEntry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "kind": entry.kind,
        "size": entry.size,
        "modified_at": _iso(entry.modified_at),
        "target": entry.target,
    }


def listing_view(interview: Interview, listing: ArchiveListing) -> dict[str, Any]:
    return {
        "interview_id": interview.id,
        "archive": {"key": interview.history_key, "size": interview.history_size},
        "entries": [entry_view(entry) for entry in listing.entries],
        "file_count": listing.file_count,
        "total_bytes": listing.total_bytes,
        "truncated": listing.truncated,
        "skipped": listing.skipped,
    }


def file_view(text: TextFile) -> dict[str, Any]:
    return {
        "path": text.path,
        "size": text.size,
        "modified_at": _iso(text.modified_at),
        "encoding": "utf-8",
        "line_count": text.line_count,
        "content": text.text,
    }


def problem_error(exc: ArchiveProblem) -> ApiError:
    """The JSON error for a saved-work problem (also used by the pages for their status)."""
    message = str(exc)
    if isinstance(exc, ArchiveMissing):
        return ApiError(404, message, code="no_archive")
    if isinstance(exc, EntryNotFound):
        return ApiError(404, message, code="no_such_file")
    if isinstance(exc, FileTooLarge):
        return ApiError(
            413, message, code="file_too_large", details={"size": exc.size, "limit": exc.limit}
        )
    if isinstance(exc, BinaryFile):
        return ApiError(422, message, code="binary_file", details={"size": exc.size})
    if isinstance(exc, NotAFile):
        return ApiError(422, message, code="not_a_file")
    if isinstance(exc, InvalidPath):
        return ApiError(422, message, code="invalid_path")
    if isinstance(exc, ArchiveUnreadable):
        return ApiError(422, message, code="archive_unreadable")
    return ApiError(422, message)


def storage_error(exc: BlobError) -> ApiError:
    return ApiError(503, f"the saved work cannot be read from the blob store right now: {exc}")


async def saved_interview(db: AsyncSession, principal: Principal, interview_id: str) -> Interview:
    """The caller's organization's interview that has saved work; 404 otherwise."""
    interview = await service.get_for_org(db, principal.organization.id, interview_id)
    if interview is None:
        raise ApiError(
            404,
            f"no interview {interview_id[:64]!r} in your organization; "
            "GET /api/interviews lists them",
        )
    if not interview.history_key:
        raise ApiError(
            404,
            "no saved work yet: the archive is written when the workspace is destroyed "
            f"(this interview is {interview.status})",
            code="no_archive",
        )
    return interview


async def read_listing(state: AppState, interview: Interview) -> ArchiveListing:
    assert interview.history_key is not None
    try:
        return await archive_files.list_saved(state.blobs, interview.history_key)
    except ArchiveProblem as exc:
        raise problem_error(exc) from exc
    except BlobError as exc:
        raise storage_error(exc) from exc


@router.get("/{interview_id}/archive/files", responses=LIST_ERRORS)
async def list_saved_files(
    interview_id: str, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """Every file, folder and link in the interview's saved work, sorted by path. Links are
    listed with their `target` and never followed; entries with unsafe names (absolute,
    `..`) are left out and counted in `skipped`. At most 10,000 entries (`truncated`)."""
    interview = await saved_interview(db, principal, interview_id)
    return listing_view(interview, await read_listing(state, interview))


@router.get("/{interview_id}/archive/files/{path:path}", responses=FILE_ERRORS)
async def read_saved_file(
    interview_id: str, path: str, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> dict[str, Any]:
    """One text file of the saved work: its UTF-8 `content`, size and line count. Files
    over 1 MiB answer 413 and binary files 422; download the archive for those."""
    interview = await saved_interview(db, principal, interview_id)
    assert interview.history_key is not None
    try:
        text = await archive_files.read_saved(state.blobs, interview.history_key, path)
    except ArchiveProblem as exc:
        raise problem_error(exc) from exc
    except BlobError as exc:
        raise storage_error(exc) from exc
    return file_view(text)
