"""EffectiveAccess: the runtime's answer, shaped lazily from one decision (no per-field queries
beyond catalog names, which one batched loader serves)."""

from __future__ import annotations

import uuid

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.marketplace import connections_repository as connections_repo
from cockpit_graphql.domain.marketplace.connection_access import may_use_personal
from cockpit_graphql.domain.policies.access import AccessDenial, ModelChoice
from cockpit_graphql.domain.policies.runtime import AccessAnswer
from cockpit_graphql.types.budgets import BudgetScope, EffectiveAllocation
from cockpit_graphql.types.connections import ConnectionNode
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import encode_id
from cockpit_graphql.types.models import Model, model_of
from cockpit_graphql.types.policies import (
    EffectiveConnectionMode,
    EffectiveFlag,
    EffectiveGuardrail,
    EffectiveModels,
    effective_flags,
    effective_guardrails,
)

AccessDenialEnum = described_enum(
    AccessDenial,
    name="AccessDenialReason",
    description="Why access is denied: ACCOUNT_SUSPENDED; MODEL_NOT_ALLOWED (the requested model is not allowed); "
    "NO_MODEL_AVAILABLE (no requested, agent or default model is allowed); NO_PLAN (the account has no budget "
    "plan); BUDGET_EXHAUSTED (no credits remain in some scope of the chain).",
    values={
        "ACCOUNT_SUSPENDED": "The user's account is suspended by a super admin: none of its members may make calls.",
        "AGENT_NOT_AVAILABLE": "The agent is not in the user's audience (unknown, draft, archived, another "
        "account's, or not assigned to a scope of the user's chain and not their own).",
        "MODEL_NOT_ALLOWED": "MODEL_SELECTION is on and the requested model is not allowed for the user.",
        "NO_MODEL_AVAILABLE": "No model to use: neither the agent's model nor any default model is allowed for the "
        "user.",
        "NO_PLAN": "The account has no budget plan, so nothing can be authorized.",
        "BUDGET_EXHAUSTED": "The user's remaining credits are 0: some scope of their chain has no headroom left.",
    },
)
ModelChoiceEnum = described_enum(
    ModelChoice,
    name="ModelChoice",
    description="Why this model: REQUESTED (picked by the user, MODEL_SELECTION on), AGENT (the agent's model), "
    "DEFAULT (the nearest allowed default model).",
    values={
        "REQUESTED": "The model the user requested: MODEL_SELECTION is on for them and the model is allowed.",
        "AGENT": "The agent's own model, allowed for the user (no model requested, or MODEL_SELECTION off).",
        "DEFAULT": "The nearest default model of the user's chain that is still allowed.",
    },
)


@strawberry.type(description="May this user make a model call now, and with what.")
class EffectiveAccess:
    """Shaped lazily from one answer: a field nobody selected costs nothing."""

    allowed: bool = strawberry.field(description="True when no reason denies access.")
    reasons: list[AccessDenialEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Every reason access is denied, in a stable order; empty when allowed."
    )
    user_id: strawberry.ID = strawberry.field(description="The user asked about.")
    model_choice: ModelChoiceEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="Why `model` was chosen; null when none was."
    )
    agent_id: strawberry.ID | None = strawberry.field(description="The agent asked about, if any.")
    answer: strawberry.Private[AccessAnswer]
    model_id: strawberry.Private[uuid.UUID | None]
    account_id: strawberry.Private[uuid.UUID]
    chain: strawberry.Private[tuple[Scope, ...]]
    connection_ids: strawberry.Private[tuple[uuid.UUID, ...] | None]

    @strawberry.field(description="The allowed models, the default model, and the trace.")
    def models(self) -> EffectiveModels:
        return EffectiveModels.of(self.account_id, self.answer.view)

    @strawberry.field(description="Every feature flag's value for the user.")
    def flags(self) -> list[EffectiveFlag]:
        return effective_flags(self.account_id, self.answer.view)

    @strawberry.field(description="Every guardrail of the account and whether it applies to the call.")
    def guardrails(self) -> list[EffectiveGuardrail]:
        return effective_guardrails(self.account_id, self.answer.view)

    @strawberry.field(description="The user's connection mode.")
    def connection_mode(self) -> EffectiveConnectionMode:
        return EffectiveConnectionMode.of(self.account_id, self.answer.view.policy.connection_mode)

    @strawberry.field(description="The user's effective allocation: remaining credits and the binding scope.")
    def budget(self) -> EffectiveAllocation:
        return EffectiveAllocation.of(self.account_id, self.answer.allocation)

    @strawberry.field(description="The scope whose cap limits the user most (same as budget.bindingScope).")
    def binding_scope(self) -> BudgetScope | None:
        binding = self.answer.allocation.binding
        return BudgetScope.of(self.account_id, binding) if binding else None

    @strawberry.field(description="The model to call; null when none is allowed.")
    async def model(self, info: Info) -> Model | None:
        return await model_of(info, self.model_id)

    @strawberry.field(
        description="The connections the call may use: with an agent, those of its connections the user may use "
        "(assigned to a scope of the user's chain, or the user's own personal ones when their connection mode is "
        "SELF_MANAGED_ALLOWED); without one, every connection the user may use. Never a secret."
    )
    async def connections(self, info: Info) -> list[ConnectionNode]:
        if self.connection_ids is not None:
            keys = [(self.account_id, c) for c in self.connection_ids]
            rows = await info.context.connections.connection.load_many(keys)
        else:
            tenant = info.context.tenant_for(self.account_id)
            if tenant is None:
                return []
            async with info.context.db.tenant(tenant) as session:
                personal = may_use_personal(self.answer.view.policy)
                rows = await connections_repo.usable_for(session, list(self.chain), personal=personal)
        return [ConnectionNode.from_row(r) for r in rows if r is not None]

    @classmethod
    def of(cls, account_id: uuid.UUID, answer: AccessAnswer) -> EffectiveAccess:
        decision = answer.decision
        return cls(
            allowed=decision.allowed,
            reasons=list(decision.reasons),
            user_id=strawberry.ID(encode_id("User", account_id, answer.placement.user_id)),
            model_choice=decision.model_choice,
            answer=answer,
            agent_id=strawberry.ID(encode_id("Agent", account_id, answer.agent_id)) if answer.agent_id else None,
            model_id=decision.model,
            account_id=account_id,
            chain=tuple(answer.placement.chain()),
            connection_ids=answer.connection_ids,
        )
