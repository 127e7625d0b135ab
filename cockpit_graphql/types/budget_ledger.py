"""Ledger views: a cycle's entries and the reconciliation of the ledger against events and totals."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.budgets import reconciliation
from cockpit_graphql.domain.budgets.scopes import CycleStatus, Scope, ScopeLevel
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.types.budgets import BudgetScope, CycleStatusEnum
from cockpit_graphql.types.ids import decode_id, encode_id


@strawberry.type(description="One difference found by the reconciliation, to the last decimal.")
class ReconciliationDifference:
    check: str = strawberry.field(description="Which comparison failed (a stable code).")
    scope: BudgetScope | None = strawberry.field(description="The scope concerned, for running totals.")
    expected: Decimal = strawberry.field(description="What the source of truth says.")
    actual: Decimal = strawberry.field(description="What was found.")


@strawberry.type(description="A cycle's ledger compared with its usage events, its pool and its running totals.")
class CycleReconciliation:
    cycle_id: strawberry.ID = strawberry.field(description="The cycle.")
    starts_at: datetime = strawberry.field(description="Cycle start.")
    ends_at: datetime = strawberry.field(description="Cycle end.")
    status: CycleStatusEnum = strawberry.field(description="OPEN or CLOSED.")  # type: ignore[valid-type]
    pool: Decimal = strawberry.field(description="Grant + rollover in + adjustments.")
    included: Decimal = strawberry.field(description="Sum of the events' included credits.")
    overflow: Decimal = strawberry.field(description="Sum of the events' overflow credits.")
    ledger_balance: Decimal = strawberry.field(description="Sum of the cycle's ledger entries.")
    clean: bool = strawberry.field(description="True when no difference was found.")
    differences: list[ReconciliationDifference] = strawberry.field(description="Every difference found.")


async def reconciliation_of(
    info: Info, account_id: uuid.UUID, cycle_gids: list[str] | None
) -> list[CycleReconciliation]:
    tenant = info.context.tenant_for(account_id)
    if tenant is None:
        return []
    cycle_ids: list[uuid.UUID] | None = None
    if cycle_gids is not None:
        refs = [decode_id(g) for g in cycle_gids]
        if any(r is None or r.type_name != "BudgetCycle" or r.account_id != account_id for r in refs):
            raise BadUserInput("`cycleIds` must be ids of this account's budget cycles.")
        cycle_ids = [r.id for r in refs if r is not None]
    async with info.context.db.tenant(tenant) as session:
        found = await reconciliation.reconcile(session, tenant, cycle_ids)
    out = []
    for c in found:
        diffs = [
            ReconciliationDifference(
                check=d.check,
                scope=BudgetScope.of(account_id, Scope(ScopeLevel(d.scope_level), d.scope_id))
                if d.scope_level and d.scope_id
                else None,
                expected=d.expected,
                actual=d.actual,
            )
            for d in c.differences
        ]
        out.append(
            CycleReconciliation(
                cycle_id=strawberry.ID(encode_id("BudgetCycle", account_id, c.cycle_id)),
                starts_at=c.starts_at,
                ends_at=c.ends_at,
                status=CycleStatus(c.status),
                pool=c.pool,
                included=c.included,
                overflow=c.overflow,
                ledger_balance=c.ledger_balance,
                clean=c.clean,
                differences=diffs,
            )
        )
    return out
