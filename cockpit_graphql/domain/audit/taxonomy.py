"""The closed audit taxonomy: `<module>.<entity>.<verb>`. Nothing outside this enum can be written."""

from __future__ import annotations

import re
from enum import StrEnum

MODULES = (
    "directory",
    "identity",
    "budgets",
    "models",
    "policies",
    "guardrails",
    "connections",
    "agents",
    "marketplace",
    "observability",
)
_PATTERN = re.compile(r"^(?P<module>[a-z]+)\.(?P<entity>[a-z_]+)\.(?P<verb>[a-z_]+)$")


class AuditAction(StrEnum):
    ACCOUNT_CREATED = "directory.account.created"
    ACCOUNT_UPDATED = "directory.account.updated"
    ACCOUNT_SUSPENDED = "directory.account.suspended"
    ACCOUNT_REACTIVATED = "directory.account.reactivated"
    ENTITLEMENTS_UPDATED = "policies.entitlements.updated"
    RATE_LIMIT_UPDATED = "policies.rate_limit.updated"
    RATE_LIMIT_CLEARED = "policies.rate_limit.cleared"
    ORGANIZATION_CREATED = "directory.organization.created"
    ORGANIZATION_UPDATED = "directory.organization.updated"
    ORGANIZATION_DELETED = "directory.organization.deleted"
    TEAM_CREATED = "directory.team.created"
    TEAM_UPDATED = "directory.team.updated"
    TEAM_MOVED = "directory.team.moved"
    TEAM_DELETED = "directory.team.deleted"
    USER_CREATED = "directory.user.created"
    USER_UPDATED = "directory.user.updated"
    USER_MOVED = "directory.user.moved"
    USER_DELETED = "directory.user.deleted"
    USER_DEACTIVATED = "directory.user.deactivated"
    USER_REACTIVATED = "directory.user.reactivated"
    PLAN_CREATED = "budgets.plan.created"
    PLAN_UPDATED = "budgets.plan.updated"
    CAP_UPDATED = "budgets.cap.updated"
    CAP_CLEARED = "budgets.cap.cleared"
    DEFAULT_CAP_UPDATED = "budgets.default_user_cap.updated"
    DEFAULT_CAP_CLEARED = "budgets.default_user_cap.cleared"
    CREDITS_ADJUSTED = "budgets.adjustment.created"
    CYCLE_RENEWED = "budgets.cycle.renewed"
    SETTLEMENT_INVOICED = "budgets.settlement.invoiced"
    SETTLEMENT_SETTLED = "budgets.settlement.settled"
    SETTLEMENT_WRITTEN_OFF = "budgets.settlement.written_off"
    MODEL_CREATED = "models.model.created"
    MODEL_UPDATED = "models.model.updated"
    MODEL_DELETED = "models.model.deleted"
    MODEL_ACCESS_UPDATED = "policies.model_access.updated"
    MODEL_ACCESS_CLEARED = "policies.model_access.cleared"
    FLAG_UPDATED = "policies.flag.updated"
    FLAG_CLEARED = "policies.flag.cleared"
    CONNECTION_MODE_UPDATED = "policies.connection_mode.updated"
    CONNECTION_MODE_CLEARED = "policies.connection_mode.cleared"
    GUARDRAIL_CREATED = "guardrails.guardrail.created"
    GUARDRAIL_UPDATED = "guardrails.guardrail.updated"
    GUARDRAIL_DELETED = "guardrails.guardrail.deleted"
    GUARDRAIL_SETTING_UPDATED = "guardrails.setting.updated"
    GUARDRAIL_SETTING_CLEARED = "guardrails.setting.cleared"
    CONNECTION_CREATED = "connections.connection.created"
    CONNECTION_UPDATED = "connections.connection.updated"
    CONNECTION_DELETED = "connections.connection.deleted"
    CONNECTION_ASSIGNED = "connections.assignment.created"
    CONNECTION_UNASSIGNED = "connections.assignment.deleted"
    AGENT_CREATED = "agents.agent.created"
    AGENT_UPDATED = "agents.agent.updated"
    AGENT_PUBLISHED = "agents.agent.published"
    AGENT_ARCHIVED = "agents.agent.archived"
    AGENT_DELETED = "agents.agent.deleted"
    AGENT_ASSIGNED = "marketplace.assignment.created"
    AGENT_UNASSIGNED = "marketplace.assignment.deleted"
    AGENT_INSTALLED = "marketplace.install.created"
    AGENT_UNINSTALLED = "marketplace.install.deleted"
    IDENTITY_LINKED = "identity.user.linked"
    IDENTITY_PROVISIONED = "identity.user.provisioned"
    IDENTITY_RECONCILED = "identity.user.reconciled"
    IDENTITY_ACCOUNT_MISMATCH = "identity.token.account_mismatch"
    SCIM_TOKEN_CREATED = "identity.scim_token.created"
    SCIM_TOKEN_REVOKED = "identity.scim_token.revoked"
    SCIM_USER_CREATED = "identity.scim_user.created"
    SCIM_USER_UPDATED = "identity.scim_user.updated"
    SCIM_USER_DELETED = "identity.scim_user.deleted"
    SCIM_GROUP_CREATED = "identity.scim_group.created"
    SCIM_GROUP_UPDATED = "identity.scim_group.updated"
    SCIM_GROUP_DELETED = "identity.scim_group.deleted"
    ANOMALY_ACKNOWLEDGED = "observability.anomaly.acknowledged"

    @property
    def module(self) -> str:
        return self.value.split(".", 1)[0]


UNAUDITED_RUNTIME_MUTATIONS: frozenset[str] = frozenset(
    {
        # The runtime's high-volume calls are their own record (ledger and usage tables) and write no
        # audit event (docs/budgets.md). This is the only place that exempts a mutation.
        "authorizeUsage",
        "settleReservation",
        "releaseReservation",
        "recordUsage",
        "recordUsageBatch",
    }
)


def _check_taxonomy() -> None:
    for action in AuditAction:
        match = _PATTERN.match(action.value)
        if not match or match["module"] not in MODULES:
            raise ValueError(f"audit action {action.value!r} is outside the taxonomy")


_check_taxonomy()
