"""The history of each account's `creditsPerUsd`: one append-only row per change, holding the factor in
force before it, so a usage event recorded after a change is priced with the factor in force when it
happened (domain.md §2). No backfill: with no change recorded, the account row's factor has always been
in force.

Revision ID: 0015_credit_factor_changes
Revises: 0014_implied_account_keys
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0015_credit_factor_changes"
down_revision: str | None = "0014_implied_account_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_factor_changes",
        sa.Column("account_id", pg.UUID(as_uuid=True), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("previous_credits_per_usd", sa.Numeric(20, 6), nullable=False),
        sa.Column("credits_per_usd", sa.Numeric(20, 6), nullable=False),
    )
    # Append-only: the app role may read and add a change, never rewrite one.
    for statement in tenant_table_sql("credit_factor_changes", get_settings().app_db_role, "SELECT, INSERT"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("credit_factor_changes")
