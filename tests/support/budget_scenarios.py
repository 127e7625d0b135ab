"""More budget fixtures for the metering and reconciliation tests: usage inputs in USD, direct reads of
counters, events, notices and reservations, and owner-connection SQL for tampering (the owner is a
superuser: it bypasses row-level security and the app role's append-only grants)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.db.tables import BillingNotice, BudgetCounter, Reservation, UsageEvent
from cockpit_graphql.domain.accounts.service import AccountChanges, update_account
from cockpit_graphql.domain.budgets import metering
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.metering import UsageInput, UsageOutcome
from cockpit_graphql.domain.budgets.reconciliation import CycleReconciliation, reconcile
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.ops.database import owner_connection
from tests.support.budgets import NOW, Budget
from tests.support.world import OP


def usage(
    b: Budget,
    user: str,
    cost: str | Decimal,
    *,
    key: str | None = None,
    at: datetime = NOW,
    reservation: uuid.UUID | None = None,
) -> UsageInput:
    return UsageInput(
        idempotency_key=key if key is not None else uuid.uuid4().hex,
        user_id=b.ids[user],
        cost_usd=Decimal(cost),
        occurred_at=at,
        reservation_id=reservation,
    )


async def record(b: Budget, inputs: list[UsageInput], now: datetime = NOW) -> list[UsageOutcome]:
    async with b.db.tenant(b.tid) as s:
        return await metering.record_usage(s, b.tid, inputs, now)


async def release(b: Budget, reservation_id: uuid.UUID, now: datetime = NOW) -> Reservation:
    async with b.db.tenant(b.tid) as s:
        return await metering.release(s, b.tid, reservation_id, now)


async def expire_due(b: Budget, now: datetime) -> int:
    async with b.db.tenant(b.tid) as s:
        return await metering.expire_due(s, b.tid, None, now)


async def set_factor(b: Budget, factor: str, at: datetime = NOW - timedelta(days=1)) -> None:
    """Change the account's factor at `at` (by default before the scenarios' events: they see it)."""
    async with b.db.tenant(b.tid) as s:
        await update_account(s, b.tid, OP, AccountChanges(credits_per_usd=Decimal(factor)), now=at)


async def move_user(b: Budget, user: str, team: str, at: datetime = NOW) -> None:
    """Move `user` to `team` at `at` (by default the scenarios' NOW: events at NOW or later follow it)."""
    async with b.db.tenant(b.tid) as s:
        await directory.move_user(s, b.tid, OP, b.ids[user], b.ids[team], now=at)


async def cycle_id(b: Budget, at: datetime = NOW) -> uuid.UUID:
    async with b.db.tenant(b.tid) as s:
        cycle = await repo.ensure_cycle(s, b.tid, at)
        assert cycle is not None
        return cycle.id


async def reconciled(b: Budget, cycle_ids: list[uuid.UUID] | None = None) -> list[CycleReconciliation]:
    async with b.db.tenant(b.tid) as s:
        return await reconcile(s, b.tid, cycle_ids)


async def only_cycle(b: Budget) -> CycleReconciliation:
    found = await reconciled(b)
    assert len(found) == 1, found
    return found[0]


async def counters(b: Budget, at: datetime = NOW) -> dict[Scope, BudgetCounter]:
    """Every running total of the cycle containing `at`, by scope."""
    cid = await cycle_id(b, at)
    async with b.db.tenant(b.tid) as s:
        rows = (await s.scalars(sa.select(BudgetCounter).where(BudgetCounter.cycle_id == cid))).all()
    return {Scope(ScopeLevel(r.scope_level), r.scope_id): r for r in rows}


async def events(b: Budget) -> list[UsageEvent]:
    async with b.db.tenant(b.tid) as s:
        return list((await s.scalars(sa.select(UsageEvent).order_by(UsageEvent.recorded_at, UsageEvent.id))).all())


async def notices(b: Budget) -> list[tuple[str, uuid.UUID, str]]:
    """(scope level, scope id, kind) of every billing notice, sorted."""
    async with b.db.tenant(b.tid) as s:
        rows = (await s.scalars(sa.select(BillingNotice))).all()
    return sorted((n.scope_level, n.scope_id, n.kind) for n in rows)


async def reservation(b: Budget, reservation_id: uuid.UUID) -> Reservation:
    async with b.db.tenant(b.tid) as s:
        found = await s.get(Reservation, (b.tenant.account_id, reservation_id))
        assert found is not None
        return found


async def owner_execute(b: Budget, sql: str, *args: Any) -> str:
    """Run SQL as the database owner (superuser: RLS and grants do not apply). For tampering only."""
    conn = await owner_connection(b.world.settings.database_url)
    try:
        return await conn.execute(sql, *args)
    finally:
        await conn.close()


async def owner_ledger_entry(b: Budget, cid: uuid.UUID, kind: str, amount: Decimal, **extra: Any) -> None:
    """Append a ledger entry directly (no service writes ADJUSTMENT / EXPIRY / SETTLEMENT yet)."""
    await owner_execute(
        b,
        "INSERT INTO ledger_entries (account_id, id, cycle_id, kind, amount, usage_event_id, reason) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        b.tenant.account_id,
        uuid.uuid4(),
        cid,
        kind,
        amount,
        extra.get("usage_event_id"),
        extra.get("reason", "test"),
    )


async def tree(b: Budget, plan: str | None = "1000", **terms: Any) -> Budget:
    """A small tenant: orgs o1 (teams t1, t2) and o2 (team t3); users u1, u2 in t1, u3 in t2, u4 in t3."""
    if plan is not None:
        await b.plan(plan, **terms)
    await b.org("o1")
    await b.org("o2")
    await b.team("t1", "o1")
    await b.team("t2", "o1")
    await b.team("t3", "o2")
    for user, team in (("u1", "t1"), ("u2", "t1"), ("u3", "t2"), ("u4", "t3")):
        await b.user(user, team)
    return b
