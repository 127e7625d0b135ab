"""effectiveAccess for the runtime: placement, account, policies and budget read in ONE tenant
transaction, then decided by decide_access(). Read-only: it reserves nothing (authorizeUsage does)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.allocation import Allocation
from cockpit_graphql.domain.budgets.effective import allocations
from cockpit_graphql.domain.budgets.scopes import Placement
from cockpit_graphql.domain.policies.access import AccessDecision, AccessRequest, decide_access
from cockpit_graphql.domain.policies.effective import PolicyView, load_inputs, views
from cockpit_graphql.domain.policies.flags import FlagDefinition


@dataclass(frozen=True)
class AccessAnswer:
    placement: Placement
    view: PolicyView
    allocation: Allocation
    decision: AccessDecision


async def effective_access(
    session: AsyncSession,
    tenant: TenantId,
    asks: Sequence[tuple[uuid.UUID, AccessRequest]],
    registry: Mapping[str, FlagDefinition],
    now: datetime,
) -> list[AccessAnswer | None]:
    """Answers for many (user, request) pairs of one account in the same statements as one: the
    placements, the policy inputs of every chain and the allocations, each read once. None for a
    user who is not in this account."""
    places = await budget_repo.placements(session, tenant, [user for user, _ in asks])
    chains = {user: p.chain() for user, p in places.items()}
    if not chains:
        return [None] * len(asks)
    ordered = list(chains)
    inputs = await load_inputs(session, tenant, {s for chain in chains.values() for s in chain})
    by_user = dict(zip(ordered, views(inputs, [chains[u] for u in ordered], registry), strict=True))
    budgets = dict(zip(ordered, await allocations(session, tenant, [chains[u] for u in ordered], now), strict=True))
    answers: list[AccessAnswer | None] = []
    for user, request in asks:
        if user not in chains:
            answers.append(None)
            continue
        view, allocation = by_user[user], budgets[user]
        decision = decide_access(view.policy, allocation, inputs.account_active, request)
        answers.append(AccessAnswer(places[user], view, allocation, decision))
    return answers
