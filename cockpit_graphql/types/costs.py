"""Cost attribution types: the breakdown of credits and USD by dimension, with totals and a daily series."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import strawberry

from cockpit_graphql.domain.observability import anomalies, costs
from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.ids import encode_id


@strawberry.enum(
    description="What to group costs by. ORGANIZATION, TEAM, USER, AGENT and MODEL are additive (every event is "
    "in exactly one group; they combine freely). CONNECTION and GUARDRAIL are NOT additive and must be used alone."
)
class CostDimension(Enum):
    ORGANIZATION = strawberry.enum_value(
        "ORGANIZATION", description="The organization the user was in when the usage happened (additive)."
    )
    TEAM = strawberry.enum_value("TEAM", description="The team the user was in when the usage happened (additive).")
    USER = strawberry.enum_value("USER", description="The user who ran the call (additive).")
    AGENT = strawberry.enum_value("AGENT", description="The agent id as reported with the usage (additive).")
    MODEL = strawberry.enum_value("MODEL", description="The model id as reported with the usage (additive).")
    CONNECTION = strawberry.enum_value(
        "CONNECTION",
        description="Each connection the call used, as reported. NOT additive: an event counts whole under every "
        "connection it used (and under none when it used none). Cannot be combined with another dimension.",
    )
    GUARDRAIL = strawberry.enum_value(
        "GUARDRAIL",
        description="Each guardrail the call passed, as reported. NOT additive: an event counts whole under every "
        "guardrail it passed (and under none when it passed none). Cannot be combined with another dimension.",
    )


ENTITY_TYPES = {
    costs.CostDimension.ORGANIZATION: "Organization",
    costs.CostDimension.TEAM: "Team",
    costs.CostDimension.USER: "User",
}


def _key(account_id: uuid.UUID, dim: costs.CostDimension, value: object) -> CostKey:
    entity = ENTITY_TYPES.get(dim)
    gid = strawberry.ID(encode_id(entity, account_id, value)) if entity else None  # type: ignore[arg-type]
    return CostKey(dimension=CostDimension(dim.value), id=gid, value=str(value) if value is not None else None)


@strawberry.input(description="Narrow a cost breakdown (each list: any of these; omitted: no restriction).")
class CostFilterInput:
    organization_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only usage placed in these organizations (at the time)."
    )
    team_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only usage placed in these teams (at the time)."
    )
    user_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Only these users' usage.")
    agent_ids: list[str] | None = strawberry.field(default=None, description="Only these agent ids, as reported.")
    model_ids: list[str] | None = strawberry.field(default=None, description="Only these model ids, as reported.")
    connection_ids: list[str] | None = strawberry.field(
        default=None, description="Only these connections (only when grouping by CONNECTION alone)."
    )
    guardrails: list[str] | None = strawberry.field(
        default=None, description="Only these guardrails (only when grouping by GUARDRAIL alone)."
    )


@strawberry.input(description="Which costs to break down, and how.")
class CostBreakdownInput:
    from_: date = strawberry.field(name="from", description="First UTC day of the range (inclusive).")
    to: date = strawberry.field(description="Last UTC day of the range (inclusive; at most 366 days in all).")
    group_by: list[CostDimension] = strawberry.field(
        description="The dimensions of a row (none: one row with everything)."
    )
    filter: CostFilterInput | None = strawberry.field(default=None, description="Narrow the usage counted.")
    top: int = strawberry.field(
        default=costs.DEFAULT_TOP, description="How many rows, largest credits first (1 to 100); the rest is `other`."
    )
    daily: bool = strawberry.field(default=False, description="Also return the series of daily totals.")


@strawberry.type(description="One dimension's value in a cost row.")
class CostKey:
    dimension: CostDimension = strawberry.field(description="The dimension.")
    id: strawberry.ID | None = strawberry.field(
        description="ORGANIZATION, TEAM, USER: the global id of the entity (it may since have been deleted)."
    )
    value: str | None = strawberry.field(
        description="AGENT, MODEL, CONNECTION, GUARDRAIL: the id as reported (null: the usage named no agent or "
        "model); for entities, the raw id."
    )


@strawberry.type(description="Credits, USD and event count of some usage.")
class CostAmount:
    credits: Decimal = strawberry.field(description="Credits.")
    cost_usd: Decimal = strawberry.field(description="Cost in USD.")
    events: int = strawberry.field(description="Usage events counted.")

    @classmethod
    def of(cls, a: costs.CostAmount) -> CostAmount:
        return cls(credits=a.credits, cost_usd=a.cost_usd, events=a.events)


@strawberry.type(description="One group of a cost breakdown.")
class CostRow:
    keys: list[CostKey] = strawberry.field(description="The group's value in each grouped dimension, in order.")
    credits: Decimal = strawberry.field(description="Credits of the group.")
    cost_usd: Decimal = strawberry.field(description="Cost in USD of the group.")
    events: int = strawberry.field(description="Usage events of the group.")


@strawberry.type(description="One UTC day of a cost breakdown's range.")
class CostDay:
    day: date = strawberry.field(description="The UTC day.")
    credits: Decimal = strawberry.field(description="Credits of the day (every event once).")
    cost_usd: Decimal = strawberry.field(description="Cost in USD of the day (every event once).")


@strawberry.type(
    description="Costs of a range of UTC days by dimension. Whole past days are read from the daily rollups, today "
    "(UTC) from the raw usage events. Attribution is the placement at the time of the usage."
)
class CostBreakdown:
    from_: date = strawberry.field(name="from", description="First UTC day of the range.")
    to: date = strawberry.field(description="Last UTC day of the range.")
    group_by: list[CostDimension] = strawberry.field(description="The dimensions of the rows.")
    additive: bool = strawberry.field(
        description="True when the rows plus `other` sum exactly to `totals`; false for CONNECTION and GUARDRAIL, "
        "where an event counts under each connection or guardrail it involved (and under none when none)."
    )
    rows: list[CostRow] = strawberry.field(description="The top groups, largest credits first.")
    other: CostAmount | None = strawberry.field(description="Everything past the top groups (null when nothing).")
    totals: CostAmount = strawberry.field(
        description="Every event of the range (and filter) once. For CONNECTION and GUARDRAIL, the whole range "
        "(their filter narrows the rows only)."
    )
    daily: list[CostDay] | None = strawberry.field(
        description="Every day of the range with its totals, zeros included (when asked)."
    )
    raw_from: date = strawberry.field(
        description="Days from this one on were read from the raw usage events, earlier ones from the rollups."
    )

    @classmethod
    def of(cls, account_id: uuid.UUID, b: costs.CostBreakdown) -> CostBreakdown:
        def key(dim: costs.CostDimension, value: object) -> CostKey:
            return _key(account_id, dim, value)

        return cls(
            from_=b.query.from_day,
            to=b.query.to_day,
            group_by=[CostDimension(d.value) for d in dict.fromkeys(b.query.group_by)],
            additive=b.additive,
            rows=[
                CostRow(
                    keys=[key(d, v) for d, v in r.keys.items()],
                    credits=r.amount.credits,
                    cost_usd=r.amount.cost_usd,
                    events=r.amount.events,
                )
                for r in b.rows
            ],
            other=CostAmount.of(b.other) if b.other else None,
            totals=CostAmount.of(b.totals),
            daily=[CostDay(day=d.day, credits=d.amount.credits, cost_usd=d.amount.cost_usd) for d in b.daily]
            if b.daily is not None
            else None,
            raw_from=b.raw_from,
        )


@strawberry.input(description="Which anomalies to look for.")
class CostAnomaliesInput:
    day: date | None = strawberry.field(
        default=None, description="The UTC day judged for spikes (default: yesterday, the last whole day)."
    )
    dimensions: list[CostDimension] | None = strawberry.field(
        default=None, description="The dimensions whose values are judged for spikes (default: all)."
    )
    sigmas: Decimal = strawberry.field(
        default=anomalies.DEFAULT_SIGMAS,
        description="A spike exceeds the trailing 14-day mean by more than this many standard deviations.",
    )
    min_credits: Decimal = strawberry.field(
        default=anomalies.DEFAULT_MIN_CREDITS, description="A spike is at least this many credits in the day."
    )


@strawberry.type(description="A dimension value whose spend of the day is far above its trailing 14 days.")
class SpendSpike:
    key: CostKey = strawberry.field(description="The dimension and its value.")
    credits: Decimal = strawberry.field(description="Credits of the judged day.")
    mean: Decimal = strawberry.field(description="Mean daily credits of the 14 days before (idle days count as 0).")
    std_dev: Decimal = strawberry.field(description="Population standard deviation of those 14 days.")


@strawberry.type(description="A capped scope whose spend, extrapolated linearly, passes its cap before the cycle ends.")
class PaceAnomaly:
    scope: BudgetScope = strawberry.field(description="The account, organization, team or user.")
    cap: Decimal = strawberry.field(description="Its effective cap this cycle (the pool or ceiling for the account).")
    spent: Decimal = strawberry.field(description="Credits spent so far this cycle (still within the cap).")
    projected: Decimal = strawberry.field(description="Spent extrapolated to the end of the cycle.")
    exceeds_at: datetime = strawberry.field(description="When the extrapolation crosses the cap.")
    cycle_ends_at: datetime = strawberry.field(description="When the current cycle ends.")


@strawberry.type(
    description="Spend spikes of a day (from the daily rollups) and scopes on pace to pass their cap this cycle."
)
class CostAnomalies:
    day: date = strawberry.field(description="The UTC day judged for spikes.")
    spikes: list[SpendSpike] = strawberry.field(description="The spikes, largest excess over the mean first.")
    pace: list[PaceAnomaly] = strawberry.field(description="Scopes on pace to pass their cap, soonest first.")

    @classmethod
    def of(cls, account_id: uuid.UUID, found: anomalies.Anomalies) -> CostAnomalies:
        return cls(
            day=found.day,
            spikes=[
                SpendSpike(key=_key(account_id, s.dimension, s.key), credits=s.credits, mean=s.mean, std_dev=s.std_dev)
                for s in found.spikes
            ],
            pace=[
                PaceAnomaly(
                    scope=BudgetScope.of(account_id, a.scope),
                    cap=a.cap,
                    spent=a.spent,
                    projected=a.projected,
                    exceeds_at=a.exceeds_at,
                    cycle_ends_at=a.cycle_ends_at,
                )
                for a in found.pace
            ],
        )
