"""Writes audit events of platform-wide changes (the model catalog), which belong to no account.

The twin of `repository.record`: same actor, target, before/after diff (secrets redacted) and request
id, written inside the caller's platform transaction so the event lands with the change or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import PlatformAuditEvent
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import event_fields
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
    event = PlatformAuditEvent(**event_fields(operation, action, target_type, target_id, before, after))
    session.add(event)
    await session.flush()
    return event
