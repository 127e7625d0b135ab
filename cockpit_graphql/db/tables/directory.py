"""Directory tables: organizations, teams, users. Keys and indexes lead with account_id."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import TenantScoped, timestamptz, uuid_pk


class Organization(TenantScoped, SQLModel, table=True):
    __tablename__ = "organizations"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "name", name="uq_organizations_name"),
        sa.Index("uq_organizations_default", "account_id", unique=True, postgresql_where=sa.text("is_default")),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    name: str
    is_default: bool = False
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class Team(TenantScoped, SQLModel, table=True):
    __tablename__ = "teams"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "organization_id", "name", name="uq_teams_name"),
        sa.ForeignKeyConstraint(["account_id", "organization_id"], ["organizations.account_id", "organizations.id"]),
        sa.Index("uq_teams_default", "account_id", unique=True, postgresql_where=sa.text("is_default")),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    organization_id: uuid.UUID
    name: str
    is_default: bool = False
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class User(TenantScoped, SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        # Unique per account except the empty email of a SCIM user sent without one (migration 0008).
        sa.Index("uq_users_email", "account_id", "email", unique=True, postgresql_where=sa.text("email <> ''")),
        sa.Index(
            "uq_users_external_id",
            "account_id",
            "external_id",
            unique=True,
            postgresql_where=sa.text("external_id IS NOT NULL"),
        ),
        sa.ForeignKeyConstraint(["account_id", "home_team_id"], ["teams.account_id", "teams.id"]),
        sa.Index("ix_users_team_email", "account_id", "home_team_id", "email", "id"),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    home_team_id: uuid.UUID
    email: str
    display_name: str = ""
    role: str = "MEMBER"
    external_id: str | None = None
    last_seen_in_idp_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
    )
    deactivated_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),  # type: ignore[call-overload]
    )
    created_at: datetime = timestamptz()
    updated_at: datetime = timestamptz()


class EndedPlacement(TenantScoped, SQLModel, table=True):
    """A placement a user left (append-only): until `ended_at` the user's home team was `team_id`, in
    `organization_id`. Written by every change of a placement (a user or a team moved, a team or an
    organization deleted with `moveMembersTo`), so usage recorded after a move is placed where it happened
    (domain.md §1). With no row, a user has always been where they are now."""

    __tablename__ = "ended_placements"
    __table_args__ = (
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    ended_at: datetime = Field(primary_key=True, sa_type=sa.DateTime(timezone=True))  # type: ignore[call-overload]
    organization_id: uuid.UUID
    team_id: uuid.UUID
