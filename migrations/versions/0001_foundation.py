"""Foundation: accounts, platform operators, directory, identities, audit; RLS and the app role.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import ensure_role_sql, platform_table_sql, tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, TS, nullable=nullable, server_default=None if nullable else NOW)


def upgrade() -> None:
    role = get_settings().app_db_role
    op.execute(ensure_role_sql(role))
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')

    op.create_table(
        "accounts",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="ACTIVE"),
        sa.Column("external_org_id", sa.Text, nullable=False),
        sa.Column("sso_issuer", sa.Text, nullable=False),
        sa.Column("sso_allowed_email_domains", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("jit_enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("jit_default_role", sa.Text, nullable=False, server_default="MEMBER"),
        sa.Column("credits_per_usd", sa.Numeric(20, 6), nullable=False, server_default="1000"),
        sa.Column("entitlements", pg.JSONB, nullable=False, server_default="{}"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("sso_issuer", "external_org_id", name="uq_accounts_issuer_org"),
        sa.CheckConstraint("status IN ('ACTIVE', 'SUSPENDED')", name="ck_accounts_status"),
        sa.CheckConstraint("jit_default_role IN ('ACCOUNT_ADMIN', 'MEMBER')", name="ck_accounts_jit_role"),
        sa.CheckConstraint("credits_per_usd > 0", name="ck_accounts_credits_per_usd"),
    )
    op.create_table(
        "platform_operators",
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        _ts("created_at"),
        sa.UniqueConstraint("issuer", "subject", name="uq_platform_operators_issuer_subject"),
    )
    op.create_table(
        "identity_bindings",
        sa.Column("issuer", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("account_id", pg.UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "organizations",
        sa.Column("account_id", pg.UUID(as_uuid=True), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("account_id", "name", name="uq_organizations_name"),
    )
    op.create_index(
        "uq_organizations_default",
        "organizations",
        ["account_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "teams",
        sa.Column("account_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["account_id", "organization_id"], ["organizations.account_id", "organizations.id"]),
        sa.UniqueConstraint("account_id", "organization_id", "name", name="uq_teams_name"),
    )
    op.create_index("uq_teams_default", "teams", ["account_id"], unique=True, postgresql_where=sa.text("is_default"))
    op.create_index("ix_teams_org_name", "teams", ["account_id", "organization_id", "name", "id"])
    op.create_table(
        "users",
        sa.Column("account_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("home_team_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        sa.Column("role", sa.Text, nullable=False, server_default="MEMBER"),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("last_seen_in_idp_at", TS, nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(["account_id", "home_team_id"], ["teams.account_id", "teams.id"]),
        sa.UniqueConstraint("account_id", "email", name="uq_users_email"),
        sa.CheckConstraint("role IN ('ACCOUNT_ADMIN', 'MEMBER')", name="ck_users_role"),
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
    )
    op.create_index(
        "uq_users_external_id",
        "users",
        ["account_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_index("ix_users_team_email", "users", ["account_id", "home_team_id", "email", "id"])
    op.create_table(
        "oidc_identities",
        sa.Column("account_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=True),
        _ts("linked_at"),
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("account_id", "issuer", "subject", name="uq_oidc_identities_subject"),
    )
    op.create_index("ix_oidc_identities_user", "oidc_identities", ["account_id", "user_id"])
    op.create_table(
        "audit_events",
        sa.Column("account_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("id", pg.UUID(as_uuid=True), primary_key=True),
        _ts("occurred_at"),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor_type", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=True),
        sa.Column("actor_label", sa.Text, nullable=False, server_default=""),
        sa.Column("target_type", sa.Text, nullable=False),
        sa.Column("target_id", sa.Text, nullable=True),
        sa.Column("diff", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("request_id", sa.Text, nullable=True),
    )
    op.create_index("ix_audit_events_time", "audit_events", ["account_id", "occurred_at", "id"])

    for statement in (
        platform_table_sql("accounts", role, "SELECT, INSERT, UPDATE")
        + platform_table_sql("platform_operators", role, "SELECT")
        + platform_table_sql("identity_bindings", role, "SELECT, INSERT, DELETE")
        + tenant_table_sql("organizations", role)
        + tenant_table_sql("teams", role)
        + tenant_table_sql("users", role)
        + tenant_table_sql("oidc_identities", role)
        + tenant_table_sql("audit_events", role, "SELECT, INSERT")
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "audit_events",
        "oidc_identities",
        "users",
        "teams",
        "organizations",
        "identity_bindings",
        "platform_operators",
        "accounts",
    ):
        op.drop_table(table)
