"""Cost breakdown on a 10 M-event tenant (issue #6): set-based seeding, then the costBreakdown cases.

Seeding, as the owner (a superuser: row-level security does not apply), after the tenant of
bench/seed.py exists:
- a budget plan when the account has none (`--only costs`: no budget setup ran) and one calendar-month
  budget cycle per month of the range that no existing cycle overlaps; every event references the cycle
  that covers its day (else the latest one starting before it). The budget counters and the ledger are
  NOT written for these events: the cost breakdown reads only usage_events and the daily rollups.
- `--cost-events` usage events (10,000,000) over the last `--cost-days` days (90) up to now, in
  `COST_CHUNKS` INSERT … SELECT … FROM generate_series statements (one per connection, run side by side),
  with the primary key, the other unique constraint, the foreign keys and the indexes of usage_events
  dropped around the load and recreated after it (same definitions, from pg_get_constraintdef /
  pg_get_indexdef). Event g (0-based) happens at from + (g + 0.5) × span / N (in time order, as they
  would arrive), by the user number (g × 2654435761) mod users (every user of the account, admin
  included) with the placement of that user's home team; agent "agent-NN" of 20: the user's own agent
  (n mod 20) or, one event in 3, the next one, and none one event in 20; model "model-N" of 8: the
  user's own (3n mod 8) or, one event in 5, the next one; cost_usd 0.00001–0.02 (credits × 1000 of the
  account, all included); connection tags on 12% of the events (one of 4, or two), guardrail tags on 24%
  (one of 2, or both).
- the rollups of the seeded events of the days before today, with ONE statement per table from the write
  path's own SQL (cockpit_graphql.domain.observability.rollups `events_sql` / `tags_sql` / `upsert_sql`,
  same key columns and coalesce of a missing agent or model to ''), over the seeded events instead of a
  batch: usage_daily as its INSERT … SELECT … GROUP BY without ON CONFLICT, its primary key dropped around
  it; the coarse grains summed from usage_daily; usage_daily_tags as the upsert.
  Today's events stay raw, as the write path leaves them to the raw part of the breakdown.
- ANALYZE of the tables written.

Expected answers, computed once from the raw usage_events (not from the rollups the API reads): the
range's totals and the groups per team and per model. Every response must carry exactly those totals
(Decimal compare), the top rows in order with their exact amounts, and `other` = the rest.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from bench.load import BenchFailure, Case
from bench.seed import BENCH_ORG
from cockpit_graphql.domain.observability import rollups
from cockpit_graphql.ops.database import owner_connection

COST_EVENTS = 10_000_000
COST_DAYS = 90
COST_CHUNKS = 2  # INSERT statements run side by side, one per connection (the machine has 2 cores)
AGENTS = 20
MODELS = 8
RANGE_DAYS = 30  # the cases: the 30 days before today (from = today - 30, to = yesterday)
TOP = 20
SEED_MARK = "bench-cost-"  # idempotency keys of the seeded events

COST_BREAKDOWN = """
query BenchCostBreakdown($input: CostBreakdownInput!) {
  costBreakdown(input: $input) {
    from to additive rawFrom
    rows { keys { dimension value } events credits costUsd }
    other { events credits costUsd }
    totals { events credits costUsd }
  }
}
"""

INSERT_PLAN = """
INSERT INTO budget_plans (account_id, id, version, credits_per_cycle, renewal_day, overflow_policy, effective_from)
SELECT $1, gen_random_uuid(), 1, 1000000000, 1, 'ALLOW', $2
WHERE NOT EXISTS (SELECT 1 FROM budget_plans WHERE account_id = $1)
"""

# Calendar months of the range that no existing cycle overlaps, with the latest plan.
INSERT_CYCLES = """
INSERT INTO budget_cycles (account_id, id, starts_at, ends_at, plan_id, status, closed_at)
SELECT $1, gen_random_uuid(), m, m + interval '1 month',
       (SELECT id FROM budget_plans WHERE account_id = $1 ORDER BY version DESC LIMIT 1),
       CASE WHEN m + interval '1 month' <= now() THEN 'CLOSED' ELSE 'OPEN' END,
       CASE WHEN m + interval '1 month' <= now() THEN m + interval '1 month' END
FROM generate_series(date_trunc('month', $2::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                     $3::timestamptz, interval '1 month') AS m
WHERE NOT EXISTS (
    SELECT 1 FROM budget_cycles c
    WHERE c.account_id = $1 AND c.starts_at < m + interval '1 month' AND c.ends_at > m
)
"""

CREATE_USERS = """
CREATE TEMP TABLE cost_users AS
SELECT (row_number() OVER (ORDER BY u.email) - 1)::bigint AS n, u.id AS user_id, u.home_team_id AS team_id,
       t.organization_id
FROM users u JOIN teams t ON t.account_id = u.account_id AND t.id = u.home_team_id
WHERE u.account_id = $1
"""

# Day d (0-based from the first day of the range) → the cycle covering it, else the latest starting before
# it, else the earliest.
CREATE_DAYS = """
CREATE TEMP TABLE cost_days AS
SELECT d::int AS d, coalesce(
    (SELECT c.id FROM budget_cycles c WHERE c.account_id = $1 AND c.starts_at <= day_start
     ORDER BY c.starts_at DESC LIMIT 1),
    (SELECT c.id FROM budget_cycles c WHERE c.account_id = $1 ORDER BY c.starts_at LIMIT 1)) AS cycle_id
FROM generate_series(0, $3::int) AS d,
     LATERAL (SELECT ($2::date + d) AT TIME ZONE 'UTC' AS day_start) s
"""

# $1 account, $2 range start (timestamptz), $3 span in seconds, $4 total events, $5..$6 this chunk's
# [first, last] event numbers, $7 users, $8 first day of the range (date).
INSERT_EVENTS = f"""
INSERT INTO usage_events (account_id, id, idempotency_key, cycle_id, occurred_at, recorded_at, late, user_id,
    organization_id, team_id, agent_id, model_id, connection_ids, guardrails, tokens_in, tokens_out, cost_usd,
    credits_per_usd, credits, included_credits, overflow_credits)
SELECT $1, gen_random_uuid(), '{SEED_MARK}' || e.g, d.cycle_id, e.at, e.at, false, u.user_id,
    u.organization_id, u.team_id,
    CASE WHEN e.g % 20 = 7 THEN NULL
         ELSE 'agent-' || lpad(((u.n + (e.g % 3 = 0)::int) % {AGENTS})::text, 2, '0') END,
    'model-' || ((u.n * 3 + (e.g % 5 = 0)::int) % {MODELS}),
    CASE WHEN e.g % 10 = 0 THEN ARRAY['conn-' || (e.g / 10 % 4)]
         WHEN e.g % 50 = 1 THEN ARRAY['conn-0', 'conn-1'] ELSE '{{}}'::text[] END,
    CASE WHEN e.g % 5 = 0 THEN ARRAY['pii-redaction']
         WHEN e.g % 25 = 3 THEN ARRAY['pii-redaction', 'prompt-injection'] ELSE '{{}}'::text[] END,
    100 + e.g % 4000, 10 + e.g * 31 % 1000, e.usd, 1000, e.usd * 1000, e.usd * 1000, 0
FROM (
    SELECT g, $2::timestamptz + make_interval(secs => (g + 0.5) * $3::float8 / $4::bigint) AS at,
           (g * 2654435761) % $7::bigint AS un, ((g * 7919) % 2000 + 1)::numeric / 100000 AS usd
    FROM generate_series($5::bigint, $6::bigint) AS g
) e
JOIN cost_users u ON u.n = e.un
JOIN cost_days d ON d.d = ((e.at AT TIME ZONE 'UTC')::date - $8::date)
"""

# The write path's rollup SQL (rollups.py: the same input rows, keys and coalesce of a missing agent or
# model to ''), over the seeded events of the days before today instead of a batch:
# - usage_daily: its INSERT … SELECT … GROUP BY without the ON CONFLICT clause, into the table with its
#   primary key dropped and rebuilt after (the seeded keys — agent-NN, model-N, past days — are new: the
#   rebuilt primary key proves it); an upsert of millions of groups costs a speculative insertion each;
# - the coarse grains (usage_daily_teams, usage_daily_models): the upsert, summed from usage_daily (what
#   they are by definition; a few thousand groups);
# - usage_daily_tags (a few hundred groups): the upsert.
_SEEDED_BEFORE = f"e.occurred_at < $2 AND e.idempotency_key LIKE '{SEED_MARK}%'"
_SEEDED = f"({rollups.events_sql(_SEEDED_BEFORE)}) s".replace(":account", "$1")
ROLLUP_DAILY = rollups.upsert_sql(rollups.FULL, _SEEDED).split(" ON CONFLICT")[0]
_SEEDED_DAYS = "(SELECT * FROM usage_daily WHERE account_id = $1 AND day < $2::date) f"
ROLLUP_COARSE = {g.table: rollups.upsert_sql(g, _SEEDED_DAYS) for g in rollups.GRAINS if g is not rollups.FULL}
# (an event naming no connection and no guardrail has no tag row: skip it before the LATERAL unnest)
_TAGGED = " AND (e.connection_ids <> '{}' OR e.guardrails <> '{}')"
_SEEDED_TAGGED = f"({rollups.events_sql(_SEEDED_BEFORE + _TAGGED)})".replace(":account", "$1")
ROLLUP_TAGS = rollups.upsert_sql(rollups.TAGS, f"({rollups.tags_sql(_SEEDED_TAGGED)}) t")

DROPPABLE = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f') ORDER BY contype DESC, conname
"""
PLAIN_INDEXES = """
SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = $1::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY i.relname
"""
REFERENCED_BY = "SELECT count(*) FROM pg_constraint WHERE confrelid = $1::regclass"

EXPECTED = """
SELECT GROUPING(team_id) AS no_team, GROUPING(model_id) AS no_model, team_id, model_id,
       count(*) AS events, sum(credits) AS credits, sum(cost_usd) AS cost_usd
FROM usage_events
WHERE account_id = $1 AND occurred_at >= $2 AND occurred_at < $3
GROUP BY GROUPING SETS ((team_id), (model_id), ())
"""

ANALYZED = (
    "usage_events",
    "usage_daily",
    "usage_daily_teams",
    "usage_daily_models",
    "usage_daily_tags",
    "budget_cycles",
    "budget_plans",
)


@dataclass(frozen=True)
class Amount:
    events: int
    credits: Decimal
    cost_usd: Decimal

    @classmethod
    def of(cls, node: dict[str, Any]) -> Amount:
        return cls(int(node["events"]), Decimal(node["credits"]), Decimal(node["costUsd"]))


@dataclass(frozen=True)
class Expected:
    totals: Amount
    rows: list[tuple[str, Amount]]  # every group, in the API's order (credits, USD, events desc, then key)


@dataclass(frozen=True)
class CostWorld:
    account_id: uuid.UUID
    from_day: date
    to_day: date
    events: int
    daily_rows: int
    tag_rows: int
    by_team: Expected
    by_model: Expected
    summary: str


def _ranked(groups: list[tuple[Any, Amount]]) -> list[tuple[str, Amount]]:
    ordered = sorted(groups, key=lambda kv: (-kv[1].credits, -kv[1].cost_usd, -kv[1].events, kv[0]))
    return [(str(key), amount) for key, amount in ordered]


Keys = tuple[list[asyncpg.Record], list[asyncpg.Record]]


async def _drop_keys(conn: asyncpg.Connection, table: str) -> Keys:
    """Drop the primary key, unique and foreign key constraints and the other indexes of `table`; return
    their definitions for _restore_keys."""
    if await conn.fetchval(REFERENCED_BY, table):
        raise RuntimeError(f"a foreign key references {table}: the load cannot drop its keys")
    constraints = await conn.fetch(DROPPABLE, table)
    indexes = await conn.fetch(PLAIN_INDEXES, table)
    for name, _ in indexes:
        await conn.execute(f'DROP INDEX "{name}"')
    for name, _ in constraints:
        await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return constraints, indexes


async def _restore_keys(conn: asyncpg.Connection, table: str, keys: Keys) -> None:
    constraints, indexes = keys
    for name, definition in reversed(constraints):  # primary key and unique first, foreign keys last
        await conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        await conn.execute(definition)


async def _timed(label: str, timings: list[str], coro: Any) -> Any:
    started = time.perf_counter()
    value = await coro
    timings.append(f"{label} {time.perf_counter() - started:.1f} s")
    print(f"  {timings[-1]}", flush=True)
    return value


async def _temp_tables(conn: asyncpg.Connection, account_id: uuid.UUID, first_day: date, last_day: date) -> int:
    """This session's cost_users and cost_days; returns the number of users."""
    await conn.execute(CREATE_USERS, account_id)
    await conn.execute(CREATE_DAYS, account_id, first_day, (last_day - first_day).days)
    await conn.execute("ANALYZE cost_users, cost_days")
    return int(await conn.fetchval("SELECT count(*) FROM cost_users"))


async def _load_events(owner_url: str, load: tuple[Any, ...], total: int) -> None:
    """COST_CHUNKS INSERT … SELECT statements side by side, each on its own connection (its own transaction)."""
    account_id, start, span_s, users, first_day, last_day = load
    bounds = [total * i // COST_CHUNKS for i in range(COST_CHUNKS + 1)]

    async def chunk(first: int, end: int) -> None:
        other = await owner_connection(owner_url)
        try:
            await _temp_tables(other, account_id, first_day, last_day)
            await other.execute(INSERT_EVENTS, account_id, start, span_s, total, first, end - 1, users, first_day)
        finally:
            await other.close()

    await asyncio.gather(*(chunk(bounds[i], bounds[i + 1]) for i in range(COST_CHUNKS)))


async def seed_costs(owner_url: str, events: int, days: int) -> tuple[CostWorld, str]:
    """Seed the cost tenant (see the module docstring); return the world and the seeding line."""
    conn = await owner_connection(owner_url)
    timings: list[str] = []
    started = time.perf_counter()
    try:
        await conn.execute("SET maintenance_work_mem = '1GB'; SET work_mem = '1GB'")
        account_id = await conn.fetchval("SELECT id FROM accounts WHERE external_org_id = $1", BENCH_ORG)
        now = datetime.now(UTC)
        today = now.date()
        start = now - timedelta(days=days)
        first_day = start.date()
        span_s = (now - start).total_seconds()
        await conn.execute(INSERT_PLAN, account_id, start - timedelta(days=31))
        await conn.execute(INSERT_CYCLES, account_id, start, now)
        users = await _temp_tables(conn, account_id, first_day, today)
        keys = await _drop_keys(conn, "usage_events")
        load = (account_id, start, span_s, users, first_day, today)
        label = f"{events:,} usage events ({COST_CHUNKS} INSERT … SELECT side by side, keys dropped)"
        await _timed(label, timings, _load_events(owner_url, load, events))
        await _timed("usage_events keys and indexes rebuilt", timings, _restore_keys(conn, "usage_events", keys))
        today_start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
        keys = await _drop_keys(conn, "usage_daily")
        daily = await _timed("usage_daily", timings, conn.execute(ROLLUP_DAILY, account_id, today_start))
        await _timed("usage_daily primary key rebuilt", timings, _restore_keys(conn, "usage_daily", keys))
        for table, statement in ROLLUP_COARSE.items():
            await _timed(table, timings, conn.execute(statement, account_id, today))
        tags = await _timed("usage_daily_tags", timings, conn.execute(ROLLUP_TAGS, account_id, today_start))
        await _timed("ANALYZE", timings, conn.execute(f"ANALYZE {', '.join(ANALYZED)}"))
        seconds = time.perf_counter() - started
        seeded = int(
            await conn.fetchval(
                f"SELECT count(*) FROM usage_events WHERE account_id = $1 AND idempotency_key LIKE '{SEED_MARK}%'",
                account_id,
            )
        )
        if seeded != events:
            raise RuntimeError(f"seeded {seeded:,} usage events, expected {events:,}")
        daily_rows, tag_rows = int(daily.split()[-1]), int(tags.split()[-1])
        from_day, to_day = today - timedelta(days=RANGE_DAYS), today - timedelta(days=1)
        expect_started = time.perf_counter()
        by_team, by_model = await _expected(conn, account_id, from_day, to_day)
        expect_s = time.perf_counter() - expect_started
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('usage_events'))")
    finally:
        await conn.close()
    seeding = (
        f"cost seeding: {seeded:,} usage events over {days} days for {users:,} users, {daily_rows:,} usage_daily and "
        f"{tag_rows:,} usage_daily_tags rows in {seconds:.1f} s ({'; '.join(timings)}); usage_events is {size}"
    )
    summary = (
        f"cost breakdown range {from_day} … {to_day} ({RANGE_DAYS} days, all from the rollups): "
        f"{by_team.totals.events:,} events, {by_team.totals.credits} credits, {by_team.totals.cost_usd} USD; "
        f"{len(by_team.rows)} teams, {len(by_model.rows)} models (expected answers from the raw events in "
        f"{expect_s:.1f} s)"
    )
    world = CostWorld(account_id, from_day, to_day, seeded, daily_rows, tag_rows, by_team, by_model, summary)
    return world, seeding


async def _expected(
    conn: asyncpg.Connection, account_id: uuid.UUID, from_day: date, to_day: date
) -> tuple[Expected, Expected]:
    since = datetime.combine(from_day, datetime.min.time(), tzinfo=UTC)
    until = datetime.combine(to_day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    teams: list[tuple[Any, Amount]] = []
    models: list[tuple[Any, Amount]] = []
    totals = None
    for rec in await conn.fetch(EXPECTED, account_id, since, until):
        amount = Amount(int(rec["events"]), rec["credits"], rec["cost_usd"])
        if not rec["no_team"]:
            teams.append((rec["team_id"], amount))
        elif not rec["no_model"]:
            models.append((rec["model_id"] or "", amount))
        else:
            totals = amount
    if totals is None or not teams or not models:
        raise RuntimeError("no seeded usage in the cost breakdown range")
    return Expected(totals, _ranked(teams)), Expected(totals, _ranked(models))


@dataclass(kw_only=True)
class CostCase(Case):
    """costBreakdown(from, to, groupBy: [dimension], top) with every response checked in full."""

    dimension: str
    from_day: date
    to_day: date
    top: int
    expected: Expected

    def payload(self, seq: int) -> dict[str, Any]:
        variables = {
            "input": {
                "from": self.from_day.isoformat(),
                "to": self.to_day.isoformat(),
                "groupBy": [self.dimension],
                "top": self.top,
            }
        }
        return {"query": COST_BREAKDOWN, "variables": variables, "operationName": "BenchCostBreakdown"}

    def check(self, data: dict[str, Any], seq: int) -> None:
        got = data.get("costBreakdown")
        if got is None:
            raise BenchFailure("costBreakdown is null: the token may not read the account's costs")
        want = self.expected
        totals = Amount.of(got["totals"])
        if totals != want.totals:
            raise BenchFailure(f"{self.dimension}: totals {totals}, expected {want.totals} (from the raw events)")
        rows = got["rows"]
        top = want.rows[: self.top]
        if len(rows) != len(top) or not rows:
            raise BenchFailure(f"{self.dimension}: {len(rows)} rows, expected {len(top)}")
        for i, (row, (key, amount)) in enumerate(zip(rows, top, strict=True)):
            keys = row["keys"]
            if len(keys) != 1 or keys[0]["dimension"] != self.dimension or keys[0]["value"] != key:
                raise BenchFailure(f"{self.dimension}: row {i} keys {keys}, expected {key}")
            if Amount.of(row) != amount:
                raise BenchFailure(f"{self.dimension}: row {i} ({key}) {Amount.of(row)}, expected {amount}")
        rest = want.rows[self.top :]
        other = Amount.of(got["other"]) if got["other"] is not None else None
        expected_other = (
            Amount(sum(a.events for _, a in rest), sum(a.credits for _, a in rest), sum(a.cost_usd for _, a in rest))
            if rest
            else None
        )
        if other != expected_other:
            raise BenchFailure(f"{self.dimension}: other {other}, expected {expected_other}")
        if not got["additive"] or got["from"] != self.from_day.isoformat() or got["to"] != self.to_day.isoformat():
            raise BenchFailure(
                f"{self.dimension}: unexpected header { ({k: got[k] for k in ('from', 'to', 'additive')}) }"
            )


def cost_cases(world: CostWorld, requests: int, seconds: float, concurrencies: tuple[int, ...]) -> list[Case]:
    cases: list[Case] = []
    for dimension, expected in (("TEAM", world.by_team), ("MODEL", world.by_model)):
        for c in concurrencies:
            cases.append(
                CostCase(
                    name=f"costBreakdown {RANGE_DAYS} days by {dimension.lower()}, top {TOP} (10 M-event tenant)"
                    if world.events == COST_EVENTS
                    else f"costBreakdown {RANGE_DAYS} days by {dimension.lower()}, top {TOP} ({world.events:,} events)",
                    concurrency=c,
                    max_requests=requests,
                    max_seconds=seconds,
                    dimension=dimension,
                    from_day=world.from_day,
                    to_day=world.to_day,
                    top=TOP,
                    expected=expected,
                )
            )
    return cases
