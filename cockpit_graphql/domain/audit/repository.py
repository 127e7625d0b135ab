"""Writes and reads audit events (inside the caller's tenant transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import AuditEvent
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.diff import diff
from cockpit_graphql.domain.audit.taxonomy import AuditAction


def event_fields(
    operation: Operation,
    action: AuditAction,
    target_type: str,
    target_id: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    """The columns every audit event has, tenant or platform: actor, target, diff, request id."""
    return {
        "action": action.value,
        "actor_type": operation.actor.type.value,
        "actor_id": operation.actor.audit_id,
        "actor_label": operation.actor.label,
        "target_type": target_type,
        "target_id": str(target_id) if target_id is not None else None,
        "diff": diff(before, after),
        "request_id": operation.request_id,
    }


async def record(
    session: AsyncSession,
    tenant: TenantId,
    operation: Operation,
    action: AuditAction,
    *,
    target_type: str,
    target_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event in the caller's transaction, so it lands with the change or not at all."""
    event = AuditEvent(
        account_id=tenant.value, **event_fields(operation, action, target_type, target_id, before, after)
    )
    session.add(event)
    await session.flush()
    return event
