"""`cockpit doctor`: the runbook's smoke checks, as a table; any failure makes the exit non-zero."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from redis.asyncio import Redis

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.migrate import current_revision, head_revision
from cockpit_graphql.db.tables import PLATFORM_TABLES, TENANT_TABLES, Account, Organization, Team
from cockpit_graphql.ops.database import owner_connection
from cockpit_graphql.settings import Settings
from cockpit_graphql.workers.heartbeat import heartbeat_age


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


async def _database(settings: Settings) -> Check:
    conn = await owner_connection(settings.owner_database_url)
    try:
        version = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    db = Database.from_settings(settings)
    try:
        async with db.platform() as session:
            role = await session.scalar(sa.text("SELECT current_user"))
    finally:
        await db.dispose()
    return Check("database reachable", True, f"PostgreSQL {version}; app connects as {role}")


async def _migrations(settings: Settings) -> Check:
    current, head = await current_revision(settings.owner_database_url), head_revision()
    return Check("migrations at head", current == head, f"current={current} head={head}")


async def _rls(settings: Settings) -> Check:
    conn = await owner_connection(settings.owner_database_url)
    try:
        rows = await conn.fetch(
            """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'public' AND c.relkind = 'r'
                 AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'account_id'
                             AND NOT a.attisdropped)"""
        )
        policies = {
            r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_policies WHERE schemaname='public'")
        }
    finally:
        await conn.close()
    tables = {r["relname"]: r for r in rows}
    problems = []
    for name in sorted(set(TENANT_TABLES) | (set(tables) - set(PLATFORM_TABLES))):
        row = tables.get(name)
        if row is None:
            problems.append(f"{name}: missing")
        elif not (row["relrowsecurity"] and row["relforcerowsecurity"] and name in policies):
            problems.append(f"{name}: RLS not enabled+forced with a policy")
    detail = "; ".join(problems) if problems else f"{len(TENANT_TABLES)} tenant tables enabled+forced"
    return Check("row-level security", not problems, detail)


async def _app_role(settings: Settings) -> Check:
    conn = await owner_connection(settings.owner_database_url)
    try:
        row = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", settings.app_db_role
        )
        owned = await conn.fetchval(
            """SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
               WHERE r.rolname = $1""",
            settings.app_db_role,
        )
    finally:
        await conn.close()
    if row is None:
        return Check("app role owns nothing", False, f"role {settings.app_db_role} does not exist")
    ok = not row["rolsuper"] and not row["rolbypassrls"] and owned == 0
    return Check(
        "app role owns nothing", ok, f"superuser={row['rolsuper']} bypassrls={row['rolbypassrls']} owns={owned}"
    )


async def _redis(settings: Settings) -> Check:
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.ping()
        version = (await redis.info("server")).get("redis_version")
    finally:
        await redis.aclose()
    return Check("redis reachable", True, f"Redis {version}")


async def _heartbeat(settings: Settings) -> Check:
    redis = Redis.from_url(settings.redis_url)
    try:
        age = await heartbeat_age(redis)
    finally:
        await redis.aclose()
    if age is None:
        return Check("worker heartbeat", False, "no heartbeat: is `cockpit worker` running?")
    ok = age <= settings.worker_heartbeat_max_age_seconds
    return Check("worker heartbeat", ok, f"{age:.0f}s old (limit {settings.worker_heartbeat_max_age_seconds}s)")


async def _defaults(settings: Settings) -> Check:
    db = Database.from_settings(settings)
    missing = []
    try:
        async with db.platform() as session:
            accounts = (await session.execute(sa.select(Account.id, Account.name))).all()
        for account_id, name in accounts:  # one transaction per account
            async with db.tenant(mint_for_system(account_id)) as session:
                org = await session.scalar(sa.select(sa.func.count()).where(Organization.is_default))
                team = await session.scalar(sa.select(sa.func.count()).where(Team.is_default))
            if org != 1 or team != 1:
                missing.append(name)
    finally:
        await db.dispose()
    detail = f"missing in: {', '.join(missing)}" if missing else f"{len(accounts)} accounts have Global org and team"
    return Check("account defaults", not missing, detail)


CHECKS: list[tuple[str, Callable[[Settings], Awaitable[Check]]]] = [
    ("database reachable", _database),
    ("migrations at head", _migrations),
    ("row-level security", _rls),
    ("app role owns nothing", _app_role),
    ("redis reachable", _redis),
    ("worker heartbeat", _heartbeat),
    ("account defaults", _defaults),
]


async def run_checks(settings: Settings) -> list[Check]:
    results = []
    for name, check in CHECKS:
        try:
            results.append(await check(settings))
        except Exception as exc:
            results.append(Check(name, False, f"{type(exc).__name__}: {exc}"[:200]))
    return results


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check'.ljust(width)}  status  detail", f"{'-' * width}  ------  ------"]
    lines += [f"{c.name.ljust(width)}  {'OK' if c.ok else 'FAIL':6}  {c.detail}" for c in checks]
    return "\n".join(lines)
