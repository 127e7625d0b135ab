"""Cost anomalies (domain.md §5), computed from the daily rollups and the budget's running totals.

Spikes: for each requested dimension, every value (organization, team, user, agent, model, connection,
guardrail) whose spend on `day` (a UTC day; credits from the rollups, placement at the time) exceeds
the mean of the 14 days before it by more than `sigmas` population standard deviations (days without
usage count as 0) AND is at least `min_credits`. So flat usage never spikes (its deviation is 0 and the
day is not above the mean), and a small value's noise never shows. One statement reads the 15 days of
every dimension (GROUPING SETS over `usage_daily`, plus `usage_daily_tags`); the statistics are exact
decimals in Python.

Pace: in the cycle containing `now`, every scope with usage and a cap (explicit, a default user cap,
or the account's pool/ceiling: the effective allocation, via `effective.allocations`) whose spent,
extrapolated linearly over the whole cycle (spent × cycle length / elapsed), exceeds its cap while
spent is still within it. `exceeds_at` is when that line crosses the cap. Not judged during the first
day of a cycle (too little to extrapolate).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import BudgetCounter, Team
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.cycles import cycle_bounds
from cockpit_graphql.domain.budgets.effective import allocations
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel, chain_of
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.observability.costs import ADDITIVE, TAGS, CostDimension

WINDOW = 14
DEFAULT_SIGMAS = Decimal(3)
DEFAULT_MIN_CREDITS = Decimal(100)
MIN_ELAPSED = timedelta(days=1)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Spike:
    dimension: CostDimension
    key: Any  # uuid for ORGANIZATION/TEAM/USER, str otherwise (None: no agent / model named)
    credits: Decimal
    mean: Decimal
    std_dev: Decimal

    @property
    def excess(self) -> Decimal:
        return self.credits - self.mean


@dataclass(frozen=True)
class PaceAlert:
    scope: Scope
    cap: Decimal
    spent: Decimal
    projected: Decimal
    exceeds_at: datetime
    cycle_ends_at: datetime


@dataclass(frozen=True)
class Anomalies:
    day: date
    spikes: list[Spike]
    pace: list[PaceAlert]


def _spike_sql(dims: list[CostDimension]) -> str:
    additive = [d for d in dims if d in ADDITIVE]
    parts = []
    if additive:
        sets = ", ".join(f"(day, {ADDITIVE[d][0]})" for d in additive)
        pick = " ".join(f"WHEN GROUPING({ADDITIVE[d][0]}) = 0 THEN '{d.value}'" for d in additive)
        value = " ".join(f"WHEN GROUPING({ADDITIVE[d][0]}) = 0 THEN {ADDITIVE[d][0]}::text" for d in additive)
        parts.append(
            f"SELECT CASE {pick} END AS dimension, CASE {value} END AS value, day, sum(credits) AS credits "
            "FROM usage_daily WHERE account_id = :account AND day BETWEEN :first AND :day "
            f"GROUP BY GROUPING SETS ({sets})"
        )
    kinds = [d.value for d in dims if d in TAGS]
    if kinds:
        parts.append(
            "SELECT kind, tag, day, sum(credits) FROM usage_daily_tags WHERE account_id = :account "
            "AND day BETWEEN :first AND :day AND kind = ANY(CAST(:kinds AS text[])) GROUP BY kind, tag, day"
        )
    return "\nUNION ALL\n".join(parts)


def _key(dim: CostDimension, value: str) -> Any:
    if dim in (CostDimension.ORGANIZATION, CostDimension.TEAM, CostDimension.USER):
        return uuid.UUID(value)
    if dim in (CostDimension.AGENT, CostDimension.MODEL):
        return value or None
    return value


async def spikes(
    session: AsyncSession,
    tenant: TenantId,
    day: date,
    dims: list[CostDimension],
    sigmas: Decimal = DEFAULT_SIGMAS,
    min_credits: Decimal = DEFAULT_MIN_CREDITS,
) -> list[Spike]:
    """Values whose spend on `day` is a spike against the 14 days before it, largest excess first."""
    dims = list(dict.fromkeys(dims))
    if not dims:
        return []
    first = day - timedelta(days=WINDOW)
    values = {"account": tenant.value, "first": first, "day": day, "kinds": [d.value for d in dims if d in TAGS]}
    rows = (await session.execute(sa.text(_spike_sql(dims)), values)).all()
    series: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(dict)
    for dimension, value, on, credits in rows:
        series[(dimension, value)][on] = Decimal(credits)
    found = []
    for (dimension, value), by_day in series.items():
        today = by_day.get(day, ZERO)
        if today <= 0 or today < min_credits:
            continue
        history = [by_day.get(first + timedelta(days=i), ZERO) for i in range(WINDOW)]
        mean = sum(history, ZERO) / WINDOW
        std = (sum(((v - mean) ** 2 for v in history), ZERO) / WINDOW).sqrt()
        if today > mean + sigmas * std:
            dim = CostDimension(dimension)
            found.append(Spike(dim, _key(dim, value), today, mean, std))
    found.sort(key=lambda s: (-s.excess, s.dimension.value, str(s.key)))
    return found


async def pace(session: AsyncSession, tenant: TenantId, now: datetime) -> list[PaceAlert]:
    """Scopes on pace to exceed their cap before the cycle containing `now` ends, soonest first."""
    renewal = await budget_repo.renewal_day(session)
    if renewal is None:
        return []
    start, end = cycle_bounds(renewal, now)
    elapsed = now - start
    if elapsed < MIN_ELAPSED:
        return []
    cycle = await budget_repo.cycle_at(session, start)
    if cycle is None:
        return []
    used = (
        await session.execute(
            sa.select(BudgetCounter.scope_level, BudgetCounter.scope_id).where(
                BudgetCounter.cycle_id == cycle.id, BudgetCounter.spent > 0
            )
        )
    ).all()
    scopes = [Scope(ScopeLevel(level), ident) for level, ident in used]
    users = [s.id for s in scopes if s.level is ScopeLevel.USER]
    teams = [s.id for s in scopes if s.level is ScopeLevel.TEAM]
    placed = await budget_repo.placements(session, tenant, users)
    team_orgs = dict((await session.execute(sa.select(Team.id, Team.organization_id).where(Team.id.in_(teams)))).all())
    chains: list[list[Scope]] = []
    for s in scopes:
        if s.level is ScopeLevel.ACCOUNT:
            chains.append(chain_of(tenant.value))
        elif s.level is ScopeLevel.ORGANIZATION:
            chains.append(chain_of(tenant.value, s.id))
        elif s.level is ScopeLevel.TEAM and s.id in team_orgs:
            chains.append(chain_of(tenant.value, team_orgs[s.id], s.id))
        elif s.level is ScopeLevel.USER and s.id in placed:
            chains.append(placed[s.id].chain())
    found = []
    for allocation in await allocations(session, tenant, chains, now):
        level = allocation.cap
        if level.cap is None or level.spent <= 0 or level.spent > level.cap:
            continue
        projected = level.spent * Decimal((end - start).total_seconds()) / Decimal(elapsed.total_seconds())
        if projected > level.cap:
            crossing = start + elapsed * float(level.cap / level.spent)
            found.append(PaceAlert(level.scope, level.cap, level.spent, projected, crossing, end))
    found.sort(key=lambda a: (a.exceeds_at, a.scope.level.value, str(a.scope.id)))
    return found


async def anomalies(
    session: AsyncSession,
    tenant: TenantId,
    now: datetime,
    day: date | None = None,
    dims: list[CostDimension] | None = None,
    sigmas: Decimal = DEFAULT_SIGMAS,
    min_credits: Decimal = DEFAULT_MIN_CREDITS,
) -> Anomalies:
    """Spikes of `day` (default: yesterday, the last whole UTC day) and pace alerts of the current cycle."""
    if not (sigmas.is_finite() and min_credits.is_finite()) or sigmas < 0 or min_credits < 0:  # NaN: no order
        raise BadUserInput("`sigmas` and `minCredits` must be finite and ≥ 0.")
    on = day or (now.astimezone(UTC).date() - timedelta(days=1))
    if on - date.min < timedelta(days=WINDOW):  # its trailing window would start before year 1 (fuzzing found it)
        raise BadUserInput(f"`day` must be at least {WINDOW} days after 0001-01-01.")
    chosen = list(CostDimension) if dims is None else dims
    return Anomalies(
        on, await spikes(session, tenant, on, chosen, sigmas, min_credits), await pace(session, tenant, now)
    )
