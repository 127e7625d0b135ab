"""The append-only audit trail (the app role may only INSERT and SELECT)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import TenantScoped, timestamptz, uuid_pk


class AuditEvent(TenantScoped, SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_time", "account_id", "occurred_at", "id"),)

    account_id: uuid.UUID = Field(primary_key=True)
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
