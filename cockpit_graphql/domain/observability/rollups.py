"""Daily usage rollups (tables usage_daily and usage_daily_tags), kept in step with the usage events.

- Incremental: `add_events` runs in `metering.record_usage`, in the same transaction and under the
  account's budget mutex, right after the batch's new events are inserted: ONE upsert statement per
  table adds those events (replays are not new events, so they add nothing), grouped by the rollup
  key. An event's day is the UTC day of its `occurred_at` (a late event lands in its own day, not
  the day it was recorded); its placement is the snapshot stored on it.
- Rebuild: `rebuild_rollups` recomputes whole days from the raw events, idempotently: under the same
  mutex (no usage write of the account interleaves), it zeroes every rollup row of the range, then
  upserts the recomputed sums, in one transaction. The app role has no DELETE on these tables, so a
  group that no longer exists keeps a row of zeros; readers ignore groups with no events.

The CONNECTION and GUARDRAIL rows attribute an event's whole cost to each distinct connection or
guardrail it names: they are not additive.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets import repository as budget_repo

DAY_SQL = "(e.occurred_at AT TIME ZONE 'UTC')::date"

# `{where}` is one of two constant fragments below (never user text).
_DAILY = f"""
INSERT INTO usage_daily AS d
    (account_id, day, organization_id, team_id, user_id, agent_key, model_key, events, credits, cost_usd)
SELECT e.account_id, {DAY_SQL}, e.organization_id, e.team_id, e.user_id,
    coalesce(e.agent_id, ''), coalesce(e.model_id, ''), count(*), sum(e.credits), sum(e.cost_usd)
FROM usage_events e
WHERE e.account_id = :account AND {{where}}
GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (account_id, day, organization_id, team_id, user_id, agent_key, model_key) DO UPDATE
SET events = d.events + EXCLUDED.events,
    credits = d.credits + EXCLUDED.credits,
    cost_usd = d.cost_usd + EXCLUDED.cost_usd
"""

_TAGS = f"""
INSERT INTO usage_daily_tags AS d (account_id, day, kind, tag, events, credits, cost_usd)
SELECT e.account_id, {DAY_SQL}, t.kind, t.tag, count(*), sum(e.credits), sum(e.cost_usd)
FROM usage_events e
CROSS JOIN LATERAL (
    SELECT 'CONNECTION' AS kind, c AS tag FROM unnest(e.connection_ids) AS c
    UNION
    SELECT 'GUARDRAIL', g FROM unnest(e.guardrails) AS g
) t
WHERE e.account_id = :account AND {{where}}
GROUP BY 1, 2, 3, 4
ON CONFLICT (account_id, day, kind, tag) DO UPDATE
SET events = d.events + EXCLUDED.events,
    credits = d.credits + EXCLUDED.credits,
    cost_usd = d.cost_usd + EXCLUDED.cost_usd
"""

_BY_IDS = "e.id = ANY(:ids)"
_BY_TIME = "e.occurred_at >= :since AND e.occurred_at < :until"

_UUIDS = pg.ARRAY(pg.UUID(as_uuid=True))
_ACCOUNT = sa.bindparam("account", type_=pg.UUID(as_uuid=True))


def _by_ids(sql: str) -> sa.TextClause:
    return sa.text(sql.format(where=_BY_IDS)).bindparams(_ACCOUNT, sa.bindparam("ids", type_=_UUIDS))


def _by_time(sql: str) -> sa.TextClause:
    return sa.text(sql.format(where=_BY_TIME)).bindparams(
        _ACCOUNT,
        sa.bindparam("since", type_=sa.DateTime(timezone=True)),
        sa.bindparam("until", type_=sa.DateTime(timezone=True)),
    )


ADD_DAILY = _by_ids(_DAILY)
ADD_TAGS = _by_ids(_TAGS)
REBUILD_DAILY = _by_time(_DAILY)
REBUILD_TAGS = _by_time(_TAGS)
_ZERO = "UPDATE {table} SET events = 0, credits = 0, cost_usd = 0 WHERE account_id = :account AND day BETWEEN :a AND :b"
ZERO_DAILY = sa.text(_ZERO.format(table="usage_daily"))
ZERO_TAGS = sa.text(_ZERO.format(table="usage_daily_tags"))


def day_start(day: date) -> datetime:
    """UTC midnight starting `day`."""
    return datetime.combine(day, time(), tzinfo=UTC)


async def add_events(session: AsyncSession, tenant: TenantId, event_ids: list[uuid.UUID]) -> None:
    """Add freshly inserted usage events to the rollups (two statements). The caller holds the
    account's budget mutex and passes only events it has just written (never replays)."""
    if not event_ids:
        return
    values = {"account": tenant.value, "ids": event_ids}
    await session.execute(ADD_DAILY, values)
    await session.execute(ADD_TAGS, values)


@dataclass(frozen=True)
class RebuildResult:
    from_day: date
    to_day: date
    daily_rows: int
    tag_rows: int


async def rebuild_rollups(session: AsyncSession, tenant: TenantId, from_day: date, to_day: date) -> RebuildResult:
    """Recompute the rollups of the UTC days `from_day`..`to_day` (inclusive) from the raw usage events.
    Idempotent and safe to run while usage is recorded (it takes the account's budget mutex, like
    every usage write). Run it in one transaction: a failure leaves the rollups as they were."""
    if from_day > to_day:
        raise ValueError("from_day must not be after to_day")
    await budget_repo.lock_account_budget(session, tenant)
    bounds = {"account": tenant.value, "a": from_day, "b": to_day}
    await session.execute(ZERO_DAILY, bounds)
    await session.execute(ZERO_TAGS, bounds)
    window = {"account": tenant.value, "since": day_start(from_day), "until": day_start(to_day + timedelta(days=1))}
    daily = await session.execute(REBUILD_DAILY, window)
    tags = await session.execute(REBUILD_TAGS, window)
    return RebuildResult(from_day, to_day, daily.rowcount or 0, tags.rowcount or 0)  # type: ignore[attr-defined]
