"""Identities that signed in but could not be linked, kept for reconciliation.

Revision ID: 0006_unlinked_identities
Revises: 0005_usage_rollups
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0006_unlinked_identities"
down_revision: str | None = "0005_usage_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "unlinked_identities",
        sa.Column("account_id", pg.UUID(as_uuid=True), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("issuer", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("first_seen_at", TS, nullable=False, server_default=NOW),
        sa.Column("last_seen_at", TS, nullable=False, server_default=NOW),
    )
    op.create_index("ix_unlinked_identities_email", "unlinked_identities", ["account_id", "email"])
    for statement in tenant_table_sql("unlinked_identities", get_settings().app_db_role):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("unlinked_identities")
