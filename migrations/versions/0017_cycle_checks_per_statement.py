"""Usage events and ledger entries: the check that each row names a cycle of its own account runs once
per statement instead of once per row.

A foreign key checks every inserted row with a lookup of its cycle FOR KEY SHARE: for a 1,000-event
batch that is 1,000 lookups on the events and 1,000 on their ledger entries, all of the same cycle or
two (~4.7–4.9 ms of PostgreSQL each per 1,000 rows, measured for the account keys migration 0014
dropped). Here an AFTER INSERT … FOR EACH STATEMENT trigger looks at the statement's new rows once and
refuses the statement with the foreign-key SQLSTATE (23503) when any of them names an (account, cycle)
pair that does not exist: what the key refused, it refuses. What the key also did, keep a cycle from
being deleted or re-keyed under its rows, nothing needs: no code path deletes a cycle or changes its
key, and the app role may not delete one (migration 0002 grants it SELECT, INSERT, UPDATE on
budget_cycles; updates touch the status and close columns only). Billing notices and reservations keep
their keys (a few rows per call). tests/budgets/test_cycle_keys.py proves every table still refuses a
row of another account's cycle or of no account.

The function runs as the inserting role: for the app role, row-level security shows it the cycles of
the transaction's account, which are the only ones its rows may name anyway.

Revision ID: 0017_cycle_checks_per_statement
Revises: 0016_ended_placements
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_cycle_checks_per_statement"
down_revision: str | None = "0016_ended_placements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("usage_events", "ledger_entries")

CHECK_FUNCTION = """
CREATE FUNCTION cockpit_rows_name_their_cycle() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM new_rows n
         WHERE NOT EXISTS (SELECT 1 FROM budget_cycles c WHERE c.account_id = n.account_id AND c.id = n.cycle_id)
    ) THEN
        RAISE EXCEPTION 'insert on % names a budget cycle that does not exist for its account', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute(CHECK_FUNCTION)
    for table in TABLES:
        op.drop_constraint(f"{table}_account_id_cycle_id_fkey", table, type_="foreignkey")
        op.execute(
            f"CREATE TRIGGER {table}_name_their_cycle AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cockpit_rows_name_their_cycle()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_name_their_cycle ON {table}")
        op.create_foreign_key(
            f"{table}_account_id_cycle_id_fkey",
            table,
            "budget_cycles",
            ["account_id", "cycle_id"],
            ["account_id", "id"],
        )
    op.execute("DROP FUNCTION cockpit_rows_name_their_cycle()")
