"""All SQL of SCIM users, groups and memberships. Runs in the caller's tenant transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import Organization, ScimGroup, ScimGroupMember, ScimUser, Team, User


async def lock_account(session: AsyncSession, account_id: uuid.UUID) -> None:
    """The account's SCIM mutex (transaction-scoped advisory lock), taken first by every SCIM write: writes
    of one account run one after the other, so the home-team rule, team creation and memberships never
    race (identity providers send in parallel; a directory's writes are few)."""
    await session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended('cockpit.scim:' || :account, 0))"),
        {"account": str(account_id)},
    )


async def scim_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> tuple[User, ScimUser] | None:
    """A user SCIM serves (not deleted over SCIM), with its SCIM row."""
    stmt = (
        sa.select(User, ScimUser)
        .join(ScimUser, sa.and_(ScimUser.account_id == User.account_id, ScimUser.user_id == User.id))
        .where(User.id == user_id, ScimUser.deleted_at.is_(None))
    )
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def scim_row(session: AsyncSession, user_id: uuid.UUID) -> ScimUser | None:
    """The SCIM row of a user, deleted or not."""
    return (await session.scalars(sa.select(ScimUser).where(ScimUser.user_id == user_id).with_for_update())).first()


async def user_name_taken(session: AsyncSession, user_name: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(1)).where(
        sa.func.lower(ScimUser.user_name) == user_name.lower(), ScimUser.deleted_at.is_(None)
    )
    if exclude is not None:
        stmt = stmt.where(ScimUser.user_id != exclude)
    return (await session.scalar(stmt)) is not None


def users_query(where: Sequence[Any] = ()) -> Any:
    return (
        sa.select(User, ScimUser)
        .join(ScimUser, sa.and_(ScimUser.account_id == User.account_id, ScimUser.user_id == User.id))
        .where(ScimUser.deleted_at.is_(None), *where)
    )


async def users_page(
    session: AsyncSession, where: Sequence[Any], offset: int | None, limit: int | None
) -> tuple[list[tuple[User, ScimUser]], int]:
    """SCIM users in creation order; with offset/limit, one page plus the total count."""
    stmt = users_query(where).add_columns(sa.func.count().over().label("total"))
    stmt = stmt.order_by(ScimUser.created_at, ScimUser.user_id)
    if offset is not None:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = (await session.execute(stmt)).all()
    total = int(rows[0].total) if rows else 0
    if not rows and (offset or limit == 0):  # an empty page (past the end, count=0) still reports the total
        total = int(await session.scalar(sa.select(sa.func.count()).select_from(users_query(where).subquery())) or 0)
    return [(r[0], r[1]) for r in rows], total


async def groups_of_users(session: AsyncSession, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ScimGroup]]:
    out: dict[uuid.UUID, list[ScimGroup]] = {u: [] for u in user_ids}
    if not user_ids:
        return out
    stmt = (
        sa.select(ScimGroupMember.user_id, ScimGroup)
        .join(
            ScimGroup,
            sa.and_(ScimGroup.account_id == ScimGroupMember.account_id, ScimGroup.id == ScimGroupMember.group_id),
        )
        .where(ScimGroupMember.user_id.in_(list(user_ids)))
        .order_by(ScimGroupMember.joined_at, ScimGroup.id)
    )
    for user_id, group in (await session.execute(stmt)).all():
        out[user_id].append(group)
    return out


async def get_group(session: AsyncSession, group_id: uuid.UUID, *, lock: bool = False) -> ScimGroup | None:
    stmt = sa.select(ScimGroup).where(ScimGroup.id == group_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def group_name_taken(session: AsyncSession, name: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(1)).where(sa.func.lower(ScimGroup.display_name) == name.lower())
    if exclude is not None:
        stmt = stmt.where(ScimGroup.id != exclude)
    return (await session.scalar(stmt)) is not None


async def groups_page(
    session: AsyncSession, where: Sequence[Any], offset: int | None, limit: int | None
) -> tuple[list[ScimGroup], int]:
    stmt = sa.select(ScimGroup, sa.func.count().over().label("total")).where(*where)
    stmt = stmt.order_by(ScimGroup.created_at, ScimGroup.id)
    if offset is not None:
        stmt = stmt.offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = (await session.execute(stmt)).all()
    total = int(rows[0].total) if rows else 0
    if not rows and (offset or limit == 0):
        total = int(await session.scalar(sa.select(sa.func.count()).select_from(ScimGroup).where(*where)) or 0)
    return [r[0] for r in rows], total


async def members_of(session: AsyncSession, group_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ScimGroupMember]]:
    """Members SCIM still serves (users deleted over SCIM left out), in joining order."""
    out: dict[uuid.UUID, list[ScimGroupMember]] = {g: [] for g in group_ids}
    if not group_ids:
        return out
    stmt = (
        sa.select(ScimGroupMember)
        .join(
            ScimUser,
            sa.and_(ScimUser.account_id == ScimGroupMember.account_id, ScimUser.user_id == ScimGroupMember.user_id),
        )
        .where(ScimGroupMember.group_id.in_(list(group_ids)), ScimUser.deleted_at.is_(None))
        .order_by(ScimGroupMember.joined_at, ScimGroupMember.user_id)
    )
    for member in (await session.scalars(stmt)).all():
        out[member.group_id].append(member)
    return out


async def served_user_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    stmt = sa.select(ScimUser.user_id).where(ScimUser.user_id.in_(list(ids)), ScimUser.deleted_at.is_(None))
    return set((await session.scalars(stmt)).all())


async def add_members(
    session: AsyncSession, account_id: uuid.UUID, group_id: uuid.UUID, members: dict[uuid.UUID, str | None]
) -> None:
    for user_id, display in members.items():
        session.add(ScimGroupMember(account_id=account_id, group_id=group_id, user_id=user_id, display=display))
    await session.flush()


async def remove_members(session: AsyncSession, group_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> None:
    if user_ids:
        await session.execute(
            sa.delete(ScimGroupMember).where(
                ScimGroupMember.group_id == group_id, ScimGroupMember.user_id.in_(list(user_ids))
            )
        )


async def set_member_display(
    session: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID, display: str | None
) -> None:
    await session.execute(
        sa.update(ScimGroupMember)
        .where(ScimGroupMember.group_id == group_id, ScimGroupMember.user_id == user_id)
        .values(display=display)
    )


async def memberships_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = sa.select(ScimGroupMember.group_id).where(ScimGroupMember.user_id == user_id)
    return list((await session.scalars(stmt)).all())


async def drop_memberships_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        sa.delete(ScimGroupMember).where(ScimGroupMember.user_id == user_id).returning(ScimGroupMember.group_id)
    )
    return [r[0] for r in rows.all()]


async def bump_groups(session: AsyncSession, group_ids: Sequence[uuid.UUID]) -> None:
    if group_ids:
        await session.execute(
            sa.update(ScimGroup)
            .where(ScimGroup.id.in_(list(group_ids)))
            .values(version=ScimGroup.version + 1, updated_at=sa.func.now())
        )


async def home_team_by_groups(session: AsyncSession, user_id: uuid.UUID) -> uuid.UUID | None:
    """The home-team rule: the team of the earliest-joined mapped group the user is still in."""
    stmt = (
        sa.select(ScimGroup.team_id)
        .join(
            ScimGroupMember,
            sa.and_(ScimGroupMember.account_id == ScimGroup.account_id, ScimGroupMember.group_id == ScimGroup.id),
        )
        .where(ScimGroupMember.user_id == user_id, ScimGroup.team_id.is_not(None))
        .order_by(ScimGroupMember.joined_at, ScimGroup.id)
        .limit(1)
    )
    return await session.scalar(stmt)


async def organization_named(session: AsyncSession, name: str) -> Organization | None:
    stmt = sa.select(Organization).where(sa.func.lower(Organization.name) == name.lower())
    return (await session.scalars(stmt)).first()


async def team_named(session: AsyncSession, organization_id: uuid.UUID, name: str) -> Team | None:
    stmt = sa.select(Team).where(Team.organization_id == organization_id, sa.func.lower(Team.name) == name.lower())
    return (await session.scalars(stmt)).first()
