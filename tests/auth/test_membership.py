"""Member management rules on a real database (SQLite, and PostgreSQL when configured): who
may change whom, the last-owner rule, removal, and two concurrent demotions."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prequel.auth import membership
from prequel.auth.accounts import create_api_token, create_user
from prequel.db.models import ApiToken, Membership, Organization, User
from prequel.domain.roles import Role
from prequel.state import AppState
from tests.conftest import PASSWORD, MakeUser


async def role_of(db: AsyncSession, org: Organization, user: User) -> str | None:
    found = await membership.find_membership(db, org.id, user.id)
    return found.role if found else None


@pytest.mark.parametrize(
    ("actor", "target", "new", "problem"),
    [
        (Role.VIEWER, Role.VIEWER, Role.INTERVIEWER, "needs the admin role"),
        (Role.INTERVIEWER, Role.VIEWER, None, "needs the admin role"),
        (Role.ADMIN, Role.OWNER, Role.ADMIN, "only an owner can change or remove an owner"),
        (Role.ADMIN, Role.OWNER, None, "only an owner can change or remove an owner"),
        (Role.ADMIN, Role.ADMIN, Role.OWNER, "only an owner can make someone an owner"),
        (Role.ADMIN, Role.VIEWER, Role.ADMIN, None),
        (Role.ADMIN, Role.ADMIN, None, None),
        (Role.OWNER, Role.OWNER, Role.VIEWER, None),
        (Role.OWNER, Role.VIEWER, Role.OWNER, None),
    ],
)
def test_who_may_manage_whom(
    actor: Role, target: Role, new: Role | None, problem: str | None
) -> None:
    found = membership.management_problem(actor, target, new)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


async def test_admin_changes_a_members_role(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    admin, member = await make_user(Role.ADMIN), await make_user(Role.VIEWER)
    changed = await membership.change_role(
        db, org_id=org.id, actor_id=admin.id, user_id=member.id, role=Role.ADMIN
    )
    await db.commit()
    assert changed.role == "admin"
    assert await role_of(db, org, member) == "admin"


async def test_admins_cannot_touch_owners_or_make_them(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    admin, owner = await make_user(Role.ADMIN), await make_user(Role.OWNER)
    other = await make_user(Role.INTERVIEWER)
    org_id, admin_id, owner_id, other_id = org.id, admin.id, owner.id, other.id
    with pytest.raises(membership.NotAllowed, match="only an owner can change or remove"):
        await membership.change_role(
            db, org_id=org_id, actor_id=admin_id, user_id=owner_id, role=Role.VIEWER
        )
    with pytest.raises(membership.NotAllowed, match="only an owner can change or remove"):
        await membership.remove_member(db, org_id=org_id, actor_id=admin_id, user_id=owner_id)
    with pytest.raises(membership.NotAllowed, match="only an owner can make someone an owner"):
        await membership.change_role(
            db, org_id=org_id, actor_id=admin_id, user_id=other_id, role=Role.OWNER
        )
    await db.rollback()
    roles = {
        user_id: found.role if found else None
        for user_id in (owner_id, other_id)
        for found in [await membership.find_membership(db, org_id, user_id)]
    }
    assert roles == {owner_id: "owner", other_id: "interviewer"}


async def test_the_last_owner_can_be_neither_demoted_nor_removed(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    first, second = await make_user(Role.OWNER), await make_user(Role.OWNER)
    org_id, first_id, second_id = org.id, first.id, second.id
    # With two owners, one may step down (here: by themselves).
    await membership.change_role(
        db, org_id=org_id, actor_id=second_id, user_id=second_id, role=Role.ADMIN
    )
    await db.commit()
    with pytest.raises(membership.LastOwner, match="needs at least one owner"):
        await membership.change_role(
            db, org_id=org_id, actor_id=first_id, user_id=first_id, role=Role.ADMIN
        )
    await db.rollback()
    with pytest.raises(membership.LastOwner, match="make someone else owner first"):
        await membership.remove_member(db, org_id=org_id, actor_id=first_id, user_id=first_id)
    await db.rollback()
    # The former owner, now an admin, may not remove the owner either.
    with pytest.raises(membership.NotAllowed):
        await membership.remove_member(db, org_id=org_id, actor_id=second_id, user_id=first_id)
    await db.rollback()
    assert await membership.count_owners(db, org_id) == 1
    assert str(membership.LastOwner()) == (
        "an organization needs at least one owner; make someone else owner first"
    )


async def test_an_owner_can_leave_when_another_owner_remains(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    first, second = await make_user(Role.OWNER), await make_user(Role.OWNER)
    removal = await membership.remove_member(db, org_id=org.id, actor_id=first.id, user_id=first.id)
    await db.commit()
    assert removal.deactivated
    assert await membership.count_owners(db, org.id) == 1
    assert await role_of(db, org, second) == "owner"


async def test_removal_deactivates_and_revokes_tokens_of_someone_in_no_organization(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    admin, member = await make_user(Role.ADMIN), await make_user(Role.INTERVIEWER)
    token, _plaintext = await create_api_token(db, member, name="ci", expires_in=timedelta(days=9))
    await db.commit()
    removal = await membership.remove_member(
        db, org_id=org.id, actor_id=admin.id, user_id=member.id
    )
    await db.commit()
    assert removal.deactivated and removal.user.id == member.id
    assert await role_of(db, org, member) is None
    user = await db.get(User, member.id, populate_existing=True)
    assert user is not None and user.is_active is False
    revoked = await db.get(ApiToken, token.id, populate_existing=True)
    assert revoked is not None and revoked.revoked_at is not None


async def test_a_member_of_another_organization_stays_active(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    admin, member = await make_user(Role.ADMIN), await make_user(Role.VIEWER)
    other_org = Organization(name="Other", slug="other")
    db.add(other_org)
    await db.flush()
    db.add(Membership(org_id=other_org.id, user_id=member.id, role="viewer"))
    await db.commit()
    removal = await membership.remove_member(
        db, org_id=org.id, actor_id=admin.id, user_id=member.id
    )
    await db.commit()
    assert removal.deactivated is False
    user = await db.get(User, member.id, populate_existing=True)
    assert user is not None and user.is_active


async def test_unknown_and_other_organization_users_are_not_found(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    admin = await make_user(Role.ADMIN)
    other_org = Organization(name="Other", slug="other")
    db.add(other_org)
    await db.flush()
    stranger = await create_user(
        db,
        organization=other_org,
        email="stranger@example.com",
        name="Stranger",
        password=PASSWORD,
        role=Role.VIEWER,
    )
    await db.commit()
    org_id, admin_id = org.id, admin.id
    for user_id in ("nobody", stranger.id):
        with pytest.raises(membership.MemberNotFound, match="no member"):
            await membership.change_role(
                db, org_id=org_id, actor_id=admin_id, user_id=user_id, role=Role.ADMIN
            )
        with pytest.raises(membership.MemberNotFound, match="no member"):
            await membership.remove_member(db, org_id=org_id, actor_id=admin_id, user_id=user_id)
        await db.rollback()


async def test_removed_member_can_be_added_again(
    db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    owner, member = await make_user(Role.OWNER), await make_user(Role.VIEWER)
    await membership.remove_member(db, org_id=org.id, actor_id=owner.id, user_id=member.id)
    await db.commit()
    again = await membership.add_member(
        db,
        organization=org,
        actor_role=Role.OWNER,
        email=member.email.upper(),
        name="Back Again",
        password="a brand new password",
        role=Role.ADMIN,
    )
    await db.commit()
    assert again.id == member.id and again.is_active and again.name == "Back Again"
    assert await role_of(db, org, again) == "admin"
    with pytest.raises(membership.AlreadyMember, match="is a member of Acme"):
        await membership.add_member(
            db,
            organization=org,
            actor_role=Role.OWNER,
            email=member.email,
            name="Twice",
            password="a brand new password",
            role=Role.VIEWER,
        )


async def test_new_member_input_names_the_bad_field(db: AsyncSession, org: Organization) -> None:
    cases = {
        "name": {"email": "a@example.com", "name": "  ", "password": PASSWORD},
        "email": {"email": "not-an-email", "name": "A", "password": PASSWORD},
        "password": {"email": "a@example.com", "name": "A", "password": "short"},
    }
    for field, values in cases.items():
        with pytest.raises(membership.MemberInputInvalid) as refused:
            await membership.add_member(
                db, organization=org, actor_role=Role.ADMIN, role=Role.VIEWER, **values
            )
        assert refused.value.field == field
    with pytest.raises(membership.NotAllowed, match="only an owner can add another owner"):
        await membership.add_member(
            db,
            organization=org,
            actor_role=Role.ADMIN,
            email="o@example.com",
            name="O",
            password=PASSWORD,
            role=Role.OWNER,
        )


async def test_two_concurrent_demotions_of_the_last_two_owners(
    app_state: AppState, db: AsyncSession, org: Organization, make_user: MakeUser
) -> None:
    """Each request alone is fine (another owner remains); both together would leave none.
    Exactly one may succeed, whichever database runs them."""
    first, second = await make_user(Role.OWNER), await make_user(Role.OWNER)

    async def demote(user: User) -> str:
        async with app_state.sessions() as session:
            try:
                await membership.change_role(
                    session, org_id=org.id, actor_id=user.id, user_id=user.id, role=Role.ADMIN
                )
                # Hold the transaction open a moment so the other request overlaps it.
                await asyncio.sleep(0.2)
                await session.commit()
            except membership.LastOwner:
                await session.rollback()
                return "refused"
            return "demoted"

    outcomes = await asyncio.gather(demote(first), demote(second))
    assert sorted(outcomes) == ["demoted", "refused"]
    owners = await db.scalars(
        select(Membership.user_id).where(
            Membership.org_id == org.id, Membership.role == Role.OWNER.value
        )
    )
    assert len(list(owners)) == 1
