"""Observability tables: daily usage rollups, maintained in the usage write path (metering.record_usage)
and rebuildable from the raw usage events (domain/observability/rollups.py). Keys lead with account_id."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.budgets import CREDITS, USD


class UsageDaily(SQLModel, table=True):
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


class UsageDailyTag(SQLModel, table=True):
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
