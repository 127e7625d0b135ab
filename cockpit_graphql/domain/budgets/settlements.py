"""Settlements: the bill for one cycle's overflow, `PENDING → INVOICED → SETTLED`, or `WRITTEN_OFF`.

The renewal creates a settlement (PENDING) when a closed cycle had overflow. Each transition here
locks the settlement row, writes one history row (settlement_transitions), the ledger entry where
credits move (SETTLEMENT or WRITE_OFF, +overflow in the settlement's cycle, which brings the closed
cycle's balance to zero) and one audit event, all in the caller's transaction. Who may write off
(super admins only) is decided by the GraphQL layer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Settlement, SettlementTransition
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError

MAX_REFERENCE = 200
MAX_REASON = 500


class SettlementStatus(StrEnum):
    PENDING = "PENDING"
    INVOICED = "INVOICED"
    SETTLED = "SETTLED"
    WRITTEN_OFF = "WRITTEN_OFF"


# target status -> the statuses it may be reached from
ALLOWED_FROM: dict[SettlementStatus, frozenset[SettlementStatus]] = {
    SettlementStatus.INVOICED: frozenset({SettlementStatus.PENDING}),
    SettlementStatus.SETTLED: frozenset({SettlementStatus.PENDING, SettlementStatus.INVOICED}),
    SettlementStatus.WRITTEN_OFF: frozenset({SettlementStatus.PENDING, SettlementStatus.INVOICED}),
}


def actor_ref(op: Operation) -> str:
    """How ledger and history rows name who did it: `TYPE:id` (or `TYPE:label` without an id)."""
    return f"{op.actor.type.value}:{op.actor.audit_id or op.actor.label}"


def settlement_snapshot(s: Settlement) -> dict[str, Any]:
    return {
        "status": s.status,
        "cycleId": s.cycle_id,
        "overflowCredits": s.overflow_credits,
        "amountUsd": s.amount_usd,
        "externalReference": s.external_reference,
        "writeOffReason": s.write_off_reason,
    }


def clean_text(value: str | None, field: str, limit: int, *, required: bool) -> str | None:
    """Trimmed text of 1..limit characters; blank counts as absent."""
    text = (value or "").strip()
    if not text:
        if required:
            raise UserInputError.single(field, UserErrorCode.REQUIRED, f"`{field}` is required.")
        return None
    if len(text) > limit:
        raise UserInputError.single(field, UserErrorCode.TOO_LONG, f"`{field}` is at most {limit} characters.")
    return text


async def invoice(
    session: AsyncSession, tenant: TenantId, op: Operation, settlement_id: uuid.UUID, external_reference: str | None
) -> Settlement:
    """PENDING → INVOICED. Moves no credits: history and audit only."""
    reference = clean_text(external_reference, "externalReference", MAX_REFERENCE, required=False)
    return await _transition(
        session,
        tenant,
        op,
        settlement_id,
        SettlementStatus.INVOICED,
        AuditAction.SETTLEMENT_INVOICED,
        reference=reference,
        note=reference,
    )


async def settle(
    session: AsyncSession, tenant: TenantId, op: Operation, settlement_id: uuid.UUID, external_reference: str
) -> Settlement:
    """PENDING or INVOICED → SETTLED, with the payment's external reference; SETTLEMENT +overflow."""
    reference = clean_text(external_reference, "externalReference", MAX_REFERENCE, required=True)
    return await _transition(
        session,
        tenant,
        op,
        settlement_id,
        SettlementStatus.SETTLED,
        AuditAction.SETTLEMENT_SETTLED,
        reference=reference,
        note=reference,
        ledger_kind="SETTLEMENT",
    )


async def write_off(
    session: AsyncSession, tenant: TenantId, op: Operation, settlement_id: uuid.UUID, reason: str
) -> Settlement:
    """PENDING or INVOICED → WRITTEN_OFF, with a reason; WRITE_OFF +overflow."""
    why = clean_text(reason, "reason", MAX_REASON, required=True)
    return await _transition(
        session,
        tenant,
        op,
        settlement_id,
        SettlementStatus.WRITTEN_OFF,
        AuditAction.SETTLEMENT_WRITTEN_OFF,
        reason=why,
        note=why,
        ledger_kind="WRITE_OFF",
    )


async def _locked(session: AsyncSession, settlement_id: uuid.UUID) -> Settlement:
    stmt = (
        sa.select(Settlement)
        .where(Settlement.id == settlement_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    found = (await session.scalars(stmt)).first()
    if found is None:
        raise UserInputError.single("id", UserErrorCode.NOT_FOUND, "No such settlement.")
    return found


async def _transition(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    settlement_id: uuid.UUID,
    to: SettlementStatus,
    action: AuditAction,
    *,
    reference: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    ledger_kind: str | None = None,
) -> Settlement:
    settlement = await _locked(session, settlement_id)
    current = SettlementStatus(settlement.status)
    if current not in ALLOWED_FROM[to]:
        raise UserInputError.single(
            "id",
            UserErrorCode.ILLEGAL_TRANSITION,
            f"A {current.value} settlement cannot become {to.value}.",
        )
    before = settlement_snapshot(settlement)
    now = datetime.now(UTC)
    actor = actor_ref(op)
    settlement.status, settlement.updated_at = to.value, now
    if reference is not None:
        settlement.external_reference = reference
    if reason is not None:
        settlement.write_off_reason = reason
    session.add(
        SettlementTransition(
            account_id=tenant.value,
            id=uuid.uuid4(),
            settlement_id=settlement.id,
            from_status=current.value,
            to_status=to.value,
            note=note,
            actor=actor,
            at=now,
        )
    )
    await session.flush()
    if ledger_kind is not None:
        await repo.append_ledger(
            session,
            tenant,
            [
                dict(
                    cycle_id=settlement.cycle_id,
                    kind=ledger_kind,
                    amount=settlement.overflow_credits,
                    settlement_id=settlement.id,
                    reason=note,
                    actor=actor,
                )
            ],
        )
    await record(
        session,
        tenant,
        op,
        action,
        target_type="Settlement",
        target_id=settlement.id,
        before=before,
        after=settlement_snapshot(settlement),
    )
    return settlement
