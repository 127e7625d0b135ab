"""Policies: the platform model catalog and its audit trail, guardrail definitions, policy settings.

Revision ID: 0003_policies
Revises: 0002_budgets
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import platform_table_sql, tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0003_policies"
down_revision: str | None = "0002_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")
UUID = pg.UUID(as_uuid=True)
PRICE = sa.Numeric(20, 10)

LEVELS = "('ACCOUNT', 'ORGANIZATION', 'TEAM', 'USER')"
KINDS = "('MODEL_ACCESS', 'FLAG', 'GUARDRAIL', 'CONNECTION_MODE')"


def upgrade() -> None:
    role = get_settings().app_db_role
    op.create_table(
        "models",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("provider", sa.Text, nullable=False),
        sa.Column("provider_model_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("capabilities", pg.ARRAY(sa.Text), nullable=False),
        sa.Column("input_usd_per_mtok", PRICE, nullable=False, server_default=sa.text("0")),
        sa.Column("output_usd_per_mtok", PRICE, nullable=False, server_default=sa.text("0")),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("deprecated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.UniqueConstraint("provider", "provider_model_id", name="uq_models_provider_model"),
        sa.CheckConstraint("cardinality(capabilities) > 0", name="ck_models_capabilities"),
        sa.CheckConstraint("input_usd_per_mtok >= 0 AND output_usd_per_mtok >= 0", name="ck_models_prices"),
    )
    op.create_table(
        "platform_audit_events",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("occurred_at", TS, nullable=False, server_default=NOW),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("actor_type", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=True),
        sa.Column("actor_label", sa.Text, nullable=False, server_default=""),
        sa.Column("target_type", sa.Text, nullable=False),
        sa.Column("target_id", sa.Text, nullable=True),
        sa.Column("diff", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("request_id", sa.Text, nullable=True),
    )
    op.create_index("ix_platform_audit_events_time", "platform_audit_events", ["occurred_at", "id"])
    op.create_table(
        "guardrails",
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("config", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.UniqueConstraint("account_id", "name", name="uq_guardrails_name"),
        sa.CheckConstraint("mode IN ('BLOCK', 'REDACT', 'MONITOR')", name="ck_guardrails_mode"),
    )
    op.create_table(
        "policy_settings",
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("scope_level", sa.Text, primary_key=True),
        sa.Column("scope_id", UUID, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("locked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint(f"scope_level IN {LEVELS}", name="ck_policy_settings_level"),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_policy_settings_kind"),
    )
    for statement in (
        platform_table_sql("models", role, "SELECT, INSERT, UPDATE, DELETE")
        + platform_table_sql("platform_audit_events", role, "SELECT, INSERT")
        + tenant_table_sql("guardrails", role)
        + tenant_table_sql("policy_settings", role)
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in ("policy_settings", "guardrails", "platform_audit_events", "models"):
        op.drop_table(table)
