"""effectiveAccess for the runtime: placement, account, policies and budget read in ONE tenant
transaction, then decided by decide_access(). Read-only: it reserves nothing (authorizeUsage does)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
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
    user_id: uuid.UUID,
    request: AccessRequest,
    registry: Mapping[str, FlagDefinition],
    now: datetime,
) -> AccessAnswer | None:
    """None when the user is not in this account."""
    placement = (await budget_repo.placements(session, tenant, [user_id])).get(user_id)
    if placement is None:
        return None
    chain = placement.chain()
    inputs = await load_inputs(session, tenant, set(chain))
    view = views(inputs, [chain], registry)[0]
    allocation = (await allocations(session, tenant, [chain], now))[0]
    decision = decide_access(view.policy, allocation, inputs.account_active, request)
    return AccessAnswer(placement, view, allocation, decision)
