"""Connections, agents, their versions, assignments and installs.

Revision ID: 0004_marketplace
Revises: 0003_policies
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0004_marketplace"
down_revision: str | None = "0003_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")
UUID = pg.UUID(as_uuid=True)
LEVELS = "('ACCOUNT', 'ORGANIZATION', 'TEAM', 'USER')"


def _account() -> sa.Column:
    return sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True)


def upgrade() -> None:
    role = get_settings().app_db_role
    op.create_table(
        "connections", _account(),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("config", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("secret_ciphertext", sa.Text, nullable=True),
        sa.Column("secret_updated_at", TS, nullable=True),
        sa.Column("owner_user_id", UUID, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "owner_user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index(  # admin connections: unique names; personal ones: unique per owner
        "uq_connections_name", "connections", ["account_id", sa.text("coalesce(owner_user_id, account_id)"),
                                               sa.text("lower(name)")], unique=True,
    )
    op.create_table(
        "connection_assignments", _account(),
        sa.Column("connection_id", UUID, primary_key=True),
        sa.Column("scope_level", sa.Text, primary_key=True),
        sa.Column("scope_id", UUID, primary_key=True),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "connection_id"], ["connections.account_id", "connections.id"],
                                ondelete="CASCADE"),
        sa.CheckConstraint(f"scope_level IN {LEVELS}", name="ck_connection_assignments_level"),
    )
    op.create_index("ix_connection_assignments_scope", "connection_assignments",
                    ["account_id", "scope_level", "scope_id"])
    op.create_table(
        "agents", _account(),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("category", sa.Text, nullable=True),
        sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("instructions", sa.Text, nullable=False, server_default=""),
        sa.Column("model_id", UUID, nullable=True),
        sa.Column("connection_ids", pg.ARRAY(UUID), nullable=False, server_default="{}"),
        sa.Column("guardrail_overrides", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("owner_level", sa.Text, nullable=False),
        sa.Column("owner_id", UUID, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="DRAFT"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint(f"owner_level IN {LEVELS}", name="ck_agents_owner_level"),
        sa.CheckConstraint("status IN ('DRAFT', 'PUBLISHED', 'ARCHIVED')", name="ck_agents_status"),
    )
    op.create_index("ix_agents_owner", "agents", ["account_id", "owner_level", "owner_id"])
    op.create_table(
        "agent_versions", _account(),
        sa.Column("agent_id", UUID, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("snapshot", pg.JSONB, nullable=False),
        sa.Column("actor", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "agent_id"], ["agents.account_id", "agents.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "agent_assignments", _account(),
        sa.Column("agent_id", UUID, primary_key=True),
        sa.Column("scope_level", sa.Text, primary_key=True),
        sa.Column("scope_id", UUID, primary_key=True),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "agent_id"], ["agents.account_id", "agents.id"], ondelete="CASCADE"),
        sa.CheckConstraint(f"scope_level IN {LEVELS}", name="ck_agent_assignments_level"),
        sa.CheckConstraint("mode IN ('AVAILABLE', 'INSTALLED')", name="ck_agent_assignments_mode"),
    )
    op.create_index("ix_agent_assignments_scope", "agent_assignments", ["account_id", "scope_level", "scope_id"])
    op.create_table(
        "agent_installs", _account(),
        sa.Column("agent_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("installed_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "agent_id"], ["agents.account_id", "agents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_agent_installs_user", "agent_installs", ["account_id", "user_id"])
    for statement in (
        tenant_table_sql("connections", role)
        + tenant_table_sql("connection_assignments", role)
        + tenant_table_sql("agents", role)
        + tenant_table_sql("agent_versions", role, "SELECT, INSERT")
        + tenant_table_sql("agent_assignments", role)
        + tenant_table_sql("agent_installs", role)
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "agent_installs", "agent_assignments", "agent_versions", "agents", "connection_assignments", "connections",
    ):
        op.drop_table(table)
