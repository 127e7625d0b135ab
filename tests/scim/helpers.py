"""Read the directory and the audit trail of a SCIM tenant straight from the database."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import AuditEvent, Organization, ScimGroupMember, Team, User
from tests.support.world import World

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def user_row(world: World, account_id: uuid.UUID, user_id: str) -> User:
    async with world.db.tenant(mint_for_system(account_id)) as s:
        row = (await s.scalars(sa.select(User).where(User.id == uuid.UUID(user_id)))).one()
        return row


async def placement(world: World, account_id: uuid.UUID, user_id: str) -> tuple[str, str]:
    """(organization name, team name) of the user's home team."""
    async with world.db.tenant(mint_for_system(account_id)) as s:
        row = (
            await s.execute(
                sa.select(Organization.name, Team.name)
                .join(
                    Team, sa.and_(Team.account_id == Organization.account_id, Team.organization_id == Organization.id)
                )
                .join(User, sa.and_(User.account_id == Team.account_id, User.home_team_id == Team.id))
                .where(User.id == uuid.UUID(user_id))
            )
        ).one()
        return row[0], row[1]


async def memberships(world: World, account_id: uuid.UUID) -> set[tuple[str, str]]:
    async with world.db.tenant(mint_for_system(account_id)) as s:
        rows = await s.execute(sa.select(ScimGroupMember.group_id, ScimGroupMember.user_id))
        return {(str(g), str(u)) for g, u in rows.all()}


async def audit(world: World, account_id: uuid.UUID) -> list[AuditEvent]:
    async with world.db.tenant(mint_for_system(account_id)) as s:
        stmt = sa.select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id)
        return list((await s.scalars(stmt)).all())
