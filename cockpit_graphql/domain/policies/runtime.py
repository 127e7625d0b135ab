"""effectiveAccess for the runtime: placement, account, policies and budget read in ONE tenant
transaction, then decided by decide_access(). Read-only: it reserves nothing (authorizeUsage does)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Account
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.allocation import Allocation
from cockpit_graphql.domain.budgets.effective import allocations
from cockpit_graphql.domain.budgets.scopes import Placement
from cockpit_graphql.domain.policies import repository as repo
from cockpit_graphql.domain.policies.access import AccessDecision, AccessRequest, decide_access
from cockpit_graphql.domain.policies.effective import PolicyInputs, PolicyView, views
from cockpit_graphql.domain.policies.entitlements import Entitlements
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
    status, document = (
        await session.execute(sa.select(Account.status, Account.entitlements).where(Account.id == tenant.value))
    ).one()
    inputs = PolicyInputs(
        settings=await repo.scope_policies(session, chain),
        catalog=await repo.enabled_catalog(session),
        entitlements=Entitlements.from_document(document),
        guardrails=await repo.guardrails(session),
    )
    view = views(inputs, [chain], registry)[0]
    allocation = (await allocations(session, tenant, [chain], now))[0]
    decision = decide_access(view.policy, allocation, status == "ACTIVE", request)
    return AccessAnswer(placement, view, allocation, decision)
