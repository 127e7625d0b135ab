"""One statement, one round trip, to resolve a token's identity: `cockpit_identity()`.

Every request resolves its token: the platform operator, the account of (issuer, organization), the
account the subject is bound to, and the linked user of that account. As SQL from the app that was a
transaction of five round trips (BEGIN, the lookup, `set_config`, the user, COMMIT); this function
does the same reads in one statement the app runs outside a transaction. It runs as the caller (the
app role: SECURITY INVOKER), so row-level security applies to the user read exactly as before: the
function sets the tenant to the account it found (transaction-local) and restores the caller's
setting before it returns. It decides nothing: the refusals (no account, ACCOUNT_MISMATCH, a
suspended account, a deactivated user) stay in cockpit_graphql/domain/identity/service.py; it reads
the user only when that account may be entered (an account found, the subject bound to no other
account, not suspended), which is when the app read it before.

Revision ID: 0011_identity_lookup
Revises: 0010_rate_limits
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

from cockpit_graphql.db.rls import TENANT_SETTING

revision: str = "0011_identity_lookup"
down_revision: str | None = "0010_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = f"""
CREATE FUNCTION cockpit_identity(p_issuer text, p_subject text, p_organization text, p_operator boolean)
RETURNS TABLE (
    operator_id uuid, operator_name text,
    account_id uuid, account_status text, rate_limit_capacity integer, rate_limit_refill_per_second double precision,
    bound_account uuid,
    user_id uuid, user_role text, user_display_name text, user_email text, user_deactivated_at timestamptz
)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER
SET search_path = public, pg_temp
AS $$
DECLARE
    caller_tenant text := current_setting('{TENANT_SETTING}', true);
BEGIN
    SELECT o.id, o.display_name, a.id, a.status, a.rate_limit_capacity, a.rate_limit_refill_per_second, b.account_id
      INTO operator_id, operator_name, account_id, account_status, rate_limit_capacity,
           rate_limit_refill_per_second, bound_account
      FROM (SELECT 1) AS one
      LEFT JOIN platform_operators o ON p_operator AND o.issuer = p_issuer AND o.subject = p_subject
      LEFT JOIN accounts a ON p_organization <> '' AND a.sso_issuer = p_issuer AND a.external_org_id = p_organization
      LEFT JOIN identity_bindings b ON b.issuer = p_issuer AND b.subject = p_subject;
    IF operator_id IS NULL AND account_id IS NOT NULL AND account_status <> 'SUSPENDED'
       AND (bound_account IS NULL OR bound_account = account_id) THEN
        PERFORM set_config('{TENANT_SETTING}', account_id::text, true);
        SELECT u.id, u.role, u.display_name, u.email, u.deactivated_at
          INTO user_id, user_role, user_display_name, user_email, user_deactivated_at
          FROM oidc_identities i
          JOIN users u ON u.account_id = i.account_id AND u.id = i.user_id
         WHERE i.account_id = cockpit_identity.account_id AND i.issuer = p_issuer AND i.subject = p_subject;
        PERFORM set_config('{TENANT_SETTING}', coalesce(caller_tenant, ''), true);
    END IF;
    RETURN NEXT;
END
$$
"""


def upgrade() -> None:
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION cockpit_identity(text, text, text, boolean)")
