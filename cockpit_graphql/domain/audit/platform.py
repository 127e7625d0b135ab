"""Writes audit events of platform-wide changes (the model catalog), which belong to no account.

The twin of `repository.record`: same actor, target, before/after diff (secrets redacted) and request
id, written inside the caller's platform transaction so the event lands with the change or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import PlatformAuditEvent
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.diff import diff
from cockpit_graphql.domain.audit.taxonomy import AuditAction


async def record_platform(
    session: AsyncSession,
    operation: Operation,
    action: AuditAction,
    *,
    target_type: str,
    target_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> PlatformAuditEvent:
    """Write one platform audit event in the caller's transaction."""
    event = PlatformAuditEvent(
        action=action.value,
        actor_type=operation.actor.type.value,
        actor_id=operation.actor.audit_id,
        actor_label=operation.actor.label,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        diff=diff(before, after),
        request_id=operation.request_id,
    )
    session.add(event)
    await session.flush()
    return event
