"""The pool in `cockpit_access_read()` reads only the cycle's pool entries, however long the ledger.

Its pool subquery joined the cycle CTE and named the kinds with an OR, so PostgreSQL's plan read the
(account, cycle, kind) index over every cycle of the account (the cycle was a join, not an index
condition): 0.8 ms of the read at 62,000 ledger entries, growing with the account's whole history. The
query is now ACCESS_READ's text again (cockpit_graphql/domain/budgets/repository.py POOL_ENTRIES: the
cycle as an equality and the kinds as one constant IN list), frozen here like 0012's;
tests/policies/test_access_read.py fails when the two differ, and tests/budgets/test_generic_plans.py
checks the plan. Downgrade puts 0012's function back.

Revision ID: 0013_pool_reads
Revises: 0012_access_read
Create Date: 2026-11-27
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

from cockpit_graphql.db.rls import TENANT_SETTING

revision: str = "0013_pool_reads"
down_revision: str | None = "0012_access_read"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The query of ACCESS_READ with :account_id, :users and :start as p_account, p_users and p_start.
QUERY = """
        WITH pl AS (
            SELECT u.id, u.home_team_id AS team_id, t.organization_id
              FROM users u
              JOIN teams t ON t.account_id = u.account_id AND t.id = u.home_team_id
             WHERE u.account_id = p_account AND u.id = ANY(p_users)
        ), s AS (
            SELECT 'ACCOUNT'::text AS level, CAST(p_account AS uuid) AS id
            UNION SELECT 'ORGANIZATION', organization_id FROM pl
            UNION SELECT 'TEAM', team_id FROM pl
            UNION SELECT 'USER', id FROM pl
        ),
        c AS (
            SELECT id, plan_id FROM budget_cycles WHERE account_id = p_account AND starts_at = p_start
        ), p AS (
            SELECT id, credits_per_cycle, overflow_policy, overflow_cap_credits FROM budget_plans
             WHERE account_id = p_account
               AND (id = (SELECT plan_id FROM c) OR (NOT EXISTS (SELECT 1 FROM c) AND effective_from <= p_start))
             ORDER BY effective_from DESC, version DESC
             LIMIT 1
        )
        SELECT (SELECT coalesce(jsonb_agg(jsonb_build_array(pl.id, pl.team_id, pl.organization_id)), '[]'::jsonb)
                  FROM pl) AS placements,
               a.status,
               a.entitlements,
               (SELECT coalesce(jsonb_agg(jsonb_build_array(ps.scope_level, ps.scope_id, ps.kind, ps.key, ps.value,
                                                            ps.locked)), '[]'::jsonb)
                  FROM policy_settings ps
                 WHERE ps.account_id = a.id
                   AND (ps.scope_level, ps.scope_id) IN (SELECT level, id FROM s))
                 AS settings,
               (SELECT coalesce(jsonb_agg(jsonb_build_array(m.id, m.provider, m.provider_model_id, m.display_name,
                                                        m.capabilities, m.input_usd_per_mtok::text,
                                                        m.output_usd_per_mtok::text, m.enabled, m.deprecated,
                                                        m.created_at, m.updated_at)), '[]'::jsonb)
                  FROM models m WHERE m.enabled) AS catalog,
               (SELECT coalesce(jsonb_agg(to_jsonb(g) ORDER BY g.name, g.id), '[]'::jsonb)
                  FROM guardrails g WHERE g.account_id = a.id) AS guardrails,
               (SELECT id FROM c) AS cycle_id,
               (SELECT credits_per_cycle::text FROM p) AS credits_per_cycle,
               (SELECT overflow_policy FROM p) AS overflow_policy,
               (SELECT overflow_cap_credits::text FROM p) AS overflow_cap,
               (SELECT coalesce(sum(l.amount), 0)::text FROM ledger_entries l
                 WHERE l.account_id = p_account AND l.cycle_id = (SELECT id FROM c)
                   AND l.kind IN ('GRANT', 'ADJUSTMENT', 'ROLLOVER')
                   AND (l.kind <> 'ROLLOVER' OR l.amount > 0)) AS pool,
               (SELECT coalesce(jsonb_agg(jsonb_build_array(b.scope_level, b.scope_id, b.cap::text,
                                                            b.default_user_cap::text)), '[]'::jsonb)
                  FROM budget_caps b JOIN s ON b.scope_level = s.level AND b.scope_id = s.id
                 WHERE b.account_id = p_account) AS caps,
               (SELECT coalesce(jsonb_agg(jsonb_build_array(k.scope_level, k.scope_id, k.spent::text,
                                                            k.reserved::text)), '[]'::jsonb)
                  FROM budget_counters k JOIN c ON k.cycle_id = c.id
                  JOIN s ON k.scope_level = s.level AND k.scope_id = s.id
                 WHERE k.account_id = p_account) AS counters
          FROM accounts a
         WHERE a.id = p_account
"""

FUNCTION = f"""
CREATE OR REPLACE FUNCTION cockpit_access_read(p_account uuid, p_users uuid[], p_start timestamptz)
RETURNS TABLE (
    placements jsonb, status text, entitlements jsonb, settings jsonb, catalog jsonb, guardrails jsonb,
    cycle_id uuid, credits_per_cycle text, overflow_policy text, overflow_cap text, pool text,
    caps jsonb, counters jsonb
)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    caller_tenant text := current_setting('{TENANT_SETTING}', true);
BEGIN
    PERFORM set_config('{TENANT_SETTING}', p_account::text, true);
    RETURN QUERY
{QUERY};
    PERFORM set_config('{TENANT_SETTING}', coalesce(caller_tenant, ''), true);
END
$$
"""


def _previous_function() -> str:
    """0012's CREATE FUNCTION, as that migration wrote it (made a CREATE OR REPLACE)."""
    spec = importlib.util.spec_from_file_location("access_read_0012", Path(__file__).with_name("0012_access_read.py"))
    assert spec is not None and spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    return str(previous.FUNCTION).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute(_previous_function())
