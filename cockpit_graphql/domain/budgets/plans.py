"""Budget plans: one active plan per account, versioned; an edit applies from the next cycle."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import BudgetPlan
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.cycles import cycle_bounds
from cockpit_graphql.domain.budgets.validation import clean_amount
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError


class OverflowPolicy(StrEnum):
    BLOCK = "BLOCK"
    ALLOW = "ALLOW"


@dataclass(frozen=True)
class PlanTerms:
    credits_per_cycle: Decimal
    renewal_day: int
    rollover_percent: Decimal = Decimal(0)
    rollover_cap: Decimal | None = None
    overflow_policy: OverflowPolicy = OverflowPolicy.BLOCK
    overflow_cap_credits: Decimal | None = None
    overflow_usd_per_credit: Decimal = Decimal(0)


def plan_snapshot(plan: BudgetPlan) -> dict[str, Any]:
    return {
        "version": plan.version,
        "creditsPerCycle": plan.credits_per_cycle,
        "renewalDay": plan.renewal_day,
        "rolloverPercent": plan.rollover_percent,
        "rolloverCap": plan.rollover_cap,
        "overflowPolicy": plan.overflow_policy,
        "overflowCapCredits": plan.overflow_cap_credits,
        "overflowUsdPerCredit": plan.overflow_usd_per_credit,
        "effectiveFrom": plan.effective_from,
    }


def _validate(terms: PlanTerms) -> PlanTerms:
    clean_amount(terms.credits_per_cycle, "creditsPerCycle")
    if not 1 <= terms.renewal_day <= 28:
        raise UserInputError.single("renewalDay", UserErrorCode.INVALID, "`renewalDay` must be between 1 and 28.")
    percent = terms.rollover_percent
    if not percent.is_finite() or not Decimal(0) <= percent <= Decimal(100) or percent.as_tuple().exponent < -2:  # type: ignore[operator]
        raise UserInputError.single(
            "rolloverPercent", UserErrorCode.INVALID, "`rolloverPercent` must be 0 to 100 with at most 2 decimals."
        )
    if terms.rollover_cap is not None:
        clean_amount(terms.rollover_cap, "rolloverCap")
    if terms.overflow_cap_credits is not None:
        clean_amount(terms.overflow_cap_credits, "overflowCapCredits")
        if terms.overflow_policy is OverflowPolicy.BLOCK:
            raise UserInputError.single(
                "overflowCapCredits", UserErrorCode.INVALID, "An overflow cap needs the ALLOW overflow policy."
            )
    usd = terms.overflow_usd_per_credit
    if not usd.is_finite() or not 0 <= usd <= 1000 or usd.as_tuple().exponent < -10:  # type: ignore[operator]
        raise UserInputError.single(
            "overflowUsdPerCredit",
            UserErrorCode.INVALID,
            "`overflowUsdPerCredit` must be 0 to 1000 with at most 10 decimals.",
        )
    return terms


async def set_plan(
    session: AsyncSession, tenant: TenantId, op: Operation, terms: PlanTerms, now: datetime
) -> BudgetPlan:
    """The first plan governs the cycle that contains `now`; later versions start with the next cycle.
    The renewal day is fixed by the first plan (cycle bounds never shift)."""
    _validate(terms)
    latest = await repo.latest_plan(session)
    if latest is None:
        effective_from = cycle_bounds(terms.renewal_day, now)[0]
        version = 1
    else:
        if terms.renewal_day != latest.renewal_day:
            raise UserInputError.single(
                "renewalDay", UserErrorCode.INVALID, "The renewal day is fixed when the first plan is created."
            )
        effective_from = cycle_bounds(latest.renewal_day, now)[1]
        version = latest.version + 1
    plan = BudgetPlan(
        account_id=tenant.value,
        id=uuid.uuid4(),
        version=version,
        credits_per_cycle=terms.credits_per_cycle,
        renewal_day=terms.renewal_day,
        rollover_percent=terms.rollover_percent,
        rollover_cap=terms.rollover_cap,
        overflow_policy=terms.overflow_policy.value,
        overflow_cap_credits=terms.overflow_cap_credits,
        overflow_usd_per_credit=terms.overflow_usd_per_credit,
        effective_from=effective_from,
    )
    session.add(plan)
    await session.flush()
    if latest is None:
        await repo.ensure_cycle(session, tenant, now)  # the first cycle opens with its GRANT
    action = AuditAction.PLAN_CREATED if latest is None else AuditAction.PLAN_UPDATED
    await record(
        session,
        tenant,
        op,
        action,
        target_type="BudgetPlan",
        target_id=plan.id,
        before=plan_snapshot(latest) if latest else None,
        after=plan_snapshot(plan),
    )
    return plan
