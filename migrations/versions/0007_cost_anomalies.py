"""Recorded cost anomalies: the daily job's spikes and pace alerts, listed and acknowledged by admins.

Revision ID: 0007_cost_anomalies
Revises: 0006_unlinked_identities
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0007_cost_anomalies"
down_revision: str | None = "0006_unlinked_identities"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)


def upgrade() -> None:
    role = get_settings().app_db_role
    op.create_table(
        "cost_anomalies",
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("id", UUID, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("dimension", sa.Text, nullable=False),
        sa.Column("dimension_key", sa.Text, nullable=False),
        sa.Column("scope_level", sa.Text, nullable=True),
        sa.Column("scope_id", UUID, nullable=True),
        sa.Column("observed", sa.Numeric(20, 6), nullable=False),
        sa.Column("baseline", sa.Numeric(20, 6), nullable=True),
        sa.Column("deviation", sa.Numeric, nullable=True),
        sa.Column("details", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Text, nullable=True),
        sa.Column("note", sa.Text, nullable=True),
        sa.CheckConstraint("kind IN ('SPIKE', 'PACE')", name="ck_cost_anomalies_kind"),
        # Recording is idempotent: one anomaly per (kind, day, dimension, value), whoever records it.
        sa.UniqueConstraint(
            "account_id", "kind", "day", "dimension", "dimension_key", name="uq_cost_anomalies_natural"
        ),
    )
    # The listing: newest first, keyset on (detected_at, id).
    op.create_index("ix_cost_anomalies_time", "cost_anomalies", ["account_id", "detected_at", "id"])
    # Acknowledged in place (UPDATE); never deleted by the app.
    for statement in tenant_table_sql("cost_anomalies", role, "SELECT, INSERT, UPDATE"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("cost_anomalies")
