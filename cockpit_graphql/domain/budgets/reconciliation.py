"""Ledger reconciliation: per cycle, the ledger against the usage events, the included part against the
pool, and the running totals (budget_counters) against the events and the held reservations.

Everything is read by ONE SQL statement for all the requested cycles (grouped by cycle and scope,
never a query per cycle), so the comparison sees one consistent snapshot even while usage is being
recorded (read committed gives each statement its own snapshot; several statements could see an
event without its counters). Nothing is locked. Amounts are exact decimals; no rounding anywhere.

Checks (stable codes; `scope_level`/`scope_id` are set only for running totals), as expected → actual:

Per cycle, against the usage events:
- LEDGER_USAGE_VS_EVENTS: −Σ events' included → Σ USAGE entries.
- LEDGER_OVERFLOW_VS_EVENTS: −Σ events' overflow → Σ OVERFLOW_USAGE entries.
- LEDGER_USAGE_ENTRY_COUNT: events with included ≠ 0 → USAGE entries.
- LEDGER_OVERFLOW_ENTRY_COUNT: events with overflow ≠ 0 → OVERFLOW_USAGE entries.
- EVENTS_WITHOUT_EXACT_ENTRIES: 0 → events whose own entries (same cycle) are not exactly one USAGE
  of −included (none when included is 0) and one OVERFLOW_USAGE of −overflow (likewise).
- LEDGER_USAGE_WITHOUT_EVENT: 0 → USAGE / OVERFLOW_USAGE entries that name no event of their cycle.
- EVENT_CREDITS_VS_SPLIT: Σ credits → Σ included + Σ overflow.
- EVENTS_WITH_WRONG_SPLIT: 0 → events whose credits ≠ included + overflow.
- INCLUDED_ABOVE_POOL: the pool (the most that may be included) → Σ included; only when above.
- CLOSED_BALANCE_VS_UNSETTLED_OVERFLOW (CLOSED cycles): −(Σ events' overflow − Σ SETTLEMENT − Σ
  WRITE_OFF) → the cycle's ledger balance.

Per (cycle, scope), running totals against the events and holds counted by placement snapshot:
- COUNTER_SPENT_VS_EVENTS: Σ credits of the events at or below the scope → counter.spent.
- COUNTER_RESERVED_VS_HOLDS: Σ credits of the HELD reservations at or below the scope → counter.reserved.
- COUNTER_INCLUDED_VS_EVENTS, COUNTER_OVERFLOW_VS_EVENTS (account scope only: the only scope whose
  included/overflow metering keeps): Σ included / Σ overflow → counter.included / counter.overflow.

A missing counter row counts as zeros. The pool is GRANT + ADJUSTMENT + incoming ROLLOVER (the
positive ROLLOVER entries), exactly as metering computes it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets.money import ZERO
from cockpit_graphql.domain.budgets.repository import POOL_ENTRIES
from cockpit_graphql.domain.budgets.scopes import LEVEL_ORDER, ScopeLevel


class Check:
    LEDGER_USAGE_VS_EVENTS = "LEDGER_USAGE_VS_EVENTS"
    LEDGER_OVERFLOW_VS_EVENTS = "LEDGER_OVERFLOW_VS_EVENTS"
    LEDGER_USAGE_ENTRY_COUNT = "LEDGER_USAGE_ENTRY_COUNT"
    LEDGER_OVERFLOW_ENTRY_COUNT = "LEDGER_OVERFLOW_ENTRY_COUNT"
    EVENTS_WITHOUT_EXACT_ENTRIES = "EVENTS_WITHOUT_EXACT_ENTRIES"
    LEDGER_USAGE_WITHOUT_EVENT = "LEDGER_USAGE_WITHOUT_EVENT"
    EVENT_CREDITS_VS_SPLIT = "EVENT_CREDITS_VS_SPLIT"
    EVENTS_WITH_WRONG_SPLIT = "EVENTS_WITH_WRONG_SPLIT"
    INCLUDED_ABOVE_POOL = "INCLUDED_ABOVE_POOL"
    CLOSED_BALANCE_VS_UNSETTLED_OVERFLOW = "CLOSED_BALANCE_VS_UNSETTLED_OVERFLOW"
    COUNTER_SPENT_VS_EVENTS = "COUNTER_SPENT_VS_EVENTS"
    COUNTER_RESERVED_VS_HOLDS = "COUNTER_RESERVED_VS_HOLDS"
    COUNTER_INCLUDED_VS_EVENTS = "COUNTER_INCLUDED_VS_EVENTS"
    COUNTER_OVERFLOW_VS_EVENTS = "COUNTER_OVERFLOW_VS_EVENTS"


@dataclass(frozen=True)
class Difference:
    check: str
    scope_level: str | None
    scope_id: uuid.UUID | None
    expected: Decimal
    actual: Decimal


@dataclass(frozen=True)
class CycleReconciliation:
    cycle_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    status: str
    pool: Decimal
    included: Decimal
    overflow: Decimal
    ledger_balance: Decimal
    differences: list[Difference]

    @property
    def clean(self) -> bool:
        return not self.differences


# One statement, one snapshot. `{cycle_filter}` is one of two constant fragments (never user text);
# `{pool_entries}` is the pool's definition (repository.POOL_ENTRIES, the one every pool read uses).
# A usage entry finds its event by the event's primary key alone (an entry whose event is missing or
# in another cycle is an orphan): with the cycle in the join too, a planner without statistics (the
# tables just filled, autovacuum not yet run) probed ix_usage_events_cycle and filtered every event of
# the cycle for every entry: quadratic, over two minutes at 125,000 events
# (tests/budgets/test_reconciliation_plan.py).
_SQL = """
WITH cyc AS (
    SELECT id, starts_at, ends_at, status
    FROM budget_cycles
    WHERE account_id = :account AND {cycle_filter}
),
led AS (
    SELECT l.cycle_id,
        sum(l.amount) AS balance,
        coalesce(sum(l.amount) FILTER (WHERE {pool_entries}), 0) AS pool,
        coalesce(sum(l.amount) FILTER (WHERE l.kind = 'USAGE'), 0) AS usage_sum,
        count(*) FILTER (WHERE l.kind = 'USAGE') AS usage_entries,
        coalesce(sum(l.amount) FILTER (WHERE l.kind = 'OVERFLOW_USAGE'), 0) AS overflow_sum,
        count(*) FILTER (WHERE l.kind = 'OVERFLOW_USAGE') AS overflow_entries,
        coalesce(sum(l.amount) FILTER (WHERE l.kind IN ('SETTLEMENT', 'WRITE_OFF')), 0) AS settled,
        count(*) FILTER (WHERE l.kind IN ('USAGE', 'OVERFLOW_USAGE') AND e.cycle_id IS DISTINCT FROM l.cycle_id)
            AS orphans
    FROM ledger_entries l
    LEFT JOIN usage_events e ON e.account_id = l.account_id AND e.id = l.usage_event_id
    WHERE l.account_id = :account AND l.cycle_id IN (SELECT id FROM cyc)
    GROUP BY l.cycle_id
),
per_event AS (
    SELECT cycle_id, usage_event_id,
        count(*) FILTER (WHERE kind = 'USAGE') AS n_usage,
        coalesce(sum(amount) FILTER (WHERE kind = 'USAGE'), 0) AS usage_sum,
        count(*) FILTER (WHERE kind = 'OVERFLOW_USAGE') AS n_overflow,
        coalesce(sum(amount) FILTER (WHERE kind = 'OVERFLOW_USAGE'), 0) AS overflow_sum
    FROM ledger_entries
    WHERE account_id = :account AND usage_event_id IS NOT NULL AND kind IN ('USAGE', 'OVERFLOW_USAGE')
        AND cycle_id IN (SELECT id FROM cyc)
    GROUP BY cycle_id, usage_event_id
),
ev AS (
    SELECT e.cycle_id,
        sum(e.credits) AS credits,
        sum(e.included_credits) AS included,
        sum(e.overflow_credits) AS overflow,
        count(*) FILTER (WHERE e.included_credits <> 0) AS with_included,
        count(*) FILTER (WHERE e.overflow_credits <> 0) AS with_overflow,
        count(*) FILTER (WHERE e.credits <> e.included_credits + e.overflow_credits) AS wrong_split,
        count(*) FILTER (WHERE
            coalesce(p.n_usage, 0) <> CASE WHEN e.included_credits <> 0 THEN 1 ELSE 0 END
            OR coalesce(p.usage_sum, 0) <> -e.included_credits
            OR coalesce(p.n_overflow, 0) <> CASE WHEN e.overflow_credits <> 0 THEN 1 ELSE 0 END
            OR coalesce(p.overflow_sum, 0) <> -e.overflow_credits) AS inexact_entries
    FROM usage_events e
    LEFT JOIN per_event p ON p.cycle_id = e.cycle_id AND p.usage_event_id = e.id
    WHERE e.account_id = :account AND e.cycle_id IN (SELECT id FROM cyc)
    GROUP BY e.cycle_id
),
totals AS (
    SELECT cycle_id, scope_level, scope_id,
        spent AS c_spent, reserved AS c_reserved, included AS c_included, overflow AS c_overflow,
        0::numeric AS e_spent, 0::numeric AS e_included, 0::numeric AS e_overflow, 0::numeric AS h_reserved
    FROM budget_counters
    WHERE account_id = :account AND cycle_id IN (SELECT id FROM cyc)
    UNION ALL
    SELECT e.cycle_id, s.scope_level, s.scope_id, 0, 0, 0, 0,
        sum(e.credits), sum(e.included_credits), sum(e.overflow_credits), 0
    FROM usage_events e
    CROSS JOIN LATERAL (VALUES ('ACCOUNT', e.account_id), ('ORGANIZATION', e.organization_id),
                               ('TEAM', e.team_id), ('USER', e.user_id)) AS s (scope_level, scope_id)
    WHERE e.account_id = :account AND e.cycle_id IN (SELECT id FROM cyc)
    GROUP BY e.cycle_id, s.scope_level, s.scope_id
    UNION ALL
    SELECT r.cycle_id, s.scope_level, s.scope_id, 0, 0, 0, 0, 0, 0, 0, sum(r.credits)
    FROM budget_reservations r
    CROSS JOIN LATERAL (VALUES ('ACCOUNT', r.account_id), ('ORGANIZATION', r.organization_id),
                               ('TEAM', r.team_id), ('USER', r.user_id)) AS s (scope_level, scope_id)
    WHERE r.account_id = :account AND r.status = 'HELD' AND r.cycle_id IN (SELECT id FROM cyc)
    GROUP BY r.cycle_id, s.scope_level, s.scope_id
),
scope_diffs AS (
    SELECT cycle_id, jsonb_agg(jsonb_build_array(
        scope_level, scope_id, c_spent, e_spent, c_reserved, h_reserved, c_included, e_included,
        c_overflow, e_overflow)) AS diffs
    FROM (
        SELECT cycle_id, scope_level, scope_id,
            sum(c_spent) AS c_spent, sum(e_spent) AS e_spent, sum(c_reserved) AS c_reserved,
            sum(h_reserved) AS h_reserved, sum(c_included) AS c_included, sum(e_included) AS e_included,
            sum(c_overflow) AS c_overflow, sum(e_overflow) AS e_overflow
        FROM totals
        GROUP BY cycle_id, scope_level, scope_id
    ) per_scope
    WHERE c_spent <> e_spent OR c_reserved <> h_reserved
        OR (scope_level = 'ACCOUNT' AND (c_included <> e_included OR c_overflow <> e_overflow))
    GROUP BY cycle_id
)
SELECT c.id, c.starts_at, c.ends_at, c.status,
    coalesce(led.pool, 0) AS pool,
    coalesce(led.balance, 0) AS balance,
    coalesce(led.usage_sum, 0) AS usage_sum,
    coalesce(led.usage_entries, 0) AS usage_entries,
    coalesce(led.overflow_sum, 0) AS overflow_sum,
    coalesce(led.overflow_entries, 0) AS overflow_entries,
    coalesce(led.settled, 0) AS settled,
    coalesce(led.orphans, 0) AS orphans,
    coalesce(ev.credits, 0) AS credits,
    coalesce(ev.included, 0) AS included,
    coalesce(ev.overflow, 0) AS overflow,
    coalesce(ev.with_included, 0) AS with_included,
    coalesce(ev.with_overflow, 0) AS with_overflow,
    coalesce(ev.wrong_split, 0) AS wrong_split,
    coalesce(ev.inexact_entries, 0) AS inexact_entries,
    sd.diffs::text AS scope_diffs
FROM cyc c
LEFT JOIN led ON led.cycle_id = c.id
LEFT JOIN ev ON ev.cycle_id = c.id
LEFT JOIN scope_diffs sd ON sd.cycle_id = c.id
ORDER BY c.starts_at, c.id
"""

_ALL_CYCLES = "TRUE"
_SOME_CYCLES = "id = ANY(:cycles)"


def _statement(cycle_ids: list[uuid.UUID] | None) -> sa.TextClause:
    cycles = _ALL_CYCLES if cycle_ids is None else _SOME_CYCLES
    text = sa.text(_SQL.format(cycle_filter=cycles, pool_entries=POOL_ENTRIES))
    params = [sa.bindparam("account", type_=pg.UUID(as_uuid=True))]
    if cycle_ids is not None:
        params.append(sa.bindparam("cycles", type_=pg.ARRAY(pg.UUID(as_uuid=True))))
    return text.bindparams(*params)


async def reconcile(
    session: AsyncSession, tenant: TenantId, cycle_ids: list[uuid.UUID] | None = None
) -> list[CycleReconciliation]:
    """Reconcile the given cycles of the tenant (all of them when None), oldest first. Ids of cycles
    that do not exist in this account are ignored."""
    if cycle_ids is not None and not cycle_ids:
        return []
    values: dict[str, Any] = {"account": tenant.value}
    if cycle_ids is not None:
        values["cycles"] = list(dict.fromkeys(cycle_ids))
    rows = (await session.execute(_statement(cycle_ids), values)).mappings().all()
    return [_reconciliation(row) for row in rows]


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _reconciliation(row: Any) -> CycleReconciliation:
    d = {k: _dec(row[k]) for k in row if k not in ("id", "starts_at", "ends_at", "status", "scope_diffs")}
    found: list[Difference] = []

    def compare(check: str, expected: Decimal, actual: Decimal) -> None:
        if expected != actual:
            found.append(Difference(check, None, None, expected, actual))

    compare(Check.LEDGER_USAGE_VS_EVENTS, ZERO - d["included"], d["usage_sum"])  # never "-0"
    compare(Check.LEDGER_OVERFLOW_VS_EVENTS, ZERO - d["overflow"], d["overflow_sum"])
    compare(Check.LEDGER_USAGE_ENTRY_COUNT, d["with_included"], d["usage_entries"])
    compare(Check.LEDGER_OVERFLOW_ENTRY_COUNT, d["with_overflow"], d["overflow_entries"])
    compare(Check.EVENTS_WITHOUT_EXACT_ENTRIES, ZERO, d["inexact_entries"])
    compare(Check.LEDGER_USAGE_WITHOUT_EVENT, ZERO, d["orphans"])
    compare(Check.EVENT_CREDITS_VS_SPLIT, d["credits"], d["included"] + d["overflow"])
    compare(Check.EVENTS_WITH_WRONG_SPLIT, ZERO, d["wrong_split"])
    if d["included"] > d["pool"]:
        found.append(Difference(Check.INCLUDED_ABOVE_POOL, None, None, d["pool"], d["included"]))
    if row["status"] == "CLOSED":
        compare(Check.CLOSED_BALANCE_VS_UNSETTLED_OVERFLOW, d["settled"] - d["overflow"], d["balance"])
    found.extend(_scope_differences(row["scope_diffs"]))
    return CycleReconciliation(
        cycle_id=row["id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        status=row["status"],
        pool=d["pool"],
        included=d["included"],
        overflow=d["overflow"],
        ledger_balance=d["balance"],
        differences=found,
    )


def _scope_differences(document: str | None) -> list[Difference]:
    """Counter differences of one cycle, from the JSON the statement built (numbers parsed as exact
    Decimals, never floats), ordered by level (account first), scope id, then check."""
    if not document:
        return []
    entries = json.loads(document, parse_float=Decimal, parse_int=Decimal)
    order = {level.value: rank for level, rank in LEVEL_ORDER.items()}
    entries.sort(key=lambda e: (order.get(e[0], len(order)), e[0], e[1]))
    out: list[Difference] = []
    for level, ident, c_spent, e_spent, c_reserved, h_reserved, c_included, e_included, c_over, e_over in entries:
        scope_id = uuid.UUID(ident)
        pairs = [
            (Check.COUNTER_SPENT_VS_EVENTS, e_spent, c_spent),
            (Check.COUNTER_RESERVED_VS_HOLDS, h_reserved, c_reserved),
        ]
        if level == ScopeLevel.ACCOUNT.value:
            pairs += [
                (Check.COUNTER_INCLUDED_VS_EVENTS, e_included, c_included),
                (Check.COUNTER_OVERFLOW_VS_EVENTS, e_over, c_over),
            ]
        out.extend(Difference(check, level, scope_id, exp, act) for check, exp, act in pairs if exp != act)
    return out
