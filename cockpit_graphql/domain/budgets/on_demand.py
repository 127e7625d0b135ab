"""The admin's on-demand renewal: exactly what the sweep runs, now, for one account, audited."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets.renewal import Renewal, renew_due


async def renew_now(
    session: AsyncSession, tenant: TenantId, op: Operation, now: datetime, grace: timedelta
) -> list[Renewal]:
    renewals = await renew_due(session, tenant, now, grace)
    await record(
        session,
        tenant,
        op,
        AuditAction.CYCLE_RENEWED,
        target_type="Account",
        target_id=tenant.value,
        after={"renewed": [{"closed": r.closed_cycle_id, "opened": r.opened_cycle_id} for r in renewals]},
    )
    return renewals
