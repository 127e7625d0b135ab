"""Connections, agents and the marketplace: assets, their assignments to scopes, versions, installs.
All tenant tables: keys lead with account_id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import TenantScoped, timestamptz, uuid_pk


class Connection(TenantScoped, SQLModel, table=True):
    """An integration. `owner_user_id` set = a member's personal connection; else an admin one.
    `secret_ciphertext` is the write-only secret, encrypted (never returned, logged or audited)."""

    __tablename__ = "connections"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    name: str
    type: str
    config: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    secret_ciphertext: str | None = None
    secret_updated_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    owner_user_id: uuid.UUID | None = None
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class ConnectionAssignment(TenantScoped, SQLModel, table=True):
    __tablename__ = "connection_assignments"

    account_id: uuid.UUID = Field(primary_key=True)
    connection_id: uuid.UUID = Field(primary_key=True)
    scope_level: str = Field(primary_key=True)
    scope_id: uuid.UUID = Field(primary_key=True)
    created_at: datetime = timestamptz()


class Agent(TenantScoped, SQLModel, table=True):
    """An agent, owned by a scope (ACCOUNT, ORGANIZATION, TEAM, or USER for a personal agent)."""

    __tablename__ = "agents"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    name: str
    description: str = ""
    category: str | None = None
    tags: list[str] = Field(default_factory=list, sa_type=pg.ARRAY(sa.Text))
    instructions: str = ""
    model_id: uuid.UUID | None = None
    connection_ids: list[uuid.UUID] = Field(default_factory=list, sa_type=pg.ARRAY(pg.UUID(as_uuid=True)))
    guardrail_overrides: dict[str, Any] = Field(
        default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False}
    )
    owner_level: str
    owner_id: uuid.UUID
    status: str = "DRAFT"
    version: int = 1
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class AgentVersion(TenantScoped, SQLModel, table=True):
    """Append-only history of an agent's edits: the full definition as of each version."""

    __tablename__ = "agent_versions"

    account_id: uuid.UUID = Field(primary_key=True)
    agent_id: uuid.UUID = Field(primary_key=True)
    version: int = Field(primary_key=True)
    snapshot: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    actor: str | None = None
    created_at: datetime = timestamptz()


class AgentAssignment(TenantScoped, SQLModel, table=True):
    """A published agent offered to a scope: AVAILABLE (in the marketplace) or INSTALLED (in the workspace)."""

    __tablename__ = "agent_assignments"

    account_id: uuid.UUID = Field(primary_key=True)
    agent_id: uuid.UUID = Field(primary_key=True)
    scope_level: str = Field(primary_key=True)
    scope_id: uuid.UUID = Field(primary_key=True)
    mode: str = "AVAILABLE"
    created_at: datetime = timestamptz()


class AgentInstall(TenantScoped, SQLModel, table=True):
    """A member's own install of an AVAILABLE agent; inactive while they are outside its audience."""

    __tablename__ = "agent_installs"

    account_id: uuid.UUID = Field(primary_key=True)
    agent_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    installed_at: datetime = timestamptz()
