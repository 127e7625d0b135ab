"""Budget jobs: the renewal sweep, one account's renewal, and the release of expired holds.

System work that spans accounts runs one tenant transaction per account (TenantId minted for the
system). arq warns that jobs may run more than once: the job ids only deduplicate the queue; the
database makes the effects idempotent (row locks, re-checks and unique indexes in renewal; a
conditional UPDATE in expiry).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from arq import cron
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Function, func

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import Account
from cockpit_graphql.domain.budgets.metering import expire_due
from cockpit_graphql.domain.budgets.renewal import renew_due
from cockpit_graphql.settings import get_settings

log = logging.getLogger(__name__)

RENEW_SWEEP = "budgets.renew_sweep"
RENEW_ACCOUNT = "budgets.renew_account"
EXPIRE_RESERVATIONS = "budgets.expire_reservations"


def _grace() -> timedelta:
    return timedelta(seconds=get_settings().usage_grace_seconds)


async def _account_ids(db: Database) -> list[uuid.UUID]:
    async with db.platform() as session:
        return list((await session.scalars(sa.select(Account.id).order_by(Account.id))).all())


async def _renew_one(db: Database, account_id: uuid.UUID, now: datetime) -> int:
    tenant = mint_for_system(account_id)
    async with db.tenant(tenant) as session:
        return len(await renew_due(session, tenant, now, _grace()))


async def renew_account(ctx: dict[str, Any], account_id: str, now: datetime | None = None) -> int:
    """Renew every cycle of one account that is due at `now` (default: the current time)."""
    return await _renew_one(ctx["db"], uuid.UUID(str(account_id)), now or datetime.now(UTC))


async def renew_sweep(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, int]:
    """Every account, one transaction each: a failing account is logged and does not stop the others;
    the job then fails so that the failure is visible (the next sweep retries it)."""
    db: Database = ctx["db"]
    at = now or datetime.now(UTC)
    renewed, failed = 0, []
    accounts = await _account_ids(db)
    for account_id in accounts:
        try:
            renewed += await _renew_one(db, account_id, at)
        except Exception:
            log.exception("renewal failed for account %s", account_id)
            failed.append(account_id)
    if failed:
        raise RuntimeError(f"renewal failed for {len(failed)} account(s): {', '.join(map(str, failed))}")
    return {"accounts": len(accounts), "renewed": renewed}


async def expire_reservations(ctx: dict[str, Any], now: datetime | None = None) -> dict[str, int]:
    """Release the holds whose TTL passed, in every account (authorization also does it per cycle)."""
    db: Database = ctx["db"]
    at = now or datetime.now(UTC)
    expired, failed = 0, []
    accounts = await _account_ids(db)
    for account_id in accounts:
        tenant = mint_for_system(account_id)
        try:
            async with db.tenant(tenant) as session:
                expired += await expire_due(session, tenant, None, at)
        except Exception:
            log.exception("reservation expiry failed for account %s", account_id)
            failed.append(account_id)
    if failed:
        raise RuntimeError(f"expiry failed for {len(failed)} account(s): {', '.join(map(str, failed))}")
    return {"accounts": len(accounts), "expired": expired}


def renewal_job_id(account_id: uuid.UUID, cycle_start: datetime) -> str:
    return f"budgets.renew:{account_id}:{cycle_start.astimezone(UTC).isoformat()}"


async def enqueue_renewal(pool: ArqRedis, account_id: uuid.UUID, cycle_start: datetime) -> Job | None:
    """Ask for the renewal of one account's cycle that starts at `cycle_start`, after the commit that
    makes it due. The deterministic job id queues it once; None when it is already queued or done."""
    return await pool.enqueue_job(RENEW_ACCOUNT, str(account_id), _job_id=renewal_job_id(account_id, cycle_start))


FUNCTIONS: list[Function] = [
    func(renew_sweep, name=RENEW_SWEEP),
    func(renew_account, name=RENEW_ACCOUNT),
    func(expire_reservations, name=EXPIRE_RESERVATIONS),
]

CRON_JOBS = [
    cron(renew_sweep, name=RENEW_SWEEP, minute=set(range(0, 60, 5)), second=0, run_at_startup=False),
    cron(expire_reservations, name=EXPIRE_RESERVATIONS, second=30, run_at_startup=False),
]
