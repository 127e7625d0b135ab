"""SCIM 2.0 provisioning tables: tokens (and their platform routing rows), SCIM users, groups, memberships.

Tenant tables lead with account_id and are guarded by forced row-level security; `scim_token_routes`
is a platform routing table (like `identity_bindings`): token hash → account, no personal data.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import TenantScoped, timestamptz, uuid_pk


def _nullable_ts() -> Any:
    return Field(default=None, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]


class ScimToken(TenantScoped, SQLModel, table=True):
    """A per-account SCIM bearer token, without its value (only its hash is kept, in the routing row)."""

    __tablename__ = "scim_tokens"

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    name: str
    token_prefix: str
    created_by: str = ""
    created_at: datetime = timestamptz()
    last_used_at: datetime | None = _nullable_ts()
    revoked_at: datetime | None = _nullable_ts()


class ScimTokenRoute(SQLModel, table=True):
    """Platform routing row: sha256 of a live SCIM token → its account and token id. Deleted on revocation."""

    __tablename__ = "scim_token_routes"

    token_hash: str = Field(primary_key=True)
    account_id: uuid.UUID = Field(sa_column_kwargs={"nullable": False})
    token_id: uuid.UUID = Field(sa_column_kwargs={"nullable": False})
    created_at: datetime = timestamptz()


class ScimUser(TenantScoped, SQLModel, table=True):
    """The SCIM side of a directory user: its userName, the resource as last written, active, version."""

    __tablename__ = "scim_users"
    __table_args__ = (
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    user_name: str
    document: dict[str, Any] = Field(default_factory=dict, sa_type=pg.JSONB, sa_column_kwargs={"nullable": False})
    active: bool = True
    version: int = 1
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()
    deleted_at: datetime | None = _nullable_ts()


class ScimGroup(TenantScoped, SQLModel, table=True):
    """A SCIM group and the team (and through it the organization) it maps to; null team: unmapped."""

    __tablename__ = "scim_groups"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["account_id", "team_id"], ["teams.account_id", "teams.id"], ondelete="SET NULL (team_id)"
        ),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    display_name: str
    external_id: str | None = None
    team_id: uuid.UUID | None = None
    version: int = 1
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class ScimGroupMember(TenantScoped, SQLModel, table=True):
    """A user's membership in a SCIM group (a user may be in several); joined_at drives the home-team rule."""

    __tablename__ = "scim_group_members"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["account_id", "group_id"], ["scim_groups.account_id", "scim_groups.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    group_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    joined_at: datetime = timestamptz()
    display: str | None = None
