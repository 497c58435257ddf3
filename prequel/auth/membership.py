"""Managing an organization's members: add, change role, remove, and keeping an owner.

Rules (docs/team.md):
- admins and owners manage members; only an owner makes someone an owner or changes or
  removes an owner;
- an organization always keeps at least one owner, so the last owner can be neither demoted
  nor removed (not even by themselves);
- removing a member deletes their membership of this organization. A user left in no
  organization is deactivated and their API tokens are revoked, so their sessions and
  tokens stop working at once; their interviews, challenges and history stay. Adding the
  same email again later reactivates the account with the new name and password.

Two requests that each remove one of the last two owners must not both succeed. Every change
therefore first takes a per-organization lock (`lock_organization`) and only then reads the
owner count, so the check and the write happen as one step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth.accounts import (
    AccountError,
    DuplicateEmail,
    get_user_by_email,
    normalize_email,
)
from prequel.auth.passwords import hash_password, password_problem
from prequel.db.models import ApiToken, Membership, Organization, User
from prequel.db.types import utcnow
from prequel.domain.roles import Role

LAST_OWNER_MESSAGE = "an organization needs at least one owner; make someone else owner first"


class MembershipError(Exception):
    """A member change that cannot be done; the message says why."""


class MemberNotFound(MembershipError):
    pass


class NotAllowed(MembershipError):
    pass


class LastOwner(MembershipError):
    def __init__(self) -> None:
        super().__init__(LAST_OWNER_MESSAGE)


class AlreadyMember(DuplicateEmail):
    """The email belongs to someone who is a member already."""


class MemberInputInvalid(MembershipError):
    """One field of a new member is unacceptable."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Removal:
    user: User
    # True when the user belongs to no organization any more and was deactivated.
    deactivated: bool


# Pure rules -------------------------------------------------------------------------------


def management_problem(
    actor: Role, target: Role | None = None, new: Role | None = None
) -> str | None:
    """Why `actor` may not change a member whose role is `target` to `new`, or None."""
    if not actor.at_least(Role.ADMIN):
        return f"managing members needs the admin role or higher; you are {actor.value}"
    if target is Role.OWNER and actor is not Role.OWNER:
        return "only an owner can change or remove an owner"
    if new is Role.OWNER and actor is not Role.OWNER:
        return "only an owner can make someone an owner"
    return None


# Locking and reading ----------------------------------------------------------------------


async def lock_organization(db: AsyncSession, org_id: str) -> None:
    """Serialize member changes in one organization until this transaction ends.

    PostgreSQL locks the organization's row (a second changer waits, then reads what the
    first committed); FOR NO KEY UPDATE, so inserts that merely reference the organization
    (interviews, challenges) are not held up. SQLite allows one writer at a time and keeps
    the write lock until commit, so a no-op write takes that lock now, before the owner count
    is read.
    """
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(
            select(Organization.id).where(Organization.id == org_id).with_for_update(key_share=True)
        )
    else:
        await db.execute(
            update(Organization)
            .where(Organization.id == org_id)
            .values(slug=Organization.slug)
            .execution_options(synchronize_session=False)
        )


async def count_owners(db: AsyncSession, org_id: str) -> int:
    found = await db.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.org_id == org_id, Membership.role == Role.OWNER.value)
    )
    return int(found or 0)


async def find_membership(db: AsyncSession, org_id: str, user_id: str) -> Membership | None:
    # populate_existing: rows read before the lock (the caller's own membership) are refreshed.
    return await db.scalar(
        select(Membership)
        .where(Membership.org_id == org_id, Membership.user_id == user_id)
        .execution_options(populate_existing=True)
    )


async def _organizations_of(db: AsyncSession, user_id: str) -> list[str]:
    # A query, not user.memberships: the loaded collection may predate a removal.
    found = await db.scalars(select(Membership.org_id).where(Membership.user_id == user_id))
    return list(found)


async def _locked_member(
    db: AsyncSession, org_id: str, actor_id: str, user_id: str
) -> tuple[Role, Membership]:
    """Take the lock, then the actor's current role and the target's membership."""
    await lock_organization(db, org_id)
    actor = await find_membership(db, org_id, actor_id)
    if actor is None:
        raise NotAllowed("you are no longer a member of this organization")
    target = await find_membership(db, org_id, user_id)
    if target is None:
        raise MemberNotFound(f"no member {user_id} in your organization")
    return Role(actor.role), target


# Changes ----------------------------------------------------------------------------------


async def change_role(
    db: AsyncSession, *, org_id: str, actor_id: str, user_id: str, role: Role
) -> Membership:
    actor_role, membership = await _locked_member(db, org_id, actor_id, user_id)
    current = Role(membership.role)
    problem = management_problem(actor_role, current, role)
    if problem:
        raise NotAllowed(problem)
    if current is Role.OWNER and role is not Role.OWNER and await count_owners(db, org_id) <= 1:
        raise LastOwner
    membership.role = role.value
    await db.flush()
    return membership


async def remove_member(db: AsyncSession, *, org_id: str, actor_id: str, user_id: str) -> Removal:
    actor_role, membership = await _locked_member(db, org_id, actor_id, user_id)
    current = Role(membership.role)
    problem = management_problem(actor_role, current)
    if problem:
        raise NotAllowed(problem)
    if current is Role.OWNER and await count_owners(db, org_id) <= 1:
        raise LastOwner
    user = await db.get(User, user_id)
    assert user is not None  # the membership's foreign key holds it
    await db.delete(membership)
    await db.flush()
    db.expire(user, ["memberships"])
    deactivated = not await _organizations_of(db, user_id)
    if deactivated:
        await deactivate(db, user)
    return Removal(user=user, deactivated=deactivated)


async def deactivate(db: AsyncSession, user: User) -> None:
    """Sessions check is_active on every request; tokens are revoked as well, so re-adding
    the person later does not bring old tokens back."""
    user.is_active = False
    await db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await db.flush()


async def add_member(
    db: AsyncSession,
    *,
    organization: Organization,
    actor_role: Role,
    email: str,
    name: str,
    password: str,
    role: Role,
) -> User:
    """A new account in this organization, or a removed one (in no organization) revived."""
    problem = management_problem(actor_role, new=role)
    if problem:
        raise NotAllowed("only an owner can add another owner" if role is Role.OWNER else problem)
    clean_name = name.strip()
    if not clean_name:
        raise MemberInputInvalid("name", "name must not be empty")
    try:
        address = normalize_email(email)
    except AccountError as exc:
        raise MemberInputInvalid("email", str(exc)) from exc
    weak = password_problem(password)
    if weak:
        raise MemberInputInvalid("password", weak)
    user = await get_user_by_email(db, address)
    org_ids = await _organizations_of(db, user.id) if user else []
    if user is None:
        user = User(email=address, name=clean_name, password_hash=hash_password(password))
        db.add(user)
        await db.flush()
    elif organization.id in org_ids:
        raise AlreadyMember(
            f"a user with email {address} already exists and is a member of {organization.name}"
        )
    elif user.is_active or org_ids:
        raise DuplicateEmail(f"a user with email {address} already exists")
    else:
        user.is_active = True
        user.name = clean_name
        user.password_hash = hash_password(password)
    db.add(Membership(org_id=organization.id, user_id=user.id, role=role.value))
    await db.flush()
    await db.refresh(user, ["memberships"])
    return user
