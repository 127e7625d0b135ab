"""Effective policies for many chains of one account at once: a constant number of statements
whatever the number of chains, every answer decided by resolve_policy()."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.policies import repository as repo
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.domain.policies.flags import FlagDefinition
from cockpit_graphql.domain.policies.records import GuardrailRecord, ModelRecord
from cockpit_graphql.domain.policies.resolve import AgentGuardrailOverride, EffectivePolicy, resolve_policy
from cockpit_graphql.domain.policies.settings import ScopePolicies


@dataclass(frozen=True)
class PolicyInputs:
    """Everything resolution reads for one account: settings of the scopes asked about, the enabled
    catalog, the entitlement and the guardrail definitions."""

    settings: Mapping[Scope, ScopePolicies]
    catalog: Mapping[uuid.UUID, frozenset[str]]
    entitlements: Entitlements
    guardrails: Sequence[GuardrailRecord]
    account_active: bool = True
    models: Mapping[uuid.UUID, list[Any]] = field(default_factory=dict)  # enabled models' rows, as read

    @classmethod
    def of(cls, raw: repo.RawInputs) -> PolicyInputs:
        return cls(raw.settings, raw.catalog, raw.entitlements, raw.guardrails, raw.account_active, raw.models)

    def model(self, model_id: uuid.UUID | None) -> ModelRecord | None:
        """The enabled catalog model `model_id` as this read saw it (built on demand: most answers
        need one model of the catalog, if any)."""
        values = self.models.get(model_id) if model_id is not None else None
        return ModelRecord.from_array(values) if values is not None else None


async def load_inputs(session: AsyncSession, tenant: TenantId, scopes: set[Scope]) -> PolicyInputs:
    """One statement, whatever the number of scopes."""
    return PolicyInputs.of(await repo.policy_inputs(session, tenant.value, scopes))


@dataclass(frozen=True)
class PolicyView:
    """An effective policy with the guardrail definitions its answers refer to."""

    policy: EffectivePolicy
    guardrails: Mapping[uuid.UUID, GuardrailRecord]


def views(
    inputs: PolicyInputs,
    chains: Sequence[Sequence[Scope]],
    registry: Mapping[str, FlagDefinition],
    agent: AgentGuardrailOverride | None = None,
) -> list[PolicyView]:
    by_id = {g.id: g for g in inputs.guardrails}
    ids = [g.id for g in inputs.guardrails]
    return [
        PolicyView(
            resolve_policy(
                chain,
                inputs.settings,
                catalog=inputs.catalog,
                entitlements=inputs.entitlements,
                registry=registry,
                guardrail_ids=ids,
                agent=agent,
            ),
            by_id,
        )
        for chain in chains
    ]


async def effective_policies(
    session: AsyncSession,
    tenant: TenantId,
    chains: Sequence[Sequence[Scope]],
    registry: Mapping[str, FlagDefinition],
) -> list[PolicyView]:
    inputs = await load_inputs(session, tenant, {s for chain in chains for s in chain})
    return views(inputs, chains, registry)
