"""Challenge library: the JSON API (list, detail, upload) and the pages that show it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from prequel.auth.accounts import Principal
from prequel.auth.csrf import FORM_FIELD, csrf_valid
from prequel.challenges.bundle import BundleRejected
from prequel.challenges.library import (
    ImportConflict,
    ImportResult,
    get_latest,
    get_version,
    import_challenge_upload,
    list_latest,
    list_versions,
)
from prequel.challenges.manifest import ChallengeInvalid
from prequel.db.models import Challenge
from prequel.domain.roles import Role
from prequel.state import AppState
from prequel.web.deps import AdminPrincipal, DbSession, StateDep, ViewerPrincipal
from prequel.web.errors import ApiError

router = APIRouter()

BUNDLE_FIELD = "bundle"
# Room for the multipart boundaries, part headers and the csrf_token field.
FORM_OVERHEAD_BYTES = 64 * 1024
FLASH_KEY = "challenges_flash"
UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [BUNDLE_FIELD],
                    "properties": {
                        BUNDLE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "A .tar.gz, .tgz or .zip of a challenge folder.",
                        }
                    },
                }
            }
        },
    }
}


# JSON shapes ------------------------------------------------------------------------------


def challenge_summary(challenge: Challenge) -> dict[str, Any]:
    return {
        "slug": challenge.slug,
        "title": challenge.title,
        "difficulty": challenge.difficulty,
        "tags": list(challenge.tags),
        "language": challenge.language,
        "environment": challenge.environment,
        "time_estimate_minutes": challenge.time_estimate_minutes,
        "version": challenge.version,
        "created_at": challenge.created_at,
    }


def challenge_detail(challenge: Challenge, versions: list[Challenge]) -> dict[str, Any]:
    """Statement, public file list and history; never hidden tests or the solution."""
    files = challenge.manifest.get("files", [])
    return {
        **challenge_summary(challenge),
        "statement": challenge.statement,
        "files": list(files) if isinstance(files, list) else [],
        "test_format": challenge.test_format,
        "sha256": challenge.bundle_sha256,
        "versions": [
            {"version": v.version, "created_at": v.created_at, "sha256": v.bundle_sha256}
            for v in versions
        ],
    }


def _not_found(slug: str, version: int | None = None) -> ApiError:
    if version is not None:
        return ApiError(404, f"challenge {slug!r} has no version {version}")
    return ApiError(
        404, f"no challenge with slug {slug!r} in your organization; GET /api/challenges lists them"
    )


async def _find(
    db: AsyncSession, principal: Principal, slug: str, version: int | None
) -> tuple[Challenge, list[Challenge]]:
    organization = principal.organization
    if version is None:
        challenge = await get_latest(db, organization, slug)
    else:
        challenge = await get_version(db, organization, slug, version)
    if challenge is None:
        raise _not_found(slug, version)
    return challenge, await list_versions(db, organization, slug)


# Bounded multipart upload -----------------------------------------------------------------


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class BundleUpload:
    data: bytes
    filename: str | None
    fields: dict[str, str]


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"the bundle is larger than {limit} bytes, the limit set by "
        "PREQUEL_CHALLENGES__MAX_BUNDLE_BYTES; remove build output or large data and try again",
        code="too_large",
    )


async def read_bundle_upload(request: Request, limit: int) -> BundleUpload:
    """Parse a multipart body with one file field, 'bundle', reading at most limit bytes
    of it (plus form overhead) and stopping as soon as the body is larger."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415,
            "send the bundle as multipart/form-data in a file field named 'bundle', "
            "e.g. curl -F bundle=@challenge.tar.gz",
        )
    body_limit = limit + FORM_OVERHEAD_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > body_limit:
        raise _too_large(limit)

    async def bounded() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_limit:
                raise _TooLarge
            yield chunk

    parser = MultiPartParser(request.headers, bounded(), max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except _TooLarge:
        raise _too_large(limit) from None
    except MultiPartException as exc:
        raise ApiError(400, f"the multipart body cannot be read: {exc.message}") from exc
    try:
        upload = form.get(BUNDLE_FIELD)
        if not isinstance(upload, UploadFile):
            raise ApiError(
                422, "no file field named 'bundle'; attach the .tar.gz, .tgz or .zip as 'bundle'"
            )
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise _too_large(limit)
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        return BundleUpload(data, upload.filename, fields)
    finally:
        await form.close()


async def _import(
    db: AsyncSession, state: AppState, principal: Principal, upload: BundleUpload
) -> ImportResult:
    """Import an upload; user mistakes become 422/409 errors a person can act on."""
    try:
        return await import_challenge_upload(
            db,
            state.blobs,
            principal.organization,
            upload.data,
            upload.filename,
            state.settings.challenges,
            user=principal.user,
        )
    except ChallengeInvalid as exc:
        count = len(exc.problems)
        raise ApiError(
            422,
            f"the challenge has {count} problem{'s' * (count != 1)}; fix them and upload again",
            code="invalid_challenge",
            details=[problem.as_dict() for problem in exc.problems],
        ) from exc
    except BundleRejected as exc:
        raise ApiError(422, f"bundle rejected: {exc}", code="bundle_rejected") from exc
    except ImportConflict as exc:
        raise ApiError(409, str(exc)) from exc


# API --------------------------------------------------------------------------------------


@router.get("/api/challenges", tags=["challenges"])
async def list_challenges(principal: ViewerPrincipal, db: DbSession) -> dict[str, Any]:
    """The latest version of every challenge in your organization, ordered by title."""
    challenges = await list_latest(db, principal.organization)
    return {"challenges": [challenge_summary(c) for c in challenges]}


@router.get("/api/challenges/{slug}", tags=["challenges"])
async def get_challenge(
    slug: str, principal: ViewerPrincipal, db: DbSession, version: int | None = None
) -> dict[str, Any]:
    """One challenge (the latest version unless ?version=N) with statement and history."""
    challenge, versions = await _find(db, principal, slug, version)
    return challenge_detail(challenge, versions)


@router.post(
    "/api/challenges",
    tags=["challenges"],
    status_code=201,
    openapi_extra=UPLOAD_OPENAPI,
    responses={200: {"description": "Unchanged: the latest version has the same content."}},
)
async def upload_challenge(
    request: Request, principal: AdminPrincipal, db: DbSession, state: StateDep
) -> JSONResponse:
    """Upload a challenge bundle: 201 with a new version, or 200 when nothing changed."""
    upload = await read_bundle_upload(request, state.settings.challenges.max_bundle_bytes)
    result = await _import(db, state, principal, upload)
    versions = await list_versions(db, principal.organization, result.challenge.slug)
    body = {
        **challenge_detail(result.challenge, versions),
        "created": result.created,
        "previous_version": result.previous_version,
    }
    return JSONResponse(jsonable_encoder(body), status_code=201 if result.created else 200)


# Pages ------------------------------------------------------------------------------------


def _flash(request: Request, kind: str, message: str, details: list[str] | None = None) -> None:
    # The session is a signed cookie, so keep what goes in it short.
    shown = [detail[:300] for detail in (details or [])[:12]]
    if details and len(details) > len(shown):
        shown.append(f"… and {len(details) - len(shown)} more")
    request.session[FLASH_KEY] = {"kind": kind, "message": message[:500], "details": shown}


@router.get("/challenges", include_in_schema=False)
async def challenges_page(
    request: Request, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    challenges = await list_latest(db, principal.organization)
    return state.templates.TemplateResponse(
        request,
        "challenges/list.html",
        {
            "challenges": challenges,
            "is_admin": principal.role.at_least(Role.ADMIN),
            "flash": request.session.pop(FLASH_KEY, None),
            "max_bundle_mb": state.settings.challenges.max_bundle_bytes / (1024 * 1024),
        },
    )


def _error_page(request: Request, state: AppState, status: int, message: str) -> Response:
    """An HTML error returned rather than raised: the request's session is not rolled back,
    so the page header can still show who is logged in."""
    return state.templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


@router.post("/challenges/upload", include_in_schema=False)
async def challenges_upload_page(
    request: Request, principal: ViewerPrincipal, db: DbSession, state: StateDep
) -> Response:
    if not principal.role.at_least(Role.ADMIN):
        message = f"uploading challenges needs the admin role; you are {principal.role.value}"
        return _error_page(request, state, 403, message)
    back = RedirectResponse("/challenges", status_code=303)
    try:
        upload = await read_bundle_upload(request, state.settings.challenges.max_bundle_bytes)
    except ApiError as exc:
        _flash(request, "error", exc.message)
        return back
    # FormCsrf would read the form a second time without a size limit, so check it here.
    if not csrf_valid(request.session, upload.fields.get(FORM_FIELD)):
        message = "the form expired or was not sent from this site; reload the page and try again"
        return _error_page(request, state, 403, message)
    try:
        result = await _import(db, state, principal, upload)
    except ApiError as exc:
        details = [f"{d['path']}: {d['message']}" for d in exc.details or []]
        _flash(request, "error", exc.message, details)
        return back
    challenge = result.challenge
    if result.created:
        _flash(request, "ok", f"Imported “{challenge.title}” as version {challenge.version}.")
    else:
        _flash(
            request,
            "ok",
            f"“{challenge.title}” is unchanged; version {challenge.version} is still the latest.",
        )
    return back


@router.get("/challenges/{slug}", include_in_schema=False)
async def challenge_page(
    request: Request,
    slug: str,
    principal: ViewerPrincipal,
    db: DbSession,
    state: StateDep,
    version: int | None = None,
) -> Response:
    try:
        challenge, versions = await _find(db, principal, slug, version)
    except ApiError as exc:
        return _error_page(request, state, exc.status, exc.message)
    files = [str(path) for path in challenge.manifest.get("files", [])]
    return state.templates.TemplateResponse(
        request,
        "challenges/detail.html",
        {
            "challenge": challenge,
            "versions": versions,
            "latest_version": versions[0].version if versions else challenge.version,
            "starter_files": [f.removeprefix("files/") for f in files if f.startswith("files/")],
            "visible_tests": [
                f.removeprefix("tests/visible/") for f in files if f.startswith("tests/visible/")
            ],
        },
    )
