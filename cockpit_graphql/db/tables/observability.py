"""Observability tables: daily usage rollups, maintained in the usage write path (metering.record_usage)
and rebuildable from the raw usage events (domain/observability/rollups.py). Keys lead with account_id."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.budgets import CREDITS, USD
from cockpit_graphql.db.tables.common import TenantScoped


class UsageDaily(TenantScoped, SQLModel, table=True):
    """Usage of one UTC day (of occurred_at) per placement snapshot, agent and model: the additive
    groupings. `agent_key` / `model_key` are the reported ids ('' when the event named none)."""

    __tablename__ = "usage_daily"

    account_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    organization_id: uuid.UUID = Field(primary_key=True)
    team_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    agent_key: str = Field(default="", primary_key=True)
    model_key: str = Field(default="", primary_key=True)
    events: int = Field(default=0, sa_type=sa.BigInteger)
    credits: Decimal = Field(default=Decimal(0), sa_type=CREDITS)
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=USD)


class UsageDailyTeam(TenantScoped, SQLModel, table=True):
    """`usage_daily` summed over user, agent and model: one row per UTC day and organization × team
    (a coarse grain for breakdowns and filters that name only the placement)."""

    __tablename__ = "usage_daily_teams"

    account_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    organization_id: uuid.UUID = Field(primary_key=True)
    team_id: uuid.UUID = Field(primary_key=True)
    events: int = Field(default=0, sa_type=sa.BigInteger)
    credits: Decimal = Field(default=Decimal(0), sa_type=CREDITS)
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=USD)


class UsageDailyModel(TenantScoped, SQLModel, table=True):
    """`usage_daily` summed over the placement: one row per UTC day and agent × model (a coarse grain
    for breakdowns and filters that name only agents and models)."""

    __tablename__ = "usage_daily_models"

    account_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    agent_key: str = Field(default="", primary_key=True)
    model_key: str = Field(default="", primary_key=True)
    events: int = Field(default=0, sa_type=sa.BigInteger)
    credits: Decimal = Field(default=Decimal(0), sa_type=CREDITS)
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=USD)


class UsageDailyTag(TenantScoped, SQLModel, table=True):
    """Usage of one UTC day per connection or guardrail (kind CONNECTION | GUARDRAIL): an event counts
    whole under every tag it names, so these rows are not additive."""

    __tablename__ = "usage_daily_tags"

    account_id: uuid.UUID = Field(primary_key=True)
    day: date = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    tag: str = Field(primary_key=True)
    events: int = Field(default=0, sa_type=sa.BigInteger)
    credits: Decimal = Field(default=Decimal(0), sa_type=CREDITS)
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=USD)


class CostAnomaly(TenantScoped, SQLModel, table=True):
    """A recorded cost anomaly (kind SPIKE | PACE) of one UTC day, written once by the daily job (the
    unique key makes recording idempotent) and acknowledged in place by an admin."""

    __tablename__ = "cost_anomalies"
    __table_args__ = (
        sa.UniqueConstraint(
            "account_id", "kind", "day", "dimension", "dimension_key", name="uq_cost_anomalies_natural"
        ),
        sa.Index("ix_cost_anomalies_time", "account_id", "detected_at", "id"),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str
    day: date
    dimension: str
    dimension_key: str
    scope_level: str | None = None
    scope_id: uuid.UUID | None = None
    observed: Decimal = Field(sa_type=CREDITS)
    baseline: Decimal | None = Field(default=None, sa_type=CREDITS)
    deviation: Decimal | None = Field(default=None, sa_type=sa.Numeric)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    detected_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    acknowledged_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    acknowledged_by: str | None = None
    note: str | None = None
