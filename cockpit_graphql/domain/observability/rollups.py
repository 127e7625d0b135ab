"""Daily usage rollups, kept in step with the usage events, at three grains of the additive groupings
plus the connection/guardrail tags:

- `usage_daily` (the full grain): day × placement snapshot (organization, team, user) × agent × model;
- `usage_daily_teams`: day × organization × team — exactly `usage_daily` summed over user, agent, model;
- `usage_daily_models`: day × agent × model — exactly `usage_daily` summed over the placement;
- `usage_daily_tags`: day × CONNECTION or GUARDRAIL × tag (an event counts whole under every tag it
  names: not additive).

The coarse grains exist for reads (costs.py picks the smallest grain that holds every dimension a
breakdown groups or filters by): a month of a large tenant is ~1.3 M full-grain rows but a few
thousand team or agent×model rows. They add nothing the full grain does not know.

- Incremental: `add_ctes` is part of the one statement that writes a usage call's new events
  (budgets/usage_write.py), in the same transaction and under the account's budget mutex: data-modifying
  CTEs take the rows the events' INSERT returns and upsert their sums into all four tables (replays are
  not new events, so they add nothing). A call that wrote its events ahead of the mutex runs the same
  CTEs as a statement of their own under it, over the same rows (`usage_write.add_rollups`). An event's
  day is the UTC day of its `occurred_at` (a late event lands in its own day, not the day it was
  recorded); its placement is the snapshot stored on it.
- Rebuild: `rebuild_rollups` recomputes whole days idempotently: under the same mutex (no usage write of
  the account interleaves), it zeroes every rollup row of the range, then runs the write path's
  rollup CTEs (`add_ctes`) over the stored events of the range instead of a call's new ones, in one
  transaction. The app role has
  no DELETE on these tables, so a group that no longer exists keeps a row of zeros; readers ignore
  groups with no events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets import repository as budget_repo

DAY_SQL = "(e.occurred_at AT TIME ZONE 'UTC')::date"

_BY_TIME = "e.occurred_at >= :since AND e.occurred_at < :until"


@dataclass(frozen=True)
class Grain:
    """One rollup table: its name and key columns (after account_id and day)."""

    table: str
    keys: tuple[str, ...]


FULL = Grain("usage_daily", ("organization_id", "team_id", "user_id", "agent_key", "model_key"))
TEAMS = Grain("usage_daily_teams", ("organization_id", "team_id"))
MODELS = Grain("usage_daily_models", ("agent_key", "model_key"))
GRAINS = (TEAMS, MODELS, FULL)  # the additive ones, smallest first: readers take the first that fits
TAGS = Grain("usage_daily_tags", ("kind", "tag"))


def upsert_sql(grain: Grain, source: str) -> str:
    """INSERT the sums of `source` (columns account_id, day, the grain's keys, events, credits, cost_usd)
    grouped by the grain's key, adding to the row already there."""
    cols = ", ".join(("account_id", "day", *grain.keys))
    return (
        f"INSERT INTO {grain.table} AS d ({cols}, events, credits, cost_usd) "
        f"SELECT {cols}, sum(events), sum(credits), sum(cost_usd) FROM {source} GROUP BY {cols} "
        f"ON CONFLICT ({cols}) DO UPDATE SET events = d.events + EXCLUDED.events, "
        "credits = d.credits + EXCLUDED.credits, cost_usd = d.cost_usd + EXCLUDED.cost_usd"
    )


def input_sql(source: str) -> str:
    """Usage events of `source` (a FROM item aliased `e` with the usage_events columns, and its WHERE if
    any: constant SQL, never user text) as rollup input rows: account_id, day, the full grain's keys ('' for
    a missing agent or model), events (1), credits, cost_usd, connection_ids, guardrails."""
    return f"""SELECT e.account_id, {DAY_SQL} AS day, e.organization_id, e.team_id, e.user_id,
        coalesce(e.agent_id, '') AS agent_key, coalesce(e.model_id, '') AS model_key,
        1 AS events, e.credits, e.cost_usd, e.connection_ids, e.guardrails
    FROM {source}"""


def events_sql(where: str) -> str:
    """The stored usage events of the account matching `where` (a constant fragment) as rollup input rows."""
    return input_sql(f"usage_events e\n    WHERE e.account_id = :account AND {where}")


def tags_sql(rows: str) -> str:
    """The tag rows of rollup input `rows` (a table or CTE name): one per distinct connection or guardrail
    an event names. Events that name none are left out before the lateral subquery, which PostgreSQL
    otherwise set up and ran once per event for nothing (~1 ms of a 1,000-event batch)."""
    return f"""SELECT f.account_id, f.day, t.kind, t.tag, f.events, f.credits, f.cost_usd
    FROM {rows} f
    CROSS JOIN LATERAL (
        SELECT 'CONNECTION' AS kind, c AS tag FROM unnest(f.connection_ids) AS c
        UNION
        SELECT 'GUARDRAIL', g FROM unnest(f.guardrails) AS g
    ) t
    WHERE cardinality(f.connection_ids) > 0 OR cardinality(f.guardrails) > 0"""


def add_ctes(rows: str) -> tuple[list[str], str]:
    """The common table expressions that upsert the rollup input rows `rows` (an `input_sql` SELECT) into
    every rollup table, reading them once, and the select list that counts the rows upserted per table
    (`usage_daily`, … as column names)."""
    fresh = f"fresh AS MATERIALIZED ({rows}),\nfresh_tags AS ({tags_sql('fresh')})"
    sources = [(g, "fresh") for g in GRAINS] + [(TAGS, "fresh_tags")]
    adds = [f"add_{g.table} AS ({upsert_sql(g, src)} RETURNING 1)" for g, src in sources]
    counts = ", ".join(f"(SELECT count(*) FROM add_{g.table}) AS {g.table}" for g, _ in sources)
    return [fresh, *adds], counts


def _add_sql(where: str) -> str:
    """ONE statement: the events matching `where` are read once, then every rollup table is upserted
    from them; it answers the rows upserted per table."""
    ctes, counts = add_ctes(events_sql(where))
    return "WITH " + ",\n".join(ctes) + f"\nSELECT {counts}"


_ACCOUNT = sa.bindparam("account", type_=pg.UUID(as_uuid=True))

REBUILD = sa.text(_add_sql(_BY_TIME)).bindparams(
    _ACCOUNT,
    sa.bindparam("since", type_=sa.DateTime(timezone=True)),
    sa.bindparam("until", type_=sa.DateTime(timezone=True)),
)
_ZERO = "UPDATE {table} SET events = 0, credits = 0, cost_usd = 0 WHERE account_id = :account AND day BETWEEN :a AND :b"
ZERO = [sa.text(_ZERO.format(table=g.table)) for g in (*GRAINS, TAGS)]


def day_start(day: date) -> datetime:
    """UTC midnight starting `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True)
class RebuildResult:
    from_day: date
    to_day: date
    daily_rows: int
    tag_rows: int
    coarse_rows: int


async def rebuild_rollups(session: AsyncSession, tenant: TenantId, from_day: date, to_day: date) -> RebuildResult:
    """Recompute the rollups of the UTC days `from_day`..`to_day` (inclusive) from the raw usage events.
    Idempotent and safe to run while usage is recorded (it takes the account's budget mutex, like
    every usage write). Run it in one transaction: a failure leaves the rollups as they were."""
    if from_day > to_day:
        raise ValueError("from_day must not be after to_day")
    await budget_repo.lock_account_budget(session, tenant)
    bounds = {"account": tenant.value, "a": from_day, "b": to_day}
    for zero in ZERO:
        await session.execute(zero, bounds)
    window = {"account": tenant.value, "since": day_start(from_day), "until": day_start(to_day + timedelta(days=1))}
    rows = (await session.execute(REBUILD, window)).one()._mapping
    coarse = sum(rows[g.table] for g in GRAINS if g is not FULL)
    return RebuildResult(from_day, to_day, rows[FULL.table], rows[TAGS.table], coarse)
