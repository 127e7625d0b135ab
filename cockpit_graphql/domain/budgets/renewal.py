"""Renewal: close every cycle that ended (past the grace window), oldest first, and open the next.

Per cycle, in one transaction (the caller's): open the next cycle (idempotently, with its GRANT),
lock both cycle rows, re-check that the closing one is still OPEN, release its expired holds, move
the rollover (ROLLOVER −carried / +carried), expire the rest of the unused pool (EXPIRY), mark the
cycle CLOSED and, when it had overflow, create its settlement. Exactly one renewal per
(account, cycle start) is guaranteed by the database, not by the queue: the row locks, the
re-check, and the unique indexes (one GRANT and one EXPIRY per cycle, one ROLLOVER pair, one
cycle per start, one settlement per cycle). A failure at any step rolls everything back; a rerun
does one correct renewal. After a close the cycle's ledger balance is −(its overflow).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import BudgetCycle, BudgetPlan, LedgerEntry, Settlement, SettlementTransition
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.metering import expire_due
from cockpit_graphql.domain.budgets.money import ZERO, share_of, usd_of
from cockpit_graphql.domain.budgets.settlements import SettlementStatus, actor_ref
from cockpit_graphql.domain.budgets.validation import MAX_ROLLOVER

# The steps of one renewal, in order; `fault(step)` is called after each (tests inject failures there).
RENEWAL_STEPS: tuple[str, ...] = ("open_next", "lock", "expire_holds", "rollover", "expiry", "close", "settlement")
SYSTEM = actor_ref(Operation(SYSTEM_ACTOR))


@dataclass(frozen=True)
class Renewal:
    closed_cycle_id: uuid.UUID
    opened_cycle_id: uuid.UUID
    expired: Decimal
    carried: Decimal
    overflow: Decimal
    settlement_id: uuid.UUID | None


@dataclass(frozen=True)
class Usage:
    """What a cycle consumed, from its ledger (the truth): the pool part and the overflow part."""

    included: Decimal
    overflow: Decimal


async def usage_of(session: AsyncSession, cycle_id: uuid.UUID) -> Usage:
    stmt = (
        sa.select(LedgerEntry.kind, sa.func.sum(LedgerEntry.amount))
        .where(LedgerEntry.cycle_id == cycle_id, LedgerEntry.kind.in_(("USAGE", "OVERFLOW_USAGE")))
        .group_by(LedgerEntry.kind)
    )
    sums = {kind: Decimal(total) for kind, total in (await session.execute(stmt)).all()}
    return Usage(-sums.get("USAGE", ZERO), -sums.get("OVERFLOW_USAGE", ZERO))


def carried_over(unused: Decimal, plan: BudgetPlan) -> Decimal:
    """`unused × rolloverPercent / 100`, half-up to 6 decimals, then capped by `rolloverCap`, and by
    MAX_ROLLOVER so that the next pool (its GRANT ≤ MAX_CREDITS plus this) stays within MAX_POOL."""
    carried = share_of(unused, plan.rollover_percent)
    if plan.rollover_cap is not None:
        carried = min(carried, plan.rollover_cap)
    return min(carried, MAX_ROLLOVER)


async def renew_due(
    session: AsyncSession,
    tenant: TenantId,
    now: datetime,
    grace: timedelta,
    *,
    fault: Callable[[str], None] | None = None,
) -> list[Renewal]:
    """Close every OPEN cycle with `ends_at + grace <= now`, oldest first, each followed by opening
    the next; a worker that was down for several cycles catches up one cycle at a time, in order.
    Cycles another transaction renewed meanwhile are skipped. Runs in the caller's transaction."""
    step = fault or _no_fault
    done: list[Renewal] = []
    await repo.lock_account_budget(session, tenant)  # before any cycle lock: no deadlock with metering
    seen: set[uuid.UUID] = set()
    while (due := await _oldest_due(session, now - grace, seen)) is not None:
        seen.add(due.id)
        renewal = await _renew(session, tenant, due.id, due.ends_at, now, step)
        if renewal is not None:
            done.append(renewal)
    return done


def _no_fault(_step: str) -> None:
    return None


async def _oldest_due(session: AsyncSession, ended_by: datetime, seen: set[uuid.UUID]) -> BudgetCycle | None:
    stmt = (
        sa.select(BudgetCycle)
        .where(BudgetCycle.status == "OPEN", BudgetCycle.ends_at <= ended_by)
        .order_by(BudgetCycle.starts_at)
        .limit(1)
    )
    if seen:
        stmt = stmt.where(BudgetCycle.id.not_in(seen))
    return (await session.scalars(stmt)).first()


async def _renew(
    session: AsyncSession,
    tenant: TenantId,
    cycle_id: uuid.UUID,
    ends_at: datetime,
    now: datetime,
    step: Callable[[str], None],
) -> Renewal | None:
    # The next cycle first (it may exist already: a usage write opens cycles on demand), so both rows
    # can then be locked in id order, the same order metering locks cycles in: no deadlock.
    following = await repo.ensure_cycle(session, tenant, ends_at)
    assert following is not None and following.starts_at == ends_at, "cycle bounds never shift"
    step("open_next")
    locked = {cid: await repo.lock_cycle(session, cid) for cid in sorted({cycle_id, following.id})}
    closing = locked[cycle_id]
    step("lock")
    if closing.status != "OPEN":  # another worker renewed it while we waited for the lock
        return None

    await expire_due(session, tenant, closing.id, now)
    step("expire_holds")

    plan = await session.get(BudgetPlan, (tenant.value, closing.plan_id))
    assert plan is not None
    pool = await repo.pool_of(session, closing.id)
    used = await usage_of(session, closing.id)
    unused = max(pool - used.included, ZERO)
    carried = carried_over(unused, plan)
    expired = unused - carried
    await repo.append_ledger(
        session,
        tenant,
        [
            dict(
                cycle_id=closing.id,
                kind="ROLLOVER",
                amount=ZERO - carried,
                counterpart_cycle_id=following.id,
                reason="rollover to the next cycle",
                actor=SYSTEM,
                created_at=now,
            ),
            dict(
                cycle_id=following.id,
                kind="ROLLOVER",
                amount=carried,
                counterpart_cycle_id=closing.id,
                reason="rollover from the previous cycle",
                actor=SYSTEM,
                created_at=now,
            ),
        ],
    )
    step("rollover")
    await repo.append_ledger(
        session,
        tenant,
        [
            dict(
                cycle_id=closing.id,
                kind="EXPIRY",
                amount=ZERO - expired,
                reason="unused pool expired",
                actor=SYSTEM,
                created_at=now,
            )
        ],
    )
    step("expiry")

    closing.status, closing.closed_at = "CLOSED", now
    await session.flush()
    step("close")

    settlement_id = None
    if used.overflow > 0:
        settlement_id = await _open_settlement(session, tenant, closing, plan, used.overflow, now)
    step("settlement")
    return Renewal(closing.id, following.id, expired, carried, used.overflow, settlement_id)


async def _open_settlement(
    session: AsyncSession, tenant: TenantId, cycle: BudgetCycle, plan: BudgetPlan, overflow: Decimal, now: datetime
) -> uuid.UUID:
    settlement = Settlement(
        account_id=tenant.value,
        id=uuid.uuid4(),
        cycle_id=cycle.id,
        overflow_credits=overflow,
        amount_usd=usd_of(overflow, plan.overflow_usd_per_credit),
        status=SettlementStatus.PENDING.value,
        created_at=now,
        updated_at=now,
    )
    session.add(settlement)
    await session.flush()  # the settlement row before its history row (foreign key)
    session.add(
        SettlementTransition(
            account_id=tenant.value,
            id=uuid.uuid4(),
            settlement_id=settlement.id,
            from_status=None,
            to_status=SettlementStatus.PENDING.value,
            note="cycle closed with overflow",
            actor=SYSTEM,
            at=now,
        )
    )
    await session.flush()
    return settlement.id
