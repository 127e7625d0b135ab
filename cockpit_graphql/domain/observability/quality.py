"""Directory (SCIM) data quality of one account: counts plus a few samples per check.

One statement per check, in the caller's tenant transaction: each selects its first `SAMPLE_SIZE`
rows (stable order) with `count(*) OVER ()`, the whole count computed before the LIMIT. The rules
are in docs/observability.md ("Directory quality").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import OidcIdentity, Organization, ScimGroup, Team, User

SAMPLE_SIZE = 10
IDP_SYNC_TOLERANCE = timedelta(hours=1)
"""A sync touches users one by one: a user seen within this much of the latest sighting was in it."""


@dataclass(frozen=True)
class Check:
    count: int = 0
    samples: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class DirectoryQuality:
    users_without_external_id: Check
    users_in_default_team: Check
    duplicate_emails: Check
    missing_emails: Check
    users_without_identity: Check
    empty_teams: Check
    empty_organizations: Check
    users_not_seen_in_last_sync: Check
    last_idp_sync_at: datetime | None
    unmapped_scim_groups: Check = field(default_factory=Check)
    idp_sync_tolerance: timedelta = IDP_SYNC_TOLERANCE


async def _check(session: AsyncSession, entity: type[Any], order: list[Any], *where: Any) -> Check:
    total = sa.func.count().over().label("total")
    stmt = sa.select(entity, total).where(*where).order_by(*order).limit(SAMPLE_SIZE)
    rows = (await session.execute(stmt)).all()
    return Check(count=int(rows[0].total) if rows else 0, samples=[r[0] for r in rows])


async def directory_quality(session: AsyncSession, tenant: TenantId) -> DirectoryQuality:
    account = tenant.value
    users = [User.email, User.id]
    mine_u = User.account_id == account
    default_team = sa.select(Team.id).where(Team.account_id == account, Team.is_default).scalar_subquery()
    email_key = sa.func.lower(sa.func.btrim(User.email))
    dup = sa.orm.aliased(User)
    duplicated = (
        sa.select(sa.literal(1))
        .where(
            dup.account_id == User.account_id, dup.id != User.id, sa.func.lower(sa.func.btrim(dup.email)) == email_key
        )
        .exists()
    )
    duplicated = sa.and_(email_key != "", duplicated)  # no email is `missing_emails`, not a shared one
    has_identity = (
        sa.select(sa.literal(1))
        .where(OidcIdentity.account_id == User.account_id, OidcIdentity.user_id == User.id)
        .exists()
    )
    team_has_user = (
        sa.select(sa.literal(1)).where(User.account_id == Team.account_id, User.home_team_id == Team.id).exists()
    )
    member = sa.orm.aliased(User)
    org_team = sa.orm.aliased(Team)
    org_has_user = (
        sa.select(sa.literal(1))
        .select_from(org_team)
        .join(member, sa.and_(member.account_id == org_team.account_id, member.home_team_id == org_team.id))
        .where(org_team.account_id == Organization.account_id, org_team.organization_id == Organization.id)
        .exists()
    )
    latest: datetime | None = await session.scalar(
        sa.select(sa.func.max(User.last_seen_in_idp_at)).where(User.account_id == account)
    )
    if latest is None:  # no sync ever reported a sighting: the rule does not apply
        stale = Check()
    else:
        stale = await _check(
            session,
            User,
            users,
            mine_u,
            sa.or_(User.last_seen_in_idp_at.is_(None), User.last_seen_in_idp_at < latest - IDP_SYNC_TOLERANCE),
            User.deactivated_at.is_(None),  # deprovisioned users are not expected in a sync
        )
    return DirectoryQuality(
        users_without_external_id=await _check(
            session, User, users, mine_u, sa.or_(User.external_id.is_(None), sa.func.btrim(User.external_id) == "")
        ),
        users_in_default_team=await _check(session, User, users, mine_u, User.home_team_id == default_team),
        duplicate_emails=await _check(session, User, users, mine_u, duplicated),
        missing_emails=await _check(session, User, users, mine_u, sa.func.btrim(User.email) == ""),
        users_without_identity=await _check(session, User, users, mine_u, ~has_identity),
        empty_teams=await _check(
            session, Team, [Team.name, Team.id], Team.account_id == account, ~Team.is_default, ~team_has_user
        ),
        empty_organizations=await _check(
            session,
            Organization,
            [Organization.name, Organization.id],
            Organization.account_id == account,
            ~Organization.is_default,
            ~org_has_user,
        ),
        users_not_seen_in_last_sync=stale,
        last_idp_sync_at=latest,
        unmapped_scim_groups=await _check(
            session,
            ScimGroup,
            [ScimGroup.display_name, ScimGroup.id],
            ScimGroup.account_id == account,
            ScimGroup.team_id.is_(None),
        ),
    )
