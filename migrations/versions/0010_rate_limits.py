"""Per-account rate limit overrides: a token bucket (capacity in query cost units, refill per second)
that a super admin may set on an account; NULL in both columns means the settings' defaults.

Revision ID: 0010_rate_limits
Revises: 0009_rollup_grains
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_rate_limits"
down_revision: str | None = "0009_rollup_grains"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Read with the account when a token is resolved (no extra statement per request).
    op.add_column("accounts", sa.Column("rate_limit_capacity", sa.Integer, nullable=True))
    op.add_column("accounts", sa.Column("rate_limit_refill_per_second", sa.Float, nullable=True))
    op.create_check_constraint(
        "ck_accounts_rate_limit",
        "accounts",
        "(rate_limit_capacity IS NULL AND rate_limit_refill_per_second IS NULL) OR "
        "(rate_limit_capacity > 0 AND rate_limit_refill_per_second > 0)",
    )


def downgrade() -> None:
    op.drop_constraint("ck_accounts_rate_limit", "accounts", type_="check")
    op.drop_column("accounts", "rate_limit_refill_per_second")
    op.drop_column("accounts", "rate_limit_capacity")
