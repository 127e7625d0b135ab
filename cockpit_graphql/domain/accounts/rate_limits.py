"""An account's rate limit: the token bucket every principal of the account gets (capacity in query
cost units, refill in units per second). Unset, the settings' defaults apply; a super admin may set
an override, audited in the account in the same transaction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Account
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.directory import repository as directory_repo
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError

MAX_CAPACITY = 1_000_000_000
MAX_REFILL_PER_SECOND = 1_000_000_000.0
MIN_REFILL_PER_SECOND = 0.001


@dataclass(frozen=True)
class RateLimitSetting:
    """A bucket: up to `capacity` cost units, refilled at `refill_per_second`."""

    capacity: int
    refill_per_second: float


def override_of(account: Account) -> RateLimitSetting | None:
    """The account's override, or None when it uses the defaults (the columns are set together)."""
    return override_from(
        getattr(account, "rate_limit_capacity", None), getattr(account, "rate_limit_refill_per_second", None)
    )


def override_from(capacity: int | None, refill_per_second: float | None) -> RateLimitSetting | None:
    """The override the two account columns hold, as read (None: the defaults)."""
    if capacity is None or refill_per_second is None:
        return None
    return RateLimitSetting(int(capacity), float(refill_per_second))


def validate(capacity: int | None, refill_per_second: float | None) -> RateLimitSetting | None:
    """Both set (an override) or both absent (back to the defaults); anything else is a userError."""
    if capacity is None and refill_per_second is None:
        return None
    problems: list[UserErrorItem] = []
    if capacity is None or refill_per_second is None:
        missing = "capacity" if capacity is None else "refillPerSecond"
        raise UserInputError.single(
            missing, UserErrorCode.REQUIRED, "Give both `capacity` and `refillPerSecond`, or neither to clear."
        )
    if not 1 <= capacity <= MAX_CAPACITY:
        problems.append(UserErrorItem(("capacity",), UserErrorCode.INVALID, f"`capacity` must be 1 to {MAX_CAPACITY}."))
    if not (math.isfinite(refill_per_second) and MIN_REFILL_PER_SECOND <= refill_per_second <= MAX_REFILL_PER_SECOND):
        problems.append(
            UserErrorItem(
                ("refillPerSecond",),
                UserErrorCode.INVALID,
                f"`refillPerSecond` must be {MIN_REFILL_PER_SECOND} to {MAX_REFILL_PER_SECOND:.0f}.",
            )
        )
    if problems:
        raise UserInputError(*problems)
    return RateLimitSetting(capacity, float(refill_per_second))


def _snapshot(setting: RateLimitSetting | None) -> dict[str, Any]:
    if setting is None:
        return {"rateLimit": None}
    return {"rateLimit": {"capacity": setting.capacity, "refillPerSecond": setting.refill_per_second}}


async def set_rate_limit(
    session: AsyncSession, tenant: TenantId, op: Operation, setting: RateLimitSetting | None
) -> Account:
    """Set (or with None clear) the account's override; audited in the account, same transaction.
    Principals see the change on their next request (the limit is read with their identity)."""
    account = await directory_repo.get_account(session, tenant.value, lock=True)
    if account is None:
        raise UserInputError.single("accountId", UserErrorCode.NOT_FOUND, "No account with this id.")
    before = override_of(account)
    if before == setting:
        raise UserInputError.single("accountId", UserErrorCode.NOTHING_TO_CHANGE, "The rate limit is already so.")
    account.rate_limit_capacity = setting.capacity if setting else None
    account.rate_limit_refill_per_second = setting.refill_per_second if setting else None
    account.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(account)
    await record(
        session,
        tenant,
        op,
        AuditAction.RATE_LIMIT_UPDATED if setting else AuditAction.RATE_LIMIT_CLEARED,
        target_type="Account",
        target_id=account.id,
        before=_snapshot(before),
        after=_snapshot(setting),
    )
    return account
