"""Policy tables: the platform model catalog, account guardrail definitions, and one row per explicit
policy setting of a scope (model access, a flag, a guardrail state, the connection mode)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import TenantScoped, timestamptz, uuid_pk

PRICE = sa.Numeric(20, 10)


class CatalogModel(SQLModel, table=True):
    """A model the platform offers (platform table, managed by super admins)."""

    __tablename__ = "models"
    __table_args__ = (sa.UniqueConstraint("provider", "provider_model_id", name="uq_models_provider_model"),)

    id: uuid.UUID = uuid_pk()
    provider: str
    provider_model_id: str
    display_name: str
    capabilities: list[str] = Field(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    input_usd_per_mtok: Decimal = Field(default=Decimal(0), sa_type=PRICE)
    output_usd_per_mtok: Decimal = Field(default=Decimal(0), sa_type=PRICE)
    enabled: bool = True
    deprecated: bool = False
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class PlatformAuditEvent(SQLModel, table=True):
    """Audit trail of platform-wide changes (the catalog), which belong to no account. Append-only."""

    __tablename__ = "platform_audit_events"
    __table_args__ = (sa.Index("ix_platform_audit_events_time", "occurred_at", "id"),)

    id: uuid.UUID = uuid_pk()
    occurred_at: datetime = timestamptz()
    action: str
    actor_type: str
    actor_id: str | None = None
    actor_label: str = ""
    target_type: str
    target_id: str | None = None
    diff: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    request_id: str | None = None


class GuardrailDefinition(TenantScoped, SQLModel, table=True):
    """An account's guardrail: what it checks and how it acts. Off until some scope enables it."""

    __tablename__ = "guardrails"
    __table_args__ = (sa.UniqueConstraint("account_id", "name", name="uq_guardrails_name"),)

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    name: str
    type: str
    mode: str
    config: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class PolicySetting(TenantScoped, SQLModel, table=True):
    """One explicit setting of one scope. `kind` says what it sets and `key` which one (a flag's name,
    a guardrail's id, '' for model access and the connection mode); `value` holds the setting."""

    __tablename__ = "policy_settings"

    account_id: uuid.UUID = Field(primary_key=True)
    scope_level: str = Field(primary_key=True)
    scope_id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    value: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    locked: bool = False
    updated_at: datetime = timestamptz()
