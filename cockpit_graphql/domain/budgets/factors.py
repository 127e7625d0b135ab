"""Which `creditsPerUsd` was in force at an instant (domain.md §2: an event is priced with the factor in
force when it happened, and that factor is stored on it). The account row holds the factor in force now;
each change appends a `credit_factor_changes` row with the factor in force before it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import CreditFactorChange
from cockpit_graphql.domain.in_force import in_force_at


@dataclass(frozen=True)
class FactorHistory:
    current: Decimal  # in force since the last change (or always)
    changes: tuple[tuple[datetime, Decimal], ...]  # (changed_at, the factor before it), oldest first

    def at(self, instant: datetime) -> Decimal:
        """The factor in force at `instant`: a change applies from its `changed_at` on (`in_force_at`)."""
        return in_force_at(self.current, self.changes, instant)


FACTORS = sa.text(
    """
    SELECT a.credits_per_usd, c.changed_at, c.previous_credits_per_usd
      FROM accounts a
      LEFT JOIN credit_factor_changes c ON c.account_id = a.id AND c.changed_at > :since
     WHERE a.id = :account_id
     ORDER BY c.changed_at
    """
)


async def factor_history(session: AsyncSession, tenant: TenantId, since: datetime) -> FactorHistory:
    """The account's factor now and its changes after `since` (the earliest instant to price): ONE
    statement, in place of reading the account's factor."""
    rows = (await session.execute(FACTORS, {"account_id": tenant.value, "since": since})).all()
    if not rows:
        raise LookupError(f"no account {tenant.value}")
    changes = tuple((changed_at, before) for _, changed_at, before in rows if changed_at is not None)
    return FactorHistory(rows[0][0], changes)


async def record_change(
    session: AsyncSession, account_id: uuid.UUID, before: Decimal, after: Decimal, now: datetime
) -> None:
    """Append the change of a factor from `before` to `after` at `now` (the caller holds the account row's
    lock, so changes are serialized); a change in the same instant as the last one is placed a
    microsecond after it, so every change keeps its own row and the order they were made in."""
    last = await session.scalar(
        sa.select(sa.func.max(CreditFactorChange.changed_at)).where(CreditFactorChange.account_id == account_id)
    )
    changed_at = max(now, last + timedelta(microseconds=1)) if last is not None else now
    session.add(
        CreditFactorChange(
            account_id=account_id, changed_at=changed_at, previous_credits_per_usd=before, credits_per_usd=after
        )
    )
    await session.flush()
