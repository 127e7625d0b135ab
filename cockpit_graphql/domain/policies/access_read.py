"""The runtime's one read: where each user asked about sits, the policy inputs of every scope of their
chains and the budget snapshot of those scopes, in ONE statement (effectiveAccess's hot path: one round
trip where placements, policy inputs and the snapshot took three). The policy and budget parts are the
very fragments of policies.repository.INPUTS and budgets.repository.SNAPSHOT, parsed by the same
functions, so the two paths cannot read differently.

Two ways to run it: `read_access` inside the caller's tenant transaction, and `read_access_alone` as one
call of `cockpit_access_read()` (migrations 0012 and 0013: the same query, frozen; a test fails when
they differ) on an autocommit connection — one round trip instead of four (BEGIN, `set_config`, the
read, COMMIT). A change of the SQL fragments therefore needs a migration that replaces the function."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.budgets.repository import (
    SNAPSHOT_COLUMN_TYPES,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_CTES,
    BudgetSnapshot,
    snapshot_from_row,
)
from cockpit_graphql.domain.budgets.scopes import Placement
from cockpit_graphql.domain.policies.repository import INPUTS_COLUMN_TYPES, INPUTS_COLUMNS, RawInputs, inputs_from_row

_PARAMETERS = (
    sa.bindparam("users", type_=ARRAY(PG_UUID(as_uuid=True))),
    sa.bindparam("start", type_=sa.DateTime(timezone=True)),
)
_COLUMNS = (sa.column("placements", JSONB), *INPUTS_COLUMN_TYPES, *SNAPSHOT_COLUMN_TYPES)

# s: the account, then the organization, team and user of every placement found (each scope once).
ACCESS_READ = (
    sa.text(
        f"""
    WITH pl AS (
        SELECT u.id, u.home_team_id AS team_id, t.organization_id
          FROM users u
          JOIN teams t ON t.account_id = u.account_id AND t.id = u.home_team_id
         WHERE u.account_id = :account_id AND u.id = ANY(:users)
    ), s AS (
        SELECT 'ACCOUNT'::text AS level, CAST(:account_id AS uuid) AS id
        UNION SELECT 'ORGANIZATION', organization_id FROM pl
        UNION SELECT 'TEAM', team_id FROM pl
        UNION SELECT 'USER', id FROM pl
    ), {SNAPSHOT_CTES}
    SELECT (SELECT coalesce(jsonb_agg(jsonb_build_array(pl.id, pl.team_id, pl.organization_id)), '[]'::jsonb)
              FROM pl) AS placements,
           {INPUTS_COLUMNS},
           {SNAPSHOT_COLUMNS}
      FROM accounts a
     WHERE a.id = :account_id
    """
    )
    .bindparams(*_PARAMETERS)
    .columns(*_COLUMNS)
)
ACCESS_READ_CALL = (
    sa.text("SELECT * FROM cockpit_access_read(:account_id, :users, :start)")
    .bindparams(*_PARAMETERS)
    .columns(*_COLUMNS)
)


@dataclass(frozen=True)
class AccessRead:
    placements: dict[uuid.UUID, Placement]  # users of no team or of another account are absent
    inputs: RawInputs
    snapshot: BudgetSnapshot  # as of the cycle starting at `start` (no ceiling, no counters without one)


async def read_access(
    session: AsyncSession, tenant: TenantId, user_ids: Iterable[uuid.UUID], start: datetime | None
) -> AccessRead:
    """In the session's tenant transaction. `start`: the start of the cycle containing now, None when
    the account has no plan."""
    row = (await session.execute(ACCESS_READ, _parameters(tenant, user_ids, start))).one()
    return _access_read(tenant, row)


async def read_access_alone(
    db: Database, tenant: TenantId, user_ids: Iterable[uuid.UUID], start: datetime | None
) -> AccessRead:
    """Outside any transaction: one call of cockpit_access_read(), which enters the account for this
    statement only (row-level security applies as in a tenant transaction)."""
    async with db.single_statements() as connection:
        row = (await connection.execute(ACCESS_READ_CALL, _parameters(tenant, user_ids, start))).one()
    return _access_read(tenant, row)


def _parameters(tenant: TenantId, user_ids: Iterable[uuid.UUID], start: datetime | None) -> dict[str, Any]:
    return {"account_id": tenant.value, "users": list(set(user_ids)), "start": start}


def _access_read(tenant: TenantId, row: Any) -> AccessRead:
    placements = {
        uuid.UUID(user): Placement(tenant.value, uuid.UUID(org), uuid.UUID(team), uuid.UUID(user))
        for user, team, org in row.placements
    }
    return AccessRead(placements, inputs_from_row(row), snapshot_from_row(row))
