"""SQLModel tables, one module per domain. Importing this package registers every table."""

from cockpit_graphql.db.tables.audit import AuditEvent
from cockpit_graphql.db.tables.budgets import (
    BillingNotice,
    BudgetCap,
    BudgetCounter,
    BudgetCycle,
    BudgetPlan,
    LedgerEntry,
    Reservation,
    Settlement,
    SettlementTransition,
    UsageEvent,
)
from cockpit_graphql.db.tables.directory import Organization, Team, User
from cockpit_graphql.db.tables.identity import IdentityBinding, OidcIdentity, PlatformOperator
from cockpit_graphql.db.tables.marketplace import (
    Agent,
    AgentAssignment,
    AgentInstall,
    AgentVersion,
    Connection,
    ConnectionAssignment,
)
from cockpit_graphql.db.tables.platform import Account
from cockpit_graphql.db.tables.policies import CatalogModel, GuardrailDefinition, PlatformAuditEvent, PolicySetting

TENANT_TABLES: tuple[str, ...] = (
    "organizations",
    "teams",
    "users",
    "oidc_identities",
    "audit_events",
    "budget_plans",
    "budget_cycles",
    "budget_caps",
    "budget_counters",
    "budget_reservations",
    "usage_events",
    "ledger_entries",
    "settlements",
    "settlement_transitions",
    "billing_notices",
    "guardrails",
    "policy_settings",
    "connections",
    "connection_assignments",
    "agents",
    "agent_versions",
    "agent_assignments",
    "agent_installs",
)
"""Every table that carries account_id and is guarded by a FORCEd row-level-security policy."""

TENANT_MODELS: tuple[type, ...] = (
    Organization,
    Team,
    User,
    OidcIdentity,
    AuditEvent,
    BudgetPlan,
    BudgetCycle,
    BudgetCap,
    BudgetCounter,
    Reservation,
    UsageEvent,
    LedgerEntry,
    Settlement,
    SettlementTransition,
    BillingNotice,
    GuardrailDefinition,
    PolicySetting,
    Connection,
    ConnectionAssignment,
    Agent,
    AgentVersion,
    AgentAssignment,
    AgentInstall,
)

PLATFORM_TABLES: tuple[str, ...] = (
    "accounts",
    "platform_operators",
    "identity_bindings",
    "models",
    "platform_audit_events",
)

__all__ = [
    "PLATFORM_TABLES",
    "TENANT_MODELS",
    "TENANT_TABLES",
    "Account",
    "Agent",
    "AgentAssignment",
    "AgentInstall",
    "AgentVersion",
    "AuditEvent",
    "BillingNotice",
    "BudgetCap",
    "BudgetCounter",
    "BudgetCycle",
    "BudgetPlan",
    "CatalogModel",
    "Connection",
    "ConnectionAssignment",
    "GuardrailDefinition",
    "IdentityBinding",
    "LedgerEntry",
    "OidcIdentity",
    "Organization",
    "PlatformAuditEvent",
    "PlatformOperator",
    "PolicySetting",
    "Reservation",
    "Settlement",
    "SettlementTransition",
    "Team",
    "UsageEvent",
    "User",
]
