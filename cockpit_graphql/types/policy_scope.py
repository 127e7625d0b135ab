"""The policy fields every scope carries (account, organization, team, user): its explicit settings
and its effective values with traces, all batched by the policy loaders."""

from __future__ import annotations

import uuid

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.dataloaders.budgets import ChainKey
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.policies.effective import PolicyView
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.types.policies import (
    EffectiveConnectionMode,
    EffectiveFlag,
    EffectiveGuardrail,
    EffectiveModels,
    PolicySettings,
    effective_flags,
    effective_guardrails,
)


async def view_of(info: Info, account_id: uuid.UUID, chain: list[Scope]) -> PolicyView:
    view = await info.context.policies.effective.load(ChainKey(account_id, tuple(chain)))
    assert view is not None  # the caller resolved the scope, so its account is visible
    return view


@strawberry.interface(description="A scope policies apply to: an account, organization, team or user.")
class PolicyScope:
    async def policy_chain(self, info: Info) -> tuple[uuid.UUID, list[Scope]]:
        """The account and the chain from it down to this scope (implemented by each type)."""
        raise NotImplementedError

    def ensure_can_read_policies(self, info: Info) -> None:
        """Admins read every scope's policies; types may let members read their own."""
        info.context.require(Permission.READ_POLICIES)

    async def _view(self, info: Info) -> tuple[uuid.UUID, PolicyView]:
        self.ensure_can_read_policies(info)
        account_id, chain = await self.policy_chain(info)
        return account_id, await view_of(info, account_id, chain)

    @strawberry.field(description="The models this scope may use, its default model, and the trace.")
    async def effective_models(self, info: Info) -> EffectiveModels:
        account_id, view = await self._view(info)
        return EffectiveModels.of(account_id, view)

    @strawberry.field(description="Every registered feature flag's effective value here, with its trace.")
    async def effective_flags(self, info: Info) -> list[EffectiveFlag]:
        account_id, view = await self._view(info)
        return effective_flags(account_id, view)

    @strawberry.field(description="Every guardrail of the account and whether it applies here, with its trace.")
    async def effective_guardrails(self, info: Info) -> list[EffectiveGuardrail]:
        account_id, view = await self._view(info)
        return effective_guardrails(account_id, view)

    @strawberry.field(description="The connection permission mode here, with its trace.")
    async def effective_connection_mode(self, info: Info) -> EffectiveConnectionMode:
        account_id, view = await self._view(info)
        return EffectiveConnectionMode.of(account_id, view.policy.connection_mode)

    @strawberry.field(description="What this scope itself sets (admins); the effective fields show the outcome.")
    async def policy_settings(self, info: Info) -> PolicySettings:
        info.context.require(Permission.READ_POLICIES)
        account_id, chain = await self.policy_chain(info)
        scope = chain[-1]
        policies = await info.context.policies.settings.load((account_id, scope))
        rows = await info.context.policies.guardrails.load(account_id)
        return PolicySettings.of(account_id, scope, policies, {g.id: g for g in rows})
