"""Platform tables: not tenant data, managed by super admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import timestamptz, uuid_pk


class Account(SQLModel, table=True):
    """A tenant: one customer company."""

    __tablename__ = "accounts"
    __table_args__ = (sa.UniqueConstraint("sso_issuer", "external_org_id", name="uq_accounts_issuer_org"),)

    id: uuid.UUID = uuid_pk()
    name: str = Field(sa_column_kwargs={"nullable": False})
    status: str = Field(default="ACTIVE", sa_column_kwargs={"nullable": False})
    external_org_id: str = Field(sa_column_kwargs={"nullable": False})
    sso_issuer: str = Field(sa_column_kwargs={"nullable": False})
    sso_allowed_email_domains: list[str] = Field(
        default_factory=list, sa_type=pg.ARRAY(sa.Text), sa_column_kwargs={"nullable": False}
    )
    jit_enabled: bool = Field(default=False, sa_column_kwargs={"nullable": False})
    jit_default_role: str = Field(default="MEMBER", sa_column_kwargs={"nullable": False})
    credits_per_usd: Decimal = Field(
        default=Decimal("1000"), sa_type=sa.Numeric(20, 6), sa_column_kwargs={"nullable": False}
    )
    entitlements: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    rate_limit_capacity: int | None = Field(default=None, description="Rate limit override: bucket capacity (cost).")
    rate_limit_refill_per_second: float | None = Field(
        default=None, sa_type=sa.Float, description="Rate limit override: cost units refilled per second."
    )
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()
