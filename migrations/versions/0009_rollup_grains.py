"""Coarse daily rollup grains for cost breakdowns: day × organization × team, and day × agent × model.

Both are exact sums of `usage_daily` (rollups.py keeps all of them in one write-path statement); they
exist because a month of a large tenant is ~1.3 M full-grain rows and a breakdown by team or by model
needs only a few thousand. Existing full-grain rows are summed into them here, account by account (the
tables are FORCE row-level security, which applies to the owner too unless it is a superuser).

Revision ID: 0009_rollup_grains
Revises: 0008_scim
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import TENANT_SETTING, tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0009_rollup_grains"
down_revision: str | None = "0008_scim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
GRAINS = {
    "usage_daily_teams": ("organization_id", "team_id"),
    "usage_daily_models": ("agent_key", "model_key"),
}


def _key(name: str) -> sa.Column:
    if name.endswith("_id"):
        return sa.Column(name, UUID, primary_key=True)
    return sa.Column(name, sa.Text, primary_key=True, server_default="")


def upgrade() -> None:
    role = get_settings().app_db_role
    for table, keys in GRAINS.items():
        op.create_table(
            table,
            sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
            sa.Column("day", sa.Date, primary_key=True),
            *(_key(k) for k in keys),
            sa.Column("events", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("credits", sa.Numeric(20, 6), nullable=False, server_default="0"),
            sa.Column("cost_usd", sa.Numeric(20, 10), nullable=False, server_default="0"),
        )
        for statement in tenant_table_sql(table, role, "SELECT, INSERT, UPDATE"):
            op.execute(statement)
    bind = op.get_bind()
    for (account,) in bind.execute(sa.text("SELECT id FROM accounts")).all():
        bind.execute(sa.text(f"SELECT set_config('{TENANT_SETTING}', :a, true)"), {"a": str(account)})
        for table, keys in GRAINS.items():
            cols = ", ".join(("account_id", "day", *keys))
            bind.execute(
                sa.text(
                    f"INSERT INTO {table} ({cols}, events, credits, cost_usd) "
                    f"SELECT {cols}, sum(events), sum(credits), sum(cost_usd) FROM usage_daily "
                    f"WHERE account_id = :a GROUP BY {cols}"
                ),
                {"a": account},
            )


def downgrade() -> None:
    for table in GRAINS:
        op.drop_table(table)
