"""SQLModel tables, one module per domain. Importing this package registers every table."""

from cockpit_graphql.db.tables.audit import AuditEvent
from cockpit_graphql.db.tables.directory import Organization, Team, User
from cockpit_graphql.db.tables.identity import IdentityBinding, OidcIdentity, PlatformOperator
from cockpit_graphql.db.tables.platform import Account

TENANT_TABLES: tuple[str, ...] = ("organizations", "teams", "users", "oidc_identities", "audit_events")
"""Every table that carries account_id and is guarded by a FORCEd row-level-security policy."""

TENANT_MODELS: tuple[type, ...] = (Organization, Team, User, OidcIdentity, AuditEvent)

PLATFORM_TABLES: tuple[str, ...] = ("accounts", "platform_operators", "identity_bindings")

__all__ = [
    "PLATFORM_TABLES",
    "TENANT_MODELS",
    "TENANT_TABLES",
    "Account",
    "AuditEvent",
    "IdentityBinding",
    "OidcIdentity",
    "Organization",
    "PlatformOperator",
    "Team",
    "User",
]
