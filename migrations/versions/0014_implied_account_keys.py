"""Usage events, ledger entries, billing notices and reservations name their account through their cycle.

Each of these tables had two foreign keys: (account_id, cycle_id) → budget_cycles(account_id, id), and
account_id → accounts(id). The first implies the second (a cycle's account_id references accounts), so
the second refused nothing the first lets through, while it ran a check per inserted row — a lookup
of the account row FOR KEY SHARE. For a 1,000-event batch that was 4.9 ms on the usage events and
4.7 ms on the ledger entries (EXPLAIN ANALYZE of each insert on the bench database), all under the
account's budget mutex. The cycle keys stay; tests/budgets/test_cycle_keys.py proves that a row whose
(account, cycle) pair does not exist is still refused, for every table named here.

Revision ID: 0014_implied_account_keys
Revises: 0013_pool_reads
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_implied_account_keys"
down_revision: str | None = "0013_pool_reads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("usage_events", "ledger_entries", "billing_notices", "budget_reservations")


def upgrade() -> None:
    for table in TABLES:
        op.drop_constraint(f"{table}_account_id_fkey", table, type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        op.create_foreign_key(f"{table}_account_id_fkey", table, "accounts", ["account_id"], ["id"])
