"""Cost attribution (domain.md §5): credits, USD and event counts of a range of UTC days, grouped by any
combination of organization, team, user, agent and model (additive), or by connection or guardrail
(not additive), with top-N rows, an "other" row, totals and an optional daily series.

Where the numbers come from, in ONE statement (one snapshot):
- whole past days (before today, UTC) from the daily rollups, which the usage write path keeps in the
  same transaction as the events (rollups.py): the smallest grain that keeps every dimension grouped or
  filtered by (`usage_daily_teams` for organizations and teams, `usage_daily_models` for agents and
  models, else the full `usage_daily`; `grain_for`), and `usage_daily_tags` for tags;
- today (and any later day: `occurredAt` may run a few minutes ahead) from the raw `usage_events`.
Attribution is the placement snapshot stored on each event (a user who moved teams counts under the old
team before the move and the new one after it). Days are UTC days of `occurred_at`, late events included.

Additive groupings (ORGANIZATION, TEAM, USER, AGENT, MODEL, and combinations): every event is in exactly
one group, so the rows plus "other" sum exactly to the totals. Filters on organizations, teams, users,
agents and models apply. CONNECTION and GUARDRAIL count an event's whole cost under each distinct
connection / guardrail it names (an event with none is in no row): the rows may sum to more or less than
the totals, the result says `additive = False`, and the totals are the range's spend with every event
counted once. These two come from `usage_daily_tags`, which knows nothing else about the events, so they
cannot be combined with each other or with another dimension, and only their own filter
(`connection_ids` / `guardrails`) applies to them; the totals and the daily series then stay those of
the whole range (refused otherwise with a BadUserInput).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.observability.rollups import DAY_SQL, FULL, GRAINS, Grain, day_start

DEFAULT_TOP = 20
MAX_TOP = 100
MAX_DAYS = 366
ZERO = Decimal(0)


class CostDimension(StrEnum):
    ORGANIZATION = "ORGANIZATION"
    TEAM = "TEAM"
    USER = "USER"
    AGENT = "AGENT"
    MODEL = "MODEL"
    CONNECTION = "CONNECTION"
    GUARDRAIL = "GUARDRAIL"


ADDITIVE: dict[CostDimension, tuple[str, str]] = {  # dimension -> (column of the additive source, SQL type)
    CostDimension.ORGANIZATION: ("organization_id", "uuid"),
    CostDimension.TEAM: ("team_id", "uuid"),
    CostDimension.USER: ("user_id", "uuid"),
    CostDimension.AGENT: ("agent_key", "text"),
    CostDimension.MODEL: ("model_key", "text"),
}
TAGS = {CostDimension.CONNECTION, CostDimension.GUARDRAIL}


@dataclass(frozen=True)
class CostFilter:
    organization_ids: list[uuid.UUID] | None = None
    team_ids: list[uuid.UUID] | None = None
    user_ids: list[uuid.UUID] | None = None
    agent_ids: list[str] | None = None
    model_ids: list[str] | None = None
    connection_ids: list[str] | None = None
    guardrails: list[str] | None = None


@dataclass(frozen=True)
class CostQuery:
    from_day: date
    to_day: date  # inclusive
    group_by: list[CostDimension]
    filter: CostFilter = field(default_factory=CostFilter)
    top: int = DEFAULT_TOP
    daily: bool = False


@dataclass(frozen=True)
class CostAmount:
    events: int
    credits: Decimal
    cost_usd: Decimal

    def __add__(self, other: CostAmount) -> CostAmount:
        return CostAmount(self.events + other.events, self.credits + other.credits, self.cost_usd + other.cost_usd)


NOTHING = CostAmount(0, ZERO, ZERO)


@dataclass(frozen=True)
class CostRow:
    keys: dict[CostDimension, Any]  # uuid for ORGANIZATION/TEAM/USER, str (or None: none named) otherwise
    amount: CostAmount


@dataclass(frozen=True)
class CostDay:
    day: date
    amount: CostAmount


@dataclass(frozen=True)
class CostBreakdown:
    query: CostQuery
    additive: bool
    rows: list[CostRow]
    other: CostAmount | None  # everything past the top N (None when nothing is left over)
    totals: CostAmount
    daily: list[CostDay] | None  # every day of the range, zeros included (None unless asked)
    raw_from: date  # days from this one on were read from the raw events; earlier ones from the rollups


# --- validation ---------------------------------------------------------------------------------


def _check(q: CostQuery) -> list[CostDimension]:
    if q.from_day > q.to_day:
        raise BadUserInput("`from` must not be after `to`.")
    if (q.to_day - q.from_day).days + 1 > MAX_DAYS:
        raise BadUserInput(f"A cost breakdown covers at most {MAX_DAYS} days.")
    if q.to_day >= date.max:  # the range ends at the start of the next day, which 9999-12-31 has not
        raise BadUserInput("`to` must be before 9999-12-31.")
    if not 1 <= q.top <= MAX_TOP:
        raise BadUserInput(f"`top` must be 1 to {MAX_TOP}.")
    dims = list(dict.fromkeys(q.group_by))
    tags = [d for d in dims if d in TAGS]
    f = q.filter
    if tags:
        if len(dims) > 1:
            raise BadUserInput(
                "CONNECTION and GUARDRAIL cannot be combined with each other or with another dimension "
                "(their daily rollups hold one tag per row); group by one of them alone."
            )
        others = [f.organization_ids, f.team_ids, f.user_ids, f.agent_ids, f.model_ids]
        wrong = f.guardrails if tags[0] is CostDimension.CONNECTION else f.connection_ids
        if any(v is not None for v in others) or wrong is not None:
            own = "connectionIds" if tags[0] is CostDimension.CONNECTION else "guardrails"
            raise BadUserInput(
                f"Grouped by {tags[0].value}, only the `{own}` filter applies "
                "(the rollups of tags know nothing else about the events)."
            )
    elif f.connection_ids is not None or f.guardrails is not None:
        raise BadUserInput(
            "The `connectionIds` and `guardrails` filters apply only when grouping by CONNECTION or GUARDRAIL "
            "(the additive rollups do not record them)."
        )
    return dims


# --- SQL ----------------------------------------------------------------------------------------

_SQL_TYPES = {"organization_id": "uuid", "team_id": "uuid", "user_id": "uuid", "agent_key": "text", "model_key": "text"}


def _additive_src(grain: Grain) -> str:
    """The additive source: the rollups of `grain` for [from, rollup_until) (NULL in the columns the grain
    does not keep: no filter or grouping asks for them), the raw events for [raw_since, until)."""
    cols = ", ".join(f"d.{c}" if c in grain.keys else f"NULL::{_SQL_TYPES[c]} AS {c}" for c in FULL.keys)
    return f"""
    SELECT d.day, {cols}, d.events, d.credits, d.cost_usd
    FROM {grain.table} d
    WHERE d.account_id = :account AND d.day >= :from_day AND d.day < :rollup_until
    UNION ALL
    SELECT {DAY_SQL}, e.organization_id, e.team_id, e.user_id,
        coalesce(e.agent_id, ''), coalesce(e.model_id, ''), 1, e.credits, e.cost_usd
    FROM usage_events e
    WHERE e.account_id = :account AND e.occurred_at >= :raw_since AND e.occurred_at < :until
"""


def grain_for(dims: list[CostDimension], f: CostFilter) -> Grain:
    """The smallest rollup grain that keeps every dimension the breakdown groups or filters by."""
    filtered = {
        "organization_id": f.organization_ids,
        "team_id": f.team_ids,
        "user_id": f.user_ids,
        "agent_key": f.agent_ids,
        "model_key": f.model_ids,
    }
    needed = {ADDITIVE[d][0] for d in dims if d in ADDITIVE} | {c for c, v in filtered.items() if v is not None}
    return next(g for g in GRAINS if needed <= set(g.keys))


_ADDITIVE_FILTER = """
    (CAST(:orgs AS uuid[]) IS NULL OR organization_id = ANY(CAST(:orgs AS uuid[])))
    AND (CAST(:teams AS uuid[]) IS NULL OR team_id = ANY(CAST(:teams AS uuid[])))
    AND (CAST(:users AS uuid[]) IS NULL OR user_id = ANY(CAST(:users AS uuid[])))
    AND (CAST(:agents AS text[]) IS NULL OR agent_key = ANY(CAST(:agents AS text[])))
    AND (CAST(:models AS text[]) IS NULL OR model_key = ANY(CAST(:models AS text[])))
"""

_TAG_SRC = f"""
    SELECT d.day, d.tag, d.events, d.credits, d.cost_usd
    FROM usage_daily_tags d
    WHERE d.account_id = :account AND d.kind = :kind AND d.day >= :from_day AND d.day < :rollup_until
    UNION ALL
    SELECT {DAY_SQL}, t.tag, 1, e.credits, e.cost_usd
    FROM usage_events e
    CROSS JOIN LATERAL (
        SELECT DISTINCT x AS tag
        FROM unnest(CASE WHEN :kind = 'CONNECTION' THEN e.connection_ids ELSE e.guardrails END) AS x
    ) t
    WHERE e.account_id = :account AND e.occurred_at >= :raw_since AND e.occurred_at < :until
"""


def _statement(dims: list[CostDimension], daily: bool, grain: Grain) -> str:
    """Parts: ROW (top N, ranked by credits, then USD, then the keys), OTHER (the rest, when any),
    TOTAL (tags only: every event once), DAY (the daily series, when asked)."""
    tag = bool(dims) and dims[0] in TAGS
    if tag:
        cols = [("tag", "text")]
        grouped = "tsrc"
    else:
        cols = [ADDITIVE[d] for d in dims]
        grouped = "src"
    names = [c for c, _ in cols]
    keys = "".join(f"{c}, " for c in names)
    nulls = "".join(f"NULL::{t}, " for _, t in cols)
    group = f"GROUP BY {', '.join(names)}" if names else ""
    order = "".join(f", {c}" for c in names)
    ctes = [f"src AS (SELECT * FROM ({_additive_src(grain)}) a WHERE {_ADDITIVE_FILTER})"]
    if tag:
        tags = "CAST(:tags AS text[]) IS NULL OR tag = ANY(CAST(:tags AS text[]))"
        ctes.append(f"tsrc AS (SELECT * FROM ({_TAG_SRC}) b WHERE {tags})")
    ctes.append(
        f"g AS (SELECT {keys}sum(events) AS events, sum(credits) AS credits, sum(cost_usd) AS cost_usd "
        f"FROM {grouped} {group} HAVING sum(events) > 0)"
    )
    ctes.append(
        f"r AS (SELECT g.*, row_number() OVER (ORDER BY credits DESC, cost_usd DESC, events DESC{order}) AS rn FROM g)"
    )
    parts = [
        f"SELECT 'ROW' AS part, rn, {keys}NULL::date AS day, events, credits, cost_usd FROM r WHERE rn <= :top",
        f"SELECT 'OTHER', NULL, {nulls}NULL, sum(events), sum(credits), sum(cost_usd) FROM r WHERE rn > :top "
        "HAVING count(*) > 0",
    ]
    if tag:
        parts.append(
            f"SELECT 'TOTAL', NULL, {nulls}NULL, coalesce(sum(events), 0), coalesce(sum(credits), 0), "
            "coalesce(sum(cost_usd), 0) FROM src"
        )
    if daily:
        parts.append(f"SELECT 'DAY', NULL, {nulls}day, sum(events), sum(credits), sum(cost_usd) FROM src GROUP BY day")
    return "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL\n".join(parts) + "\nORDER BY 1, 2"


async def cost_breakdown(
    session: AsyncSession, tenant: TenantId, q: CostQuery, now: datetime, grain: Grain | None = None
) -> CostBreakdown:
    """The breakdown of `q` in the tenant's account; `now` decides which days are read raw (today
    and later, UTC) and which from the rollups (the whole days before), `grain_for` which rollup table
    (`grain` overrides it: tests prove every grain gives the same answer)."""
    dims = _check(q)
    grain = grain or grain_for(dims, q.filter)
    today = now.astimezone(UTC).date()
    raw_from = max(q.from_day, today)
    after = q.to_day + timedelta(days=1)
    f = q.filter
    tag_dim = dims[0] if dims and dims[0] in TAGS else None
    values: dict[str, Any] = {
        "account": tenant.value,
        "from_day": q.from_day,
        "rollup_until": min(after, raw_from),
        "raw_since": day_start(raw_from),
        "until": day_start(after),
        "top": q.top,
        "orgs": f.organization_ids,
        "teams": f.team_ids,
        "users": f.user_ids,
        "agents": f.agent_ids,
        "models": f.model_ids,
    }
    if tag_dim is not None:
        values["kind"] = tag_dim.value
        values["tags"] = f.connection_ids if tag_dim is CostDimension.CONNECTION else f.guardrails
    result = await session.execute(sa.text(_statement(dims, q.daily, grain)), values)
    key_dims = [tag_dim] if tag_dim is not None else dims
    rows: list[CostRow] = []
    other: CostAmount | None = None
    total: CostAmount | None = None
    by_day: dict[date, CostAmount] = {}
    for rec in result.all():
        part, amount = rec[0], CostAmount(int(rec[-3]), Decimal(rec[-2]), Decimal(rec[-1]))
        if part == "ROW":
            keys = {d: _key(d, rec[2 + i]) for i, d in enumerate(key_dims)}
            rows.append(CostRow(keys, amount))
        elif part == "OTHER":
            other = amount
        elif part == "TOTAL":
            total = amount
        else:
            by_day[rec[-4]] = amount
    if total is None:  # additive: the parts are the whole
        total = sum((r.amount for r in rows), other or NOTHING)
    daily = None
    if q.daily:
        span = (q.to_day - q.from_day).days + 1
        days = [q.from_day + timedelta(days=i) for i in range(span)]
        daily = [CostDay(d, by_day.get(d, NOTHING)) for d in days]
    return CostBreakdown(q, tag_dim is None, rows, other, total, daily, raw_from)


def _key(dim: CostDimension, value: Any) -> Any:
    if dim in (CostDimension.AGENT, CostDimension.MODEL):
        return value or None  # '' in the rollups: the event named none
    return value
