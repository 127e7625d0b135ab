"""Budget tables: plan versions, cycles, caps, counters, reservations, usage events, the ledger,
settlements and billing notices. All tenant tables: keys lead with account_id."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import TenantScoped, timestamptz, uuid_pk

CREDITS = sa.Numeric(20, 6)
USD = sa.Numeric(20, 10)


def credit_field(default: Decimal | None = Decimal(0), nullable: bool = False) -> Any:
    return Field(default=default, sa_type=CREDITS, sa_column_kwargs={"nullable": nullable})


def ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True), sa_column_kwargs={"nullable": nullable})


class BudgetPlan(TenantScoped, SQLModel, table=True):
    """One version of an account's plan; a version governs the cycles that start at or after
    `effective_from` until a later version takes over (edits apply from the next cycle)."""

    __tablename__ = "budget_plans"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    version: int
    credits_per_cycle: Decimal = credit_field()
    renewal_day: int
    rollover_percent: Decimal = Field(default=Decimal(0), sa_type=sa.Numeric(5, 2))
    rollover_cap: Decimal | None = credit_field(None, nullable=True)
    overflow_policy: str = "BLOCK"
    overflow_cap_credits: Decimal | None = credit_field(None, nullable=True)
    overflow_usd_per_credit: Decimal = Field(default=Decimal(0), sa_type=USD)
    effective_from: datetime = ts(nullable=False)
    created_at: datetime = timestamptz()


class BudgetCycle(TenantScoped, SQLModel, table=True):
    __tablename__ = "budget_cycles"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    starts_at: datetime = ts(nullable=False)
    ends_at: datetime = ts(nullable=False)
    plan_id: uuid.UUID
    status: str = "OPEN"
    closed_at: datetime | None = ts()
    created_at: datetime = timestamptz()


class BudgetCap(TenantScoped, SQLModel, table=True):
    """Explicit settings of one scope: its cap (org, team, user) and default user cap (account, org, team)."""

    __tablename__ = "budget_caps"

    account_id: uuid.UUID = Field(primary_key=True)
    scope_level: str = Field(primary_key=True)
    scope_id: uuid.UUID = Field(primary_key=True)
    cap: Decimal | None = credit_field(None, nullable=True)
    default_user_cap: Decimal | None = credit_field(None, nullable=True)
    updated_at: datetime = timestamptz()


class BudgetCounter(TenantScoped, SQLModel, table=True):
    """Running totals per (cycle, scope), written in the same transaction as the ledger and the
    events; `ledgerReconciliation` checks them against both."""

    __tablename__ = "budget_counters"

    account_id: uuid.UUID = Field(primary_key=True)
    cycle_id: uuid.UUID = Field(primary_key=True)
    scope_level: str = Field(primary_key=True)
    scope_id: uuid.UUID = Field(primary_key=True)
    spent: Decimal = credit_field()
    reserved: Decimal = credit_field()
    included: Decimal = credit_field()
    overflow: Decimal = credit_field()


class Reservation(TenantScoped, SQLModel, table=True):
    __tablename__ = "budget_reservations"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    cycle_id: uuid.UUID
    user_id: uuid.UUID
    organization_id: uuid.UUID
    team_id: uuid.UUID
    credits: Decimal = credit_field()
    status: str = "HELD"
    agent_id: str | None = None
    model_id: str | None = None
    expires_at: datetime = ts(nullable=False)
    resolved_at: datetime | None = ts()
    created_at: datetime = timestamptz()


class UsageEvent(TenantScoped, SQLModel, table=True):
    """What was actually consumed, with its attribution as it stood when it happened."""

    __tablename__ = "usage_events"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    idempotency_key: str
    cycle_id: uuid.UUID
    occurred_at: datetime = ts(nullable=False)
    recorded_at: datetime = timestamptz()
    late: bool = False
    user_id: uuid.UUID
    organization_id: uuid.UUID
    team_id: uuid.UUID
    agent_id: str | None = None
    model_id: str | None = None
    connection_ids: list[str] = Field(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    guardrails: list[str] = Field(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Field(default=Decimal(0), sa_type=USD)
    credits_per_usd: Decimal = credit_field()
    credits: Decimal = credit_field()
    included_credits: Decimal = credit_field()
    overflow_credits: Decimal = credit_field()
    reservation_id: uuid.UUID | None = None


class LedgerEntry(TenantScoped, SQLModel, table=True):
    """Append-only: the app role may only INSERT and SELECT."""

    __tablename__ = "ledger_entries"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    cycle_id: uuid.UUID
    kind: str
    amount: Decimal = credit_field()
    usage_event_id: uuid.UUID | None = None
    settlement_id: uuid.UUID | None = None
    counterpart_cycle_id: uuid.UUID | None = None
    reason: str | None = None
    actor: str | None = None
    created_at: datetime = timestamptz()


class Settlement(TenantScoped, SQLModel, table=True):
    __tablename__ = "settlements"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    cycle_id: uuid.UUID
    overflow_credits: Decimal = credit_field()
    amount_usd: Decimal = Field(default=Decimal(0), sa_type=sa.Numeric(20, 2))
    status: str = "PENDING"
    external_reference: str | None = None
    write_off_reason: str | None = None
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class SettlementTransition(TenantScoped, SQLModel, table=True):
    __tablename__ = "settlement_transitions"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    settlement_id: uuid.UUID
    from_status: str | None = None
    to_status: str
    note: str | None = None
    actor: str | None = None
    at: datetime = timestamptz()


class BillingNotice(TenantScoped, SQLModel, table=True):
    __tablename__ = "billing_notices"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    cycle_id: uuid.UUID
    scope_level: str
    scope_id: uuid.UUID
    kind: str
    details: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB)
    created_at: datetime = timestamptz()


class CreditFactorChange(TenantScoped, SQLModel, table=True):
    """One change of an account's `creditsPerUsd` (append-only): the factor in force before `changed_at`
    was `previous_credits_per_usd`, so a usage event recorded late is priced with the factor in force when
    it happened (domain.md §2). The account row holds the factor in force now."""

    __tablename__ = "credit_factor_changes"

    account_id: uuid.UUID = Field(primary_key=True, foreign_key="accounts.id")
    changed_at: datetime = Field(primary_key=True, sa_type=sa.DateTime(timezone=True))
    previous_credits_per_usd: Decimal = Field(sa_type=CREDITS)
    credits_per_usd: Decimal = Field(sa_type=CREDITS)
