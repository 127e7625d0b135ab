"""Budgets: plan versions, cycles, caps, counters, reservations, usage events, ledger, settlements.

Revision ID: 0002_budgets
Revises: 0001_foundation
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

from cockpit_graphql.db.rls import tenant_table_sql
from cockpit_graphql.settings import get_settings

revision: str = "0002_budgets"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")
UUID = pg.UUID(as_uuid=True)
CREDITS = sa.Numeric(20, 6)
ZERO = sa.text("0")

LEVELS = "('ACCOUNT', 'ORGANIZATION', 'TEAM', 'USER')"
KINDS = "('GRANT', 'ROLLOVER', 'ADJUSTMENT', 'USAGE', 'OVERFLOW_USAGE', 'EXPIRY', 'SETTLEMENT', 'WRITE_OFF')"


def _keys() -> list[sa.Column]:
    return [sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
            sa.Column("id", UUID, primary_key=True)]


def upgrade() -> None:
    role = get_settings().app_db_role
    op.create_table(
        "budget_plans", *_keys(),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("credits_per_cycle", CREDITS, nullable=False),
        sa.Column("renewal_day", sa.Integer, nullable=False),
        sa.Column("rollover_percent", sa.Numeric(5, 2), nullable=False, server_default=ZERO),
        sa.Column("rollover_cap", CREDITS, nullable=True),
        sa.Column("overflow_policy", sa.Text, nullable=False),
        sa.Column("overflow_cap_credits", CREDITS, nullable=True),
        sa.Column("overflow_usd_per_credit", sa.Numeric(20, 10), nullable=False, server_default=ZERO),
        sa.Column("effective_from", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.UniqueConstraint("account_id", "version", name="uq_budget_plans_version"),
        sa.CheckConstraint("credits_per_cycle >= 0", name="ck_budget_plans_credits"),
        sa.CheckConstraint("renewal_day BETWEEN 1 AND 28", name="ck_budget_plans_renewal_day"),
        sa.CheckConstraint("rollover_percent BETWEEN 0 AND 100", name="ck_budget_plans_rollover"),
        sa.CheckConstraint("rollover_cap IS NULL OR rollover_cap >= 0", name="ck_budget_plans_rollover_cap"),
        sa.CheckConstraint("overflow_policy IN ('BLOCK', 'ALLOW')", name="ck_budget_plans_overflow"),
        sa.CheckConstraint("overflow_cap_credits IS NULL OR overflow_cap_credits >= 0", name="ck_budget_plans_ocap"),
        sa.CheckConstraint("overflow_usd_per_credit >= 0", name="ck_budget_plans_usd"),
    )
    op.create_index("ix_budget_plans_effective", "budget_plans", ["account_id", "effective_from", "version"])
    op.create_table(
        "budget_cycles", *_keys(),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("plan_id", UUID, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="OPEN"),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "plan_id"], ["budget_plans.account_id", "budget_plans.id"]),
        sa.UniqueConstraint("account_id", "starts_at", name="uq_budget_cycles_start"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_budget_cycles_bounds"),
        sa.CheckConstraint("status IN ('OPEN', 'CLOSED')", name="ck_budget_cycles_status"),
    )
    op.create_table(
        "budget_caps",
        sa.Column("account_id", UUID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("scope_level", sa.Text, primary_key=True),
        sa.Column("scope_id", UUID, primary_key=True),
        sa.Column("cap", CREDITS, nullable=True),
        sa.Column("default_user_cap", CREDITS, nullable=True),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint(f"scope_level IN {LEVELS}", name="ck_budget_caps_level"),
        sa.CheckConstraint("cap IS NULL OR cap >= 0", name="ck_budget_caps_cap"),
        sa.CheckConstraint("default_user_cap IS NULL OR default_user_cap >= 0", name="ck_budget_caps_default"),
        sa.CheckConstraint("scope_level <> 'ACCOUNT' OR cap IS NULL", name="ck_budget_caps_account_cap"),
        sa.CheckConstraint("scope_level <> 'USER' OR default_user_cap IS NULL", name="ck_budget_caps_user_default"),
    )
    op.create_table(
        "budget_counters",
        sa.Column("account_id", UUID, primary_key=True),
        sa.Column("cycle_id", UUID, primary_key=True),
        sa.Column("scope_level", sa.Text, primary_key=True),
        sa.Column("scope_id", UUID, primary_key=True),
        sa.Column("spent", CREDITS, nullable=False, server_default=ZERO),
        sa.Column("reserved", CREDITS, nullable=False, server_default=ZERO),
        sa.Column("included", CREDITS, nullable=False, server_default=ZERO),
        sa.Column("overflow", CREDITS, nullable=False, server_default=ZERO),
        sa.ForeignKeyConstraint(["account_id", "cycle_id"], ["budget_cycles.account_id", "budget_cycles.id"]),
        # No CHECK on the totals: INSERT … ON CONFLICT DO UPDATE checks the proposed row (a negative
        # delta) before it finds the conflict. ledgerReconciliation proves the totals instead.
    )
    op.create_table(
        "budget_reservations", *_keys(),
        sa.Column("cycle_id", UUID, nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("organization_id", UUID, nullable=False),
        sa.Column("team_id", UUID, nullable=False),
        sa.Column("credits", CREDITS, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="HELD"),
        sa.Column("agent_id", sa.Text, nullable=True),
        sa.Column("model_id", sa.Text, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "cycle_id"], ["budget_cycles.account_id", "budget_cycles.id"]),
        sa.CheckConstraint("credits > 0", name="ck_budget_reservations_credits"),
        sa.CheckConstraint("status IN ('HELD', 'SETTLED', 'EXPIRED', 'RELEASED')", name="ck_budget_reservations_st"),
    )
    op.create_index("ix_budget_reservations_held", "budget_reservations", ["account_id", "expires_at"],
                    postgresql_where=sa.text("status = 'HELD'"))
    op.create_table(
        "usage_events", *_keys(),
        sa.Column("idempotency_key", sa.Text, nullable=False),
        sa.Column("cycle_id", UUID, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False, server_default=NOW),
        sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("organization_id", UUID, nullable=False),
        sa.Column("team_id", UUID, nullable=False),
        sa.Column("agent_id", sa.Text, nullable=True),
        sa.Column("model_id", sa.Text, nullable=True),
        sa.Column("connection_ids", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("guardrails", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("tokens_in", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("tokens_out", sa.Integer, nullable=False, server_default=ZERO),
        sa.Column("cost_usd", sa.Numeric(20, 10), nullable=False),
        sa.Column("credits_per_usd", CREDITS, nullable=False),
        sa.Column("credits", CREDITS, nullable=False),
        sa.Column("included_credits", CREDITS, nullable=False),
        sa.Column("overflow_credits", CREDITS, nullable=False),
        sa.Column("reservation_id", UUID, nullable=True),
        sa.ForeignKeyConstraint(["account_id", "cycle_id"], ["budget_cycles.account_id", "budget_cycles.id"]),
        sa.UniqueConstraint("account_id", "idempotency_key", name="uq_usage_events_idempotency"),
        sa.CheckConstraint("credits = included_credits + overflow_credits", name="ck_usage_events_split"),
        sa.CheckConstraint("included_credits >= 0 AND overflow_credits >= 0", name="ck_usage_events_parts"),
    )
    op.create_index("ix_usage_events_cycle", "usage_events", ["account_id", "cycle_id"])
    op.create_index("ix_usage_events_time", "usage_events", ["account_id", "occurred_at"])
    op.create_table(
        "ledger_entries", *_keys(),
        sa.Column("cycle_id", UUID, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("amount", CREDITS, nullable=False),
        sa.Column("usage_event_id", UUID, nullable=True),
        sa.Column("settlement_id", UUID, nullable=True),
        sa.Column("counterpart_cycle_id", UUID, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("actor", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "cycle_id"], ["budget_cycles.account_id", "budget_cycles.id"]),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_ledger_entries_kind"),
    )
    op.create_index("ix_ledger_entries_cycle", "ledger_entries", ["account_id", "cycle_id", "kind"])
    # Exactly-once moments, guaranteed by the database whatever the queue does.
    op.create_index("uq_ledger_once_per_cycle", "ledger_entries", ["account_id", "cycle_id", "kind"], unique=True,
                    postgresql_where=sa.text("kind IN ('GRANT', 'EXPIRY', 'SETTLEMENT', 'WRITE_OFF')"))
    op.create_index("uq_ledger_rollover_pair", "ledger_entries",
                    ["account_id", "cycle_id", "kind", "counterpart_cycle_id"], unique=True,
                    postgresql_where=sa.text("kind = 'ROLLOVER'"))
    op.create_index("uq_ledger_usage", "ledger_entries", ["account_id", "usage_event_id", "kind"], unique=True,
                    postgresql_where=sa.text("usage_event_id IS NOT NULL"))
    op.create_table(
        "settlements", *_keys(),
        sa.Column("cycle_id", UUID, nullable=False),
        sa.Column("overflow_credits", CREDITS, nullable=False),
        sa.Column("amount_usd", sa.Numeric(20, 2), nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="PENDING"),
        sa.Column("external_reference", sa.Text, nullable=True),
        sa.Column("write_off_reason", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "cycle_id"], ["budget_cycles.account_id", "budget_cycles.id"]),
        sa.UniqueConstraint("account_id", "cycle_id", name="uq_settlements_cycle"),
        sa.CheckConstraint("status IN ('PENDING', 'INVOICED', 'SETTLED', 'WRITTEN_OFF')", name="ck_settlements_st"),
    )
    op.create_table(
        "settlement_transitions", *_keys(),
        sa.Column("settlement_id", UUID, nullable=False),
        sa.Column("from_status", sa.Text, nullable=True),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("actor", sa.Text, nullable=True),
        sa.Column("at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "settlement_id"], ["settlements.account_id", "settlements.id"]),
    )
    op.create_table(
        "billing_notices", *_keys(),
        sa.Column("cycle_id", UUID, nullable=False),
        sa.Column("scope_level", sa.Text, nullable=False),
        sa.Column("scope_id", UUID, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("details", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.ForeignKeyConstraint(["account_id", "cycle_id"], ["budget_cycles.account_id", "budget_cycles.id"]),
        sa.UniqueConstraint("account_id", "cycle_id", "scope_level", "scope_id", "kind", name="uq_billing_notices"),
    )
    append_only = "SELECT, INSERT"
    for statement in (
        tenant_table_sql("budget_plans", role, append_only)
        + tenant_table_sql("budget_cycles", role, "SELECT, INSERT, UPDATE")
        + tenant_table_sql("budget_caps", role)
        + tenant_table_sql("budget_counters", role, "SELECT, INSERT, UPDATE")
        + tenant_table_sql("budget_reservations", role, "SELECT, INSERT, UPDATE")
        + tenant_table_sql("usage_events", role, append_only)
        + tenant_table_sql("ledger_entries", role, append_only)
        + tenant_table_sql("settlements", role, "SELECT, INSERT, UPDATE")
        + tenant_table_sql("settlement_transitions", role, append_only)
        + tenant_table_sql("billing_notices", role, append_only)
    ):
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "billing_notices", "settlement_transitions", "settlements", "ledger_entries", "usage_events",
        "budget_reservations", "budget_counters", "budget_caps", "budget_cycles", "budget_plans",
    ):
        op.drop_table(table)
