"""Identity tables: platform operators, the subject routing table, and per-account OIDC identities."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from cockpit_graphql.db.tables.common import TenantScoped, timestamptz, uuid_pk


class PlatformOperator(SQLModel, table=True):
    """A super admin, recognised by (issuer, subject) of an allow-listed platform issuer."""

    __tablename__ = "platform_operators"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject", name="uq_platform_operators_issuer_subject"),)

    id: uuid.UUID = uuid_pk()
    issuer: str
    subject: str
    display_name: str = ""
    created_at: datetime = timestamptz()


class IdentityBinding(SQLModel, table=True):
    """Platform routing row: which account an OIDC subject is linked in. Holds no personal data.

    It lets the identity layer detect ACCOUNT_MISMATCH (a subject linked in account B presenting a
    token that resolves to account A) without reading across tenants under row-level security.
    """

    __tablename__ = "identity_bindings"

    issuer: str = Field(primary_key=True)
    subject: str = Field(primary_key=True)
    account_id: uuid.UUID = Field(sa_column_kwargs={"nullable": False})
    created_at: datetime = timestamptz()


class OidcIdentity(TenantScoped, SQLModel, table=True):
    """A user's link to an (issuer, subject) pair: tenant data."""

    __tablename__ = "oidc_identities"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "issuer", "subject", name="uq_oidc_identities_subject"),
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
        sa.Index("ix_oidc_identities_user", "account_id", "user_id"),
    )

    account_id: uuid.UUID = Field(primary_key=True)
    id: uuid.UUID = uuid_pk()
    user_id: uuid.UUID
    issuer: str
    subject: str
    email: str | None = None
    linked_at: datetime = timestamptz()


class UnlinkedIdentity(TenantScoped, SQLModel, table=True):
    """An identity that signed in to this account but could not be linked to a user (no user with
    its email yet, email not verified, domain not allowed, ambiguous). Kept so that an admin can
    reconcile it later (`reconcileIdentities`) instead of the sign-in being forgotten."""

    __tablename__ = "unlinked_identities"

    account_id: uuid.UUID = Field(primary_key=True)
    issuer: str = Field(primary_key=True)
    subject: str = Field(primary_key=True)
    email: str | None = None
    email_verified: bool = False
    reason: str
    attempts: int = 1
    first_seen_at: datetime = timestamptz()
    last_seen_at: datetime = timestamptz()
