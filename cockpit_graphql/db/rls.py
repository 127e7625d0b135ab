"""DDL helpers used by migrations: tenant row-level security and app-role grants."""

from __future__ import annotations

TENANT_SETTING = "app.account_id"
TENANT_PREDICATE = f"account_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"


def ensure_role_sql(role: str) -> str:
    return (
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
        f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS; '
        "END IF; END $$"
    )


def tenant_table_sql(table: str, role: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> list[str]:
    """Enable and FORCE row-level security on a tenant table and grant the app role its privileges."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})",
        f'GRANT {privileges} ON {table} TO "{role}"',
    ]


def platform_table_sql(table: str, role: str, privileges: str) -> list[str]:
    return [f'GRANT {privileges} ON {table} TO "{role}"']
