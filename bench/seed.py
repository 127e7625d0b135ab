"""Set-based seeding of one large tenant, as the owner (a superuser, so row-level security does not apply).

Everything is generated inside PostgreSQL (generate_series, INSERT … SELECT) in one transaction:
10,000 users take well under a second. The shapes respect every constraint of 0001_foundation:
composite keys lead with account_id, FKs go through (account_id, organization_id) and
(account_id, home_team_id), emails are lower case and unique per account, one default org and team.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import asyncpg

from cockpit_graphql.domain.accounts.service import Entitlements
from cockpit_graphql.domain.directory.service import DEFAULT_NAME
from cockpit_graphql.domain.roles import Role

BENCH_ORG = "bench-org"
BENCH_DOMAIN = "bench.example"
ADMIN_EMAIL = f"admin@{BENCH_DOMAIN}"


@dataclass(frozen=True)
class TenantShape:
    organizations: int = 20
    teams_per_organization: int = 10
    users_per_team: int = 50

    @property
    def users(self) -> int:
        return self.organizations * self.teams_per_organization * self.users_per_team


@dataclass(frozen=True)
class SeedResult:
    account_id: uuid.UUID
    users: int
    seconds: float


# Organizations are named "Division NN" so that, ordered by name, the 20 seeded ones come before the
# "Global" default: organizations(first: 20) then returns exactly the seeded ones.
INSERT_ACCOUNT = """
INSERT INTO accounts (id, name, status, external_org_id, sso_issuer, sso_allowed_email_domains,
                      jit_enabled, jit_default_role, credits_per_usd, entitlements)
VALUES ($1, 'Bench Corporation', 'ACTIVE', $2, $3, ARRAY[$4]::text[], false, 'MEMBER', 1000, $5::jsonb)
"""

INSERT_DEFAULT_ORG = """
INSERT INTO organizations (account_id, id, name, is_default) VALUES ($1, gen_random_uuid(), $2, true)
RETURNING id
"""

INSERT_DEFAULT_TEAM = """
INSERT INTO teams (account_id, id, organization_id, name, is_default) VALUES ($1, gen_random_uuid(), $2, $3, true)
RETURNING id
"""

INSERT_ORGS = """
INSERT INTO organizations (account_id, id, name)
SELECT $1, gen_random_uuid(), 'Division ' || lpad(o::text, 2, '0')
FROM generate_series(1, $2::int) AS o
"""

INSERT_TEAMS = """
INSERT INTO teams (account_id, id, organization_id, name)
SELECT o.account_id, gen_random_uuid(), o.id, 'Team ' || lpad(t::text, 2, '0')
FROM organizations AS o CROSS JOIN generate_series(1, $2::int) AS t
WHERE o.account_id = $1 AND NOT o.is_default
"""

INSERT_USERS = """
INSERT INTO users (account_id, id, home_team_id, email, display_name, role)
SELECT t.account_id, gen_random_uuid(), t.id,
       'u' || lpad(((t.n - 1) * $2::int + u)::text, 5, '0') || '@' || $3,
       'User ' || lpad(((t.n - 1) * $2::int + u)::text, 5, '0'),
       'MEMBER'
FROM (
    SELECT teams.account_id, teams.id, row_number() OVER (ORDER BY o.name, teams.name) AS n
    FROM teams JOIN organizations AS o ON o.account_id = teams.account_id AND o.id = teams.organization_id
    WHERE teams.account_id = $1 AND NOT teams.is_default
) AS t CROSS JOIN generate_series(1, $2::int) AS u
"""

INSERT_ADMIN = """
INSERT INTO users (account_id, id, home_team_id, email, display_name, role)
VALUES ($1, gen_random_uuid(), $2, $3, 'Bench Admin', $4)
"""

ANALYZED_TABLES = ("accounts", "organizations", "teams", "users", "identity_bindings", "oidc_identities")


async def _ensure_superuser(conn: asyncpg.Connection) -> None:
    if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        raise RuntimeError("the seeding connection must be a superuser (row-level security is FORCEd)")


async def _insert_tenant(
    conn: asyncpg.Connection, account_id: uuid.UUID, issuer: str, shape: TenantShape, org: str, domain: str
) -> None:
    entitlements = json.dumps(Entitlements().to_document())
    await conn.execute(INSERT_ACCOUNT, account_id, org, issuer, domain, entitlements)
    org_id = await conn.fetchval(INSERT_DEFAULT_ORG, account_id, DEFAULT_NAME)
    team_id = await conn.fetchval(INSERT_DEFAULT_TEAM, account_id, org_id, DEFAULT_NAME)
    await conn.execute(INSERT_ORGS, account_id, shape.organizations)
    await conn.execute(INSERT_TEAMS, account_id, shape.teams_per_organization)
    await conn.execute(INSERT_USERS, account_id, shape.users_per_team, domain)
    await conn.execute(INSERT_ADMIN, account_id, team_id, f"admin@{domain}", Role.ACCOUNT_ADMIN.value)


async def _count_users(conn: asyncpg.Connection, account_id: uuid.UUID) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM users WHERE account_id = $1", account_id))


async def seed_tenant(
    conn: asyncpg.Connection, issuer: str, shape: TenantShape, org: str = BENCH_ORG, domain: str = BENCH_DOMAIN
) -> SeedResult:
    """Insert a large tenant in one transaction, then ANALYZE. `conn` is an owner connection.

    The bench uses the defaults; tests seed small and large tenants side by side with their own
    org ids and domains."""
    started = time.perf_counter()
    await _ensure_superuser(conn)
    account_id = uuid.uuid4()
    async with conn.transaction():
        await _insert_tenant(conn, account_id, issuer, shape, org, domain)
    await conn.execute(f"ANALYZE {', '.join(ANALYZED_TABLES)}")
    users = await _count_users(conn, account_id)
    expected = shape.users + 1
    if users != expected:
        raise RuntimeError(f"seeded {users} users, expected {expected}")
    return SeedResult(account_id, users, time.perf_counter() - started)
