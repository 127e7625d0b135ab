"""Effective allocations for many nodes at once (a page of users, a tree level): a constant number
of statements however many nodes, all decided by allocate()."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.allocation import Allocation, allocate
from cockpit_graphql.domain.budgets.cycles import cycle_bounds
from cockpit_graphql.domain.budgets.money import ZERO
from cockpit_graphql.domain.budgets.scopes import Scope


async def allocations(
    session: AsyncSession, tenant: TenantId, chains: list[list[Scope]], now: datetime
) -> list[Allocation]:
    """Allocation of the last scope of each chain in the cycle containing `now`. Read-only: a cycle
    no write has opened yet has its plan's grant as pool and nothing spent. Without a plan every
    allocation says NO_PLAN (remaining 0, binding the account). One statement for the plan, cycle,
    pool, settings and counters (repository.snapshot), plus one for the children's caps of chains
    that end above a user."""
    day = await repo.renewal_day(session)
    leaves = [chain[-1] for chain in chains]
    children = await repo.children_caps(session, leaves)
    if day is None:
        settings = await repo.scope_settings(session, {s for chain in chains for s in chain})
        return [allocate(chain, settings, None, {}, {}, children[chain[-1]]) for chain in chains]
    start, _ = cycle_bounds(day, now)
    snap = await repo.snapshot(session, tenant.value, start, {s for chain in chains for s in chain})
    return allocations_of(snap, chains, children)


def allocations_of(
    snap: repo.BudgetSnapshot, chains: Sequence[list[Scope]], children: Mapping[Scope, Decimal]
) -> list[Allocation]:
    """The allocation of the last scope of each chain, from a snapshot that holds every scope of the
    chains and the children's caps of each last scope (ZERO where absent: a user has no children)."""
    return [
        allocate(chain, snap.settings, snap.ceiling, snap.spent, snap.reserved, children.get(chain[-1], ZERO))
        for chain in chains
    ]
