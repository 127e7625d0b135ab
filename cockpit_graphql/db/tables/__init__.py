"""SQLModel tables, one module per domain. Importing this package registers every table."""

import sqlalchemy as sa

from cockpit_graphql.db.tables.audit import AuditEvent
from cockpit_graphql.db.tables.budgets import (
    BillingNotice,
    BudgetCap,
    BudgetCounter,
    BudgetCycle,
    BudgetPlan,
    CreditFactorChange,
    LedgerEntry,
    Reservation,
    Settlement,
    SettlementTransition,
    UsageEvent,
)
from cockpit_graphql.db.tables.common import TenantScoped
from cockpit_graphql.db.tables.directory import EndedPlacement, Organization, Team, User
from cockpit_graphql.db.tables.identity import IdentityBinding, OidcIdentity, PlatformOperator, UnlinkedIdentity
from cockpit_graphql.db.tables.marketplace import (
    Agent,
    AgentAssignment,
    AgentInstall,
    AgentVersion,
    Connection,
    ConnectionAssignment,
)
from cockpit_graphql.db.tables.observability import (
    CostAnomaly,
    UsageDaily,
    UsageDailyModel,
    UsageDailyTag,
    UsageDailyTeam,
)
from cockpit_graphql.db.tables.platform import Account
from cockpit_graphql.db.tables.policies import CatalogModel, GuardrailDefinition, PlatformAuditEvent, PolicySetting
from cockpit_graphql.db.tables.scim import ScimGroup, ScimGroupMember, ScimToken, ScimTokenRoute, ScimUser

TENANT_TABLES: tuple[str, ...] = (
    "organizations",
    "teams",
    "users",
    "ended_placements",
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
    "credit_factor_changes",
    "guardrails",
    "policy_settings",
    "unlinked_identities",
    "connections",
    "connection_assignments",
    "agents",
    "agent_versions",
    "agent_assignments",
    "agent_installs",
    "usage_daily",
    "usage_daily_teams",
    "usage_daily_models",
    "usage_daily_tags",
    "cost_anomalies",
    "scim_tokens",
    "scim_users",
    "scim_groups",
    "scim_group_members",
)
"""Every table that carries account_id and is guarded by a FORCEd row-level-security policy."""

# What the account filter's lambda reads while SQLAlchemy analyses it against the TenantScoped base
# (db/engine.py); each mapped model's own `account_id` column stands in when a statement is compiled.
# Set only now that every model is defined: on the mixin at definition time, pydantic and declarative
# would warn that each model's field shadows it.
TenantScoped.account_id = sa.literal_column("account_id")  # type: ignore[attr-defined]

TENANT_MODELS: tuple[type, ...] = (
    Organization,
    Team,
    User,
    EndedPlacement,
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
    CreditFactorChange,
    GuardrailDefinition,
    PolicySetting,
    UnlinkedIdentity,
    Connection,
    ConnectionAssignment,
    Agent,
    AgentVersion,
    AgentAssignment,
    AgentInstall,
    UsageDaily,
    UsageDailyTeam,
    UsageDailyModel,
    UsageDailyTag,
    CostAnomaly,
    ScimToken,
    ScimUser,
    ScimGroup,
    ScimGroupMember,
)

PLATFORM_TABLES: tuple[str, ...] = (
    "accounts",
    "platform_operators",
    "identity_bindings",
    "models",
    "platform_audit_events",
    "scim_token_routes",
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
    "CostAnomaly",
    "CreditFactorChange",
    "EndedPlacement",
    "GuardrailDefinition",
    "IdentityBinding",
    "LedgerEntry",
    "OidcIdentity",
    "Organization",
    "PlatformAuditEvent",
    "PlatformOperator",
    "PolicySetting",
    "Reservation",
    "ScimGroup",
    "ScimGroupMember",
    "ScimToken",
    "ScimTokenRoute",
    "ScimUser",
    "Settlement",
    "SettlementTransition",
    "Team",
    "UnlinkedIdentity",
    "UsageDaily",
    "UsageDailyModel",
    "UsageDailyTag",
    "UsageDailyTeam",
    "UsageEvent",
    "User",
]
