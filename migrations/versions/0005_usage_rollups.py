"""Daily usage rollups for cost attribution: additive groupings and connection/guardrail tags.

Revision ID: 0005_usage_rollups
Revises: 0004_marketplace
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0005_usage_rollups"
down_revision: str | None = "0004_marketplace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)


def _account() -> sa.Column:
    return sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True)


def _amounts() -> list[sa.Column]:
    return [
        sa.Column("events", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("credits", sa.Numeric(20, 6), nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Numeric(20, 10), nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    role = get_settings().app_db_role
    # One row per (UTC day of occurred_at, placement snapshot, agent, model): additive groupings.
    # No foreign keys to the directory: a snapshot outlives the user, team or organization it names.
    op.create_table(
        "usage_daily",
        _account(),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("organization_id", UUID, primary_key=True),
        sa.Column("team_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("agent_key", sa.Text, primary_key=True, server_default=""),
        sa.Column("model_key", sa.Text, primary_key=True, server_default=""),
        *_amounts(),
    )
    # One row per (day, CONNECTION or GUARDRAIL, tag): an event counts whole under each tag it names.
    op.create_table(
        "usage_daily_tags",
        _account(),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("tag", sa.Text, primary_key=True),
        *_amounts(),
        sa.CheckConstraint("kind IN ('CONNECTION', 'GUARDRAIL')", name="ck_usage_daily_tags_kind"),
    )
    # Derived data, rebuilt by zeroing and upserting (rollups.rebuild_rollups): no DELETE needed.
    # The raw reads (today's part, rebuilds) use ix_usage_events_time (account_id, occurred_at).
    for statement in tenant_table_sql("usage_daily", role, "SELECT, INSERT, UPDATE") + tenant_table_sql(
        "usage_daily_tags", role, "SELECT, INSERT, UPDATE"
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in ("usage_daily_tags", "usage_daily"):
        op.drop_table(table)
