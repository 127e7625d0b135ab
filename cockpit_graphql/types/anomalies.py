"""Recorded cost anomalies as GraphQL: the anomaly, its filter, and the acknowledgement mutation's shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.observability import anomaly_records as records
from cockpit_graphql.domain.observability.costs import CostDimension as DomainDimension
from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.costs import CostKey, _key
from cockpit_graphql.types.errors import Payload
from cockpit_graphql.types.ids import encode_id


@strawberry.enum(description="What kind of cost anomaly was recorded.")
class CostAnomalyKind(Enum):
    SPIKE = strawberry.enum_value(
        "SPIKE", description="A dimension value's spend of the day far above its trailing 14 days."
    )
    PACE = strawberry.enum_value(
        "PACE", description="A capped scope on pace to pass its cap before the cycle ends (as of the recording)."
    )


def _spike_key(account_id: uuid.UUID, dimension: str, recorded: str) -> CostKey:
    dim = DomainDimension(dimension)
    value: Any = recorded or None
    if dim in (DomainDimension.ORGANIZATION, DomainDimension.TEAM, DomainDimension.USER) and value is not None:
        value = uuid.UUID(value)
    return _key(account_id, dim, value)


@strawberry.type(
    description="A cost anomaly recorded by the daily job (`observability.record_anomalies`): a spend spike of a "
    "UTC day, or a scope on pace to pass its cap. Recorded once per kind, day and dimension value; account admins "
    "acknowledge it."
)
class CostAnomaly:
    id: strawberry.ID = strawberry.field(description="The anomaly's global id.")
    kind: CostAnomalyKind = strawberry.field(description="Spike or pace.")
    day: date = strawberry.field(description="The UTC day judged (for PACE: the day that ended before the run).")
    key: CostKey | None = strawberry.field(description="SPIKE: the dimension and its value; null for PACE.")
    scope: BudgetScope | None = strawberry.field(description="PACE: the capped scope; null for SPIKE.")
    observed: Decimal = strawberry.field(description="SPIKE: credits of the day. PACE: credits spent in the cycle.")
    baseline: Decimal | None = strawberry.field(
        description="SPIKE: mean daily credits of the 14 days before. PACE: the effective cap."
    )
    deviation: Decimal | None = strawberry.field(
        description="SPIKE: standard deviations above the mean (null when the history is flat). PACE: projected "
        "credits beyond the cap at the end of the cycle."
    )
    details: JSON = strawberry.field(
        description="The rest of the judgement as recorded (SPIKE: mean, stdDev, excess; PACE: cap, projected, "
        "exceedsAt, cycleEndsAt)."
    )
    detected_at: datetime = strawberry.field(description="When the job recorded it.")
    acknowledged: bool = strawberry.field(description="Whether an admin acknowledged it.")
    acknowledged_at: datetime | None = strawberry.field(description="When it was acknowledged (null: not yet).")
    acknowledged_by: str | None = strawberry.field(description="Who acknowledged it (name or email at the time).")
    note: str | None = strawberry.field(description="The note given with the acknowledgement.")

    @classmethod
    def from_row(cls, row: Any) -> CostAnomaly:
        account_id: uuid.UUID = row.account_id
        spike = row.kind == records.SPIKE
        scope = None
        if not spike and row.scope_level is not None and row.scope_id is not None:
            scope = BudgetScope.of(account_id, Scope(ScopeLevel(row.scope_level), row.scope_id))
        return cls(
            id=strawberry.ID(encode_id("CostAnomaly", account_id, row.id)),
            kind=CostAnomalyKind(row.kind),
            day=row.day,
            key=_spike_key(account_id, row.dimension, row.dimension_key) if spike else None,
            scope=scope,
            observed=row.observed,
            baseline=row.baseline,
            deviation=row.deviation,
            details=row.details,
            detected_at=row.detected_at,
            acknowledged=row.acknowledged_at is not None,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            note=row.note,
        )


@strawberry.input(description="Narrow the recorded anomalies. Every given criterion must hold.")
class CostAnomalyFilter:
    kind: CostAnomalyKind | None = strawberry.field(default=None, description="Only this kind.")
    acknowledged: bool | None = strawberry.field(
        default=None, description="Only acknowledged (true) or only unacknowledged (false) anomalies."
    )
    from_: date | None = strawberry.field(default=None, name="from", description="Only days on or after this one.")
    to: date | None = strawberry.field(default=None, description="Only days on or before this one.")

    def to_domain(self) -> records.AnomalyFilter:
        return records.AnomalyFilter(
            kind=self.kind.value if self.kind is not None else None,
            acknowledged=self.acknowledged,
            from_day=self.from_,
            to_day=self.to,
        ).validate()


@strawberry.input(description="Acknowledge a recorded cost anomaly.")
class AcknowledgeAnomalyInput:
    id: strawberry.ID = strawberry.field(description="The anomaly (a CostAnomaly global id).")
    note: str | None = strawberry.field(default=None, description="Why, or what was done (at most 1000 characters).")


@strawberry.type(description="The acknowledged anomaly.")
class AcknowledgeAnomalyPayload(Payload):
    anomaly: CostAnomaly | None = strawberry.field(default=None, description="The anomaly, now acknowledged.")
