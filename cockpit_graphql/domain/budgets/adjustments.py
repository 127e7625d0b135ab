"""Credit adjustments: an admin tops up (+) or corrects (−) the pool of the current cycle, with a reason.

The entry is an ADJUSTMENT in the ledger of the cycle containing `now`, written under that cycle's
lock (the same mutex metering uses), so it changes the pool for usage recorded from now on only:
an event's included/overflow split is frozen when it is recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import LedgerEntry
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.renewal import usage_of
from cockpit_graphql.domain.budgets.settlements import MAX_REASON, actor_ref, clean_text
from cockpit_graphql.domain.budgets.validation import MAX_POOL, clean_amount
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError


async def adjust_credits(
    session: AsyncSession, tenant: TenantId, op: Operation, amount: Decimal, reason: str, now: datetime
) -> LedgerEntry:
    """Add `amount` (non-zero, either sign) to the pool of the cycle containing `now`.

    A negative adjustment may remove at most the unused pool (pool − included usage): what was
    already consumed from the pool stays consumed, so a closed cycle's balance stays −overflow."""
    clean_amount(amount, "credits", allow_zero=False, allow_negative=True)
    why = clean_text(reason, "reason", MAX_REASON, required=True)
    await repo.lock_account_budget(session, tenant)
    opened = await repo.ensure_cycle(session, tenant, now)
    if opened is None:
        raise UserInputError.single("credits", UserErrorCode.INVALID, "The account has no budget plan.")
    cycle = await repo.lock_cycle(session, opened.id)
    if cycle.status != "OPEN":  # only with a `now` older than a renewal that already ran
        raise UserInputError.single("credits", UserErrorCode.INVALID, "The cycle containing this time is closed.")
    pool = await repo.pool_of(session, cycle.id)
    included = (await usage_of(session, cycle.id)).included
    if pool + amount > MAX_POOL:
        raise UserInputError.single(
            "credits", UserErrorCode.INVALID, f"A cycle's pool holds at most {MAX_POOL} credits (it holds {pool})."
        )
    if pool + amount < included:
        raise UserInputError.single(
            "credits",
            UserErrorCode.INVALID,
            f"At most {pool - included} credits of this cycle's pool are unused and can be removed.",
        )
    entry = LedgerEntry(
        account_id=tenant.value,
        id=uuid.uuid4(),
        cycle_id=cycle.id,
        kind="ADJUSTMENT",
        amount=amount,
        reason=why,
        actor=actor_ref(op),
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.CREDITS_ADJUSTED,
        target_type="LedgerEntry",
        target_id=entry.id,
        before={"cyclePool": pool},
        after={"cyclePool": pool + amount, "amount": amount, "reason": why, "cycleId": cycle.id},
    )
    return entry
