"""The placements users left: one append-only row per user and change of home team or of its team's
organization, holding the placement that ended, so usage recorded after a move keeps the placement it
had when it happened (domain.md §1). No backfill: with no row, a user has always been where they are.

Revision ID: 0016_ended_placements
Revises: 0015_credit_factor_changes
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0016_ended_placements"
down_revision: str | None = "0015_credit_factor_changes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ended_placements",
        sa.Column("account_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("team_id", pg.UUID(as_uuid=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id", "user_id"], ["users.account_id", "users.id"], ondelete="CASCADE"),
    )
    # Append-only: the app role may read and add an ended placement, never rewrite one; a user's rows go
    # with the user (the foreign key's cascade).
    for statement in tenant_table_sql("ended_placements", get_settings().app_db_role, "SELECT, INSERT"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("ended_placements")
