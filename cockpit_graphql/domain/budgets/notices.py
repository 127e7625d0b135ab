"""Billing notices: crossing 80 % and 100 % of a cap, entering overflow, reaching the overflow cap.
Once per (scope, kind, cycle): the database's unique key makes a repeat a no-op."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import BillingNotice, BudgetCycle, BudgetPlan
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.allocation import cap_of_level
from cockpit_graphql.domain.budgets.repository import CounterDelta, Totals
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel, UserChains

WARN = repo.WATCH_FROM  # 80 %: the lowest threshold; the counters' bump answers the scopes that reached it


class NoticeKind(StrEnum):
    CAP_80_PERCENT = "CAP_80_PERCENT"
    CAP_100_PERCENT = "CAP_100_PERCENT"
    OVERFLOW_ENTERED = "OVERFLOW_ENTERED"
    OVERFLOW_CAP_REACHED = "OVERFLOW_CAP_REACHED"


@dataclass(frozen=True)
class Notice:
    cycle_id: uuid.UUID
    scope: Scope
    kind: NoticeKind
    details: dict[str, str]


def crossings(cap: Decimal, before: Decimal, after: Decimal) -> list[NoticeKind]:
    """Thresholds of `cap` that spend moving from `before` to `after` crosses."""
    out = []
    if cap > 0 and before < cap * WARN <= after:
        out.append(NoticeKind.CAP_80_PERCENT)
    if cap > 0 and before < cap <= after:
        out.append(NoticeKind.CAP_100_PERCENT)
    return out


async def notice_caps(
    session: AsyncSession, pool: Decimal, deltas: dict[Scope, CounterDelta], chains: UserChains
) -> dict[Scope, Decimal]:
    """The cap each scope of `deltas` that spends is held to for notices, where it has one above zero:
    the pool for the account, the one cap rule for a user (`cap_of_level`, along its chain in `chains`),
    the scope's own cap otherwise. Read before the counters are bumped, so that the bump answers only the
    scopes that may have crossed a threshold (`repository.bump_counters_watching`)."""
    # A user's cap may be a default of its chain now, which need not be the chain its usage was counted
    # along (a settle keeps its reservation's placement): read the settings of both.
    settings = await repo.scope_settings(session, set(deltas) | chains.above | chains.by_user.keys())
    caps: dict[Scope, Decimal] = {}
    for scope, delta in deltas.items():
        if not delta.spent:
            continue
        cap: Decimal | None
        if scope.level is ScopeLevel.ACCOUNT:
            cap = pool
        elif scope.level is ScopeLevel.USER:
            chain = chains.by_user[scope]
            cap = cap_of_level(chain, len(chain) - 1, settings, None)[0]
        else:
            cap = settings[scope].cap if scope in settings else None
        if cap is not None and cap > 0:
            caps[scope] = cap
    return caps


def detect_notices(
    cycle: BudgetCycle,
    plan: BudgetPlan,
    deltas: dict[Scope, CounterDelta],
    caps: dict[Scope, Decimal],
    after: dict[Scope, Totals],
) -> list[Notice]:
    """Compare running totals before and after `deltas`: `after` holds the totals once the counters
    were bumped, under the cycle lock, by `deltas` and by reservation releases (which move `reserved`
    only), so spent and overflow before = after − delta. `after` needs only the account and the scopes
    that may have crossed a threshold of their cap in `caps` (`notice_caps`); the others cross none."""
    out: list[Notice] = []
    for scope, totals in after.items():
        delta = deltas.get(scope)
        if delta is None or not delta.spent:
            continue
        now_spent = totals.spent
        before = now_spent - delta.spent
        if scope.level is ScopeLevel.ACCOUNT:
            over_after = totals.overflow
            over_before = over_after - delta.overflow
            if over_before == 0 < over_after:
                out.append(Notice(cycle.id, scope, NoticeKind.OVERFLOW_ENTERED, {"overflow": str(over_after)}))
            limit = plan.overflow_cap_credits
            if plan.overflow_policy == "ALLOW" and limit is not None and over_before < limit <= over_after:
                out.append(Notice(cycle.id, scope, NoticeKind.OVERFLOW_CAP_REACHED, {"overflow": str(over_after)}))
        cap = caps.get(scope)
        if cap is None:
            continue
        for kind in crossings(cap, before, now_spent):
            out.append(Notice(cycle.id, scope, kind, {"cap": str(cap), "spent": str(now_spent)}))
    return out


async def insert_notices(session: AsyncSession, tenant: TenantId, notices: list[Notice]) -> None:
    if not notices:
        return
    rows = [
        {
            "account_id": tenant.value,
            "id": uuid.uuid4(),
            "cycle_id": n.cycle_id,
            "scope_level": n.scope.level.value,
            "scope_id": n.scope.id,
            "kind": n.kind.value,
            "details": n.details,
        }
        for n in notices
    ]
    await session.execute(pg_insert(BillingNotice).values(rows).on_conflict_do_nothing())
