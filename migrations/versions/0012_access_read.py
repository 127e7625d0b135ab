"""The runtime's one read as one function call outside a transaction: `cockpit_access_read()`.

effectiveAccess reads the users' placements, the policy inputs of their chains and the budget snapshot
in one statement (cockpit_graphql/domain/policies/access_read.py). Run in a tenant transaction that is
five round trips (BEGIN, `set_config`, the read, COMMIT, and authentication's own); each costs ~5 % of a
worker's CPU on the development machine (docs/performance.md). This function runs the same statement
as the caller (SECURITY INVOKER: row-level security applies), with the tenant set to the account asked
about for that statement only and the caller's setting restored, so the app runs it on an autocommit
connection: one round trip. It decides nothing. Its query is that statement's text, frozen here:
tests/policies/test_access_read.py fails when the Python statement changes without a new migration.

Revision ID: 0012_access_read
Revises: 0011_identity_lookup
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

from cockpit_graphql.db.rls import TENANT_SETTING

revision: str = "0012_access_read"
down_revision: str | None = "0011_identity_lookup"
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
               (SELECT coalesce(sum(l.amount), 0)::text FROM ledger_entries l JOIN c ON l.cycle_id = c.id
                 WHERE l.account_id = p_account
                   AND (l.kind IN ('GRANT', 'ADJUSTMENT') OR (l.kind = 'ROLLOVER' AND l.amount > 0))) AS pool,
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
CREATE FUNCTION cockpit_access_read(p_account uuid, p_users uuid[], p_start timestamptz)
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


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION cockpit_access_read(uuid, uuid[], timestamptz)")
