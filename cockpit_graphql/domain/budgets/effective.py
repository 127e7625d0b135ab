"""Effective allocations for many nodes at once (a page of users, a tree level): a constant number
of statements however many nodes, all decided by allocate()."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import BudgetPlan
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.allocation import Allocation, PlanCeiling, allocate
from cockpit_graphql.domain.budgets.scopes import Scope


async def allocations(
    session: AsyncSession, tenant: TenantId, chains: list[list[Scope]], now: datetime
) -> list[Allocation]:
    """Allocation of the last scope of each chain in the cycle containing `now`. Read-only: a cycle
    no write has opened yet has its plan's grant as pool and nothing spent. Without a plan every
    allocation says NO_PLAN (remaining 0, binding the account)."""
    cycle, plan = await repo.current_cycle(session, now)
    scopes = {s for chain in chains for s in chain}
    settings = await repo.scope_settings(session, scopes)
    children = await repo.children_caps(session, [chain[-1] for chain in chains])
    if plan is None:
        return [allocate(chain, settings, None, {}, {}, children[chain[-1]]) for chain in chains]
    if cycle is None:
        ceiling = PlanCeiling(plan.credits_per_cycle, plan.overflow_policy == "ALLOW", plan.overflow_cap_credits)
        return [allocate(chain, settings, ceiling, {}, {}, children[chain[-1]]) for chain in chains]
    if cycle.plan_id != plan.id:
        plan = await session.get(BudgetPlan, (tenant.value, cycle.plan_id))
        assert plan is not None
    ceiling = await repo.ceiling_of(session, cycle, plan)
    counters = await repo.counters(session, cycle.id, scopes)
    spent = {s: c.spent for s, c in counters.items()}
    reserved = {s: c.reserved for s, c in counters.items()}
    return [allocate(chain, settings, ceiling, spent, reserved, children[chain[-1]]) for chain in chains]
