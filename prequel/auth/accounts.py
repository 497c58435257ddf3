"""Users, organizations, memberships and API tokens: the account repository."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from prequel.auth.tokens import display_prefix, generate_token, hash_token
from prequel.db.models import ApiToken, Membership, Organization, User
from prequel.db.types import utcnow
from prequel.domain.roles import Role


class AccountError(Exception):
    """A request about accounts cannot be done; the message says why."""


class DuplicateEmail(AccountError):
    pass


class TokenRejected(AccountError):
    pass


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which organization, with which role, and how they proved it."""

    user: User
    organization: Organization
    role: Role
    via: str  # "session" or "token"
    token_id: str | None = None


def normalize_email(email: str) -> str:
    """Lower-cased, validated address; raises AccountError with the reason."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError(f"invalid email address {email!r}: {exc}") from exc
    return result.normalized.lower()


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:64] or "org"


async def ensure_organization(session: AsyncSession, name: str) -> Organization:
    """The single organization of a fresh install, created on first call."""
    existing = await session.scalar(select(Organization).order_by(Organization.created_at))
    if existing is not None:
        return existing
    org = Organization(name=name, slug=slugify(name))
    session.add(org)
    await session.flush()
    return org


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def create_user(
    session: AsyncSession,
    *,
    organization: Organization,
    email: str,
    name: str,
    password: str,
    role: Role,
) -> User:
    address = normalize_email(email)
    if not name.strip():
        raise AccountError("name must not be empty")
    problem = password_problem(password)
    if problem:
        raise AccountError(problem)
    if await get_user_by_email(session, address) is not None:
        raise DuplicateEmail(f"a user with email {address} already exists")
    user = User(email=address, name=name.strip(), password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    session.add(Membership(org_id=organization.id, user_id=user.id, role=role.value))
    await session.flush()
    await session.refresh(user, ["memberships"])
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same cost either way)."""
    user = await get_user_by_email(session, email)
    if not verify_password(user.password_hash if user else None, password):
        return None
    assert user is not None
    if not user.is_active:
        return None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


async def principal_for(
    session: AsyncSession, user: User, *, via: str, token_id: str | None = None
) -> Principal | None:
    """The user's role in their (first) organization, or None if they belong to none."""
    membership = await session.scalar(
        select(Membership).where(Membership.user_id == user.id).order_by(Membership.created_at)
    )
    if membership is None:
        return None
    return Principal(
        user=user,
        organization=membership.organization,
        role=Role(membership.role),
        via=via,
        token_id=token_id,
    )


async def create_api_token(
    session: AsyncSession, user: User, *, name: str, expires_in: timedelta | None
) -> tuple[ApiToken, str]:
    """A new token row and the plaintext token, which is never stored and shown only now."""
    plaintext = generate_token()
    token = ApiToken(
        user_id=user.id,
        name=name.strip() or "API token",
        token_hash=hash_token(plaintext),
        prefix=display_prefix(plaintext),
        expires_at=utcnow() + expires_in if expires_in else None,
    )
    session.add(token)
    await session.flush()
    return token, plaintext


async def resolve_api_token(session: AsyncSession, plaintext: str) -> tuple[ApiToken, User]:
    token = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))
    )
    if token is None:
        raise TokenRejected("API token not recognized; create a new one with 'prequel admin token'")
    now = utcnow()
    if token.revoked_at is not None:
        raise TokenRejected(f"API token {token.prefix}… was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRejected(
            f"API token {token.prefix}… expired on {_format_time(token.expires_at)}; "
            "create a new one"
        )
    user = await session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise TokenRejected("the account behind this API token is disabled")
    # Coarse last-use tracking: avoid a write on every request.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return token, user


def _format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
