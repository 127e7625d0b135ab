"""All SQL of the directory. Runs inside the caller's tenant transaction; RLS guards it again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import Account, EndedPlacement, OidcIdentity, Organization, Team, User


async def organizations_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Organization]:
    return list((await session.scalars(sa.select(Organization).where(Organization.id.in_(ids)))).all())


async def teams_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Team]:
    return list((await session.scalars(sa.select(Team).where(Team.id.in_(ids)))).all())


async def users_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[User]:
    return list((await session.scalars(sa.select(User).where(User.id.in_(ids)))).all())


async def get_organization(session: AsyncSession, org_id: uuid.UUID, *, lock: bool = False) -> Organization | None:
    stmt = sa.select(Organization).where(Organization.id == org_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def get_team(session: AsyncSession, team_id: uuid.UUID, *, lock: bool = False) -> Team | None:
    stmt = sa.select(Team).where(Team.id == team_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
    stmt = sa.select(User).where(User.id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def default_organization(session: AsyncSession) -> Organization | None:
    return (await session.scalars(sa.select(Organization).where(Organization.is_default))).first()


async def default_team(session: AsyncSession) -> Team | None:
    return (await session.scalars(sa.select(Team).where(Team.is_default))).first()


async def organization_name_taken(session: AsyncSession, name: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = sa.select(sa.literal(1)).where(sa.func.lower(Organization.name) == name.lower())
    if exclude:
        stmt = stmt.where(Organization.id != exclude)
    return (await session.scalar(stmt)) is not None


async def team_name_taken(
    session: AsyncSession, organization_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> bool:
    stmt = sa.select(sa.literal(1)).where(
        Team.organization_id == organization_id, sa.func.lower(Team.name) == name.lower()
    )
    if exclude:
        stmt = stmt.where(Team.id != exclude)
    return (await session.scalar(stmt)) is not None


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.scalars(sa.select(User).where(User.email == email.lower()))).first()


async def user_by_external_id(session: AsyncSession, external_id: str) -> User | None:
    return (await session.scalars(sa.select(User).where(User.external_id == external_id))).first()


async def count_teams_in(session: AsyncSession, organization_id: uuid.UUID) -> int:
    return int(await session.scalar(sa.select(sa.func.count()).where(Team.organization_id == organization_id)) or 0)


async def count_users_in_team(session: AsyncSession, team_id: uuid.UUID) -> int:
    return int(await session.scalar(sa.select(sa.func.count()).where(User.home_team_id == team_id)) or 0)


async def count_admins(session: AsyncSession, *, lock: bool = False) -> int:
    """Active account admins: a deactivated admin cannot sign in, so it does not keep the account managed."""
    stmt = sa.select(User.id).where(User.role == "ACCOUNT_ADMIN", User.deactivated_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    return len((await session.scalars(stmt)).all())


async def end_placements(session: AsyncSession, users: sa.ColumnElement[bool], at: datetime) -> None:
    """Keep the placement of the users `users` selects (a condition on User or their Team) as ended at
    `at`, before it changes. One INSERT … SELECT however many users a team or organization move takes;
    a second change of the same user at the same instant keeps the first row (the placement in between
    lasted no time)."""
    chosen = (
        sa.select(
            User.account_id,
            User.id,
            sa.literal(at, sa.DateTime(timezone=True)),
            Team.organization_id,
            Team.id,
        )
        .join(Team, sa.and_(Team.account_id == User.account_id, Team.id == User.home_team_id))
        .where(users)
    )
    columns = ["account_id", "user_id", "ended_at", "organization_id", "team_id"]
    await session.execute(pg_insert(EndedPlacement).from_select(columns, chosen).on_conflict_do_nothing())


async def move_users_between_teams(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    result = await session.execute(
        sa.update(User).where(User.home_team_id == source).values(home_team_id=target, updated_at=sa.func.now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def move_teams_between_organizations(session: AsyncSession, source: uuid.UUID, target: uuid.UUID) -> int:
    result = await session.execute(
        sa.update(Team).where(Team.organization_id == source).values(organization_id=target, updated_at=sa.func.now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def team_names_in(session: AsyncSession, organization_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(sa.select(sa.func.lower(Team.name)).where(Team.organization_id == organization_id))
    return set(rows.all())


async def delete_identities_of(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[str, str]]:
    rows = (
        await session.execute(
            sa.delete(OidcIdentity)
            .where(OidcIdentity.user_id == user_id)
            .returning(OidcIdentity.issuer, OidcIdentity.subject)
        )
    ).all()
    return [(r[0], r[1]) for r in rows]


async def get_account(session: AsyncSession, account_id: uuid.UUID, *, lock: bool = False) -> Account | None:
    stmt = sa.select(Account).where(Account.id == account_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def delete_budget_settings(session: AsyncSession, level: str, scope_id: uuid.UUID) -> None:
    """A deleted node takes its cap and default user cap with it (its usage history stays)."""
    from cockpit_graphql.db.tables import BudgetCap

    await session.execute(sa.delete(BudgetCap).where(BudgetCap.scope_level == level, BudgetCap.scope_id == scope_id))


async def scope_exists(session: AsyncSession, account_id: uuid.UUID, level: str, scope_id: uuid.UUID) -> bool:
    """Whether an ACCOUNT, ORGANIZATION, TEAM or USER scope exists in the session's account."""
    if level == "ACCOUNT":
        return scope_id == account_id
    table = {"ORGANIZATION": Organization, "TEAM": Team, "USER": User}[level]
    return await session.scalar(sa.select(sa.literal(1)).where(table.id == scope_id)) is not None
