"""Policy queries and mutations: parse input -> policy service in one tenant transaction -> payload."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.context import Info
from cockpit_graphql.dataloaders.policies import AccessKey
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.errors import NotFound
from cockpit_graphql.domain.policies import repository as repo
from cockpit_graphql.domain.policies import service
from cockpit_graphql.domain.policies.access import AccessRequest
from cockpit_graphql.domain.policies.guardrail_types import GuardrailMode, GuardrailType
from cockpit_graphql.domain.policies.settings import ConnectionMode, GuardrailState, ScopePolicies
from cockpit_graphql.domain.roles import Permission, has_permission
from cockpit_graphql.resolvers.budgets import parse_scope
from cockpit_graphql.resolvers.mutation import Plan, default_account, mutate, parse_optional_ref, parse_ref
from cockpit_graphql.types.access import EffectiveAccess
from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.ids import GlobalId, decode_id, encode_id
from cockpit_graphql.types.policies import FeatureFlagDefinition, Guardrail, PolicySettings
from cockpit_graphql.types.policy_mutations import (
    ClearConnectionModeInput,
    ClearFeatureFlagInput,
    ClearGuardrailStateInput,
    ClearModelAccessInput,
    CreateGuardrailInput,
    DeleteGuardrailInput,
    DeleteGuardrailPayload,
    GuardrailPayload,
    PolicySettingsPayload,
    SetConnectionModeInput,
    SetFeatureFlagInput,
    SetGuardrailStateInput,
    SetModelAccessInput,
    UpdateGuardrailInput,
)

WHAT = "What to change."
MANAGE = Permission.MANAGE_POLICIES
SettingWork = Callable[[AsyncSession, TenantId, Operation, Scope], Awaitable[Any]]


def _model_ids(values: list[strawberry.ID] | None, field: str) -> list[uuid.UUID] | None:
    if values is None:
        return None
    return [parse_ref(v, "Model", (field, str(i))).id for i, v in enumerate(values)]


async def _settings_of(session: AsyncSession, scope: Scope) -> tuple[Any, dict[uuid.UUID, Any]]:
    found = await repo.scope_policies(session, [scope])
    guardrails = {g.id: g for g in await repo.guardrails(session)}
    return found.get(scope), guardrails


async def _setting(
    info: Info, scope_id: str, work: SettingWork, parse: Callable[[], None] | None = None
) -> PolicySettingsPayload:
    """Every scope-setting mutation: parse the scope (and, with `parse`, the other ids, so a malformed
    one is a userError with nothing written), run the change, answer with the scope's settings."""
    found: list[tuple[GlobalId, Scope]] = []

    def plan() -> Plan:
        ref, scope = parse_scope(scope_id, "scopeId")
        if parse is not None:
            parse()
        found.append((ref, scope))

        async def run(s: AsyncSession, t: TenantId, op: Operation) -> Any:
            await work(s, t, op, scope)
            return await _settings_of(s, scope)

        return Plan(ref.account_id, "scopeId", run)

    def shape(result: Any) -> PolicySettingsPayload:
        ref, scope = found[0]
        policies, guardrails = result
        return PolicySettingsPayload(
            scope=BudgetScope.of(ref.account_id, scope),
            settings=PolicySettings.of(ref.account_id, scope, policies or ScopePolicies(), guardrails),
        )

    return await mutate(info, PolicySettingsPayload, permission=MANAGE, plan=plan, shape=shape)


@strawberry.type
class PolicyQueries:
    @strawberry.field(description="Every registered feature flag with its default.")
    def feature_flags(self, info: Info) -> list[FeatureFlagDefinition]:
        info.context.require_principal()
        return [FeatureFlagDefinition.of(d) for d in info.context.policies.registry.values()]

    @strawberry.field(
        description="The runtime's question: may this user make a model call now, and with what? Allowed models "
        "and the model to use, flags, guardrails, connection mode, the budget remaining with its binding scope, "
        "and allow/deny with reasons. Read-only (authorizeUsage holds credits). Runtime (admins) or the user."
    )
    async def effective_access(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID, strawberry.argument(description="The user who makes the call.")],
        model_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The model the user picked (honoured only when MODEL_SELECTION is on)."),
        ] = None,
        agent_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="The agent to run: it must be in the user's audience; its model, guardrail override "
                "and connections then apply."
            ),
        ] = None,
    ) -> EffectiveAccess | None:
        ctx = info.context
        principal = ctx.require_principal()
        ref = decode_id(user_id)
        if ref is None or ref.type_name != "User":
            return None
        if principal.user_id != ref.id or not has_permission(principal.role, Permission.READ_OWN_POLICIES):
            ctx.require(Permission.RUNTIME_METERING)
        model = decode_id(model_id) if model_id is not None else None
        if model_id is not None and (model is None or model.type_name != "Model"):
            raise NotFound("`modelId` is not the id of a Model.")
        agent = decode_id(agent_id) if agent_id is not None else None
        if agent_id is not None and (agent is None or agent.type_name != "Agent"):
            raise NotFound("`agentId` is not the id of an Agent.")
        # an agent of another account is looked up in the user's account, finds nothing: AGENT_NOT_AVAILABLE
        request = AccessRequest(
            requested_model=model.id if model else None,
            agent_id=agent.id if agent else None,
        )
        answer = await ctx.policies.access.load(AccessKey(ref.account_id, ref.id, request))
        if answer is None:
            return None
        if answer.model is not None:  # `model { … }` then needs no catalog read of its own
            ctx.models.by_id.prime(answer.model.id, answer.model)
        return EffectiveAccess.of(ref.account_id, answer)


@strawberry.type
class PolicyMutations:
    @strawberry.mutation(description="Set a scope's model access (allow list, deny list, default model). Audited.")
    async def set_model_access(
        self, info: Info, input: Annotated[SetModelAccessInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        request: list[service.ModelAccessRequest] = []

        async def work(s: AsyncSession, t: TenantId, op: Operation, scope: Scope) -> Any:
            return await service.set_model_access(s, t, op, scope, request[0])

        def parse() -> None:
            default = parse_optional_ref(input.default_model_id, "Model", "defaultModelId")
            request.append(
                service.ModelAccessRequest(
                    allow=_model_ids(input.allow_model_ids, "allowModelIds"),
                    deny=_model_ids(input.deny_model_ids, "denyModelIds") or [],
                    default_model=default.id if default else None,
                )
            )

        return await _setting(info, input.scope_id, work, parse)

    @strawberry.mutation(description="Remove a scope's model access setting. Audited.")
    async def clear_model_access(
        self, info: Info, input: Annotated[ClearModelAccessInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        return await _setting(info, input.scope_id, service.clear_model_access)

    @strawberry.mutation(description="Set a feature flag at a scope, optionally locked. Audited.")
    async def set_feature_flag(
        self, info: Info, input: Annotated[SetFeatureFlagInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        registry = info.context.policies.registry
        return await _setting(
            info,
            input.scope_id,
            lambda s, t, op, scope: service.set_flag(
                s, t, op, scope, registry, input.flag, input.enabled, input.locked
            ),
        )

    @strawberry.mutation(description="Remove a scope's setting of a feature flag. Audited.")
    async def clear_feature_flag(
        self, info: Info, input: Annotated[ClearFeatureFlagInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        registry = info.context.policies.registry
        return await _setting(
            info, input.scope_id, lambda s, t, op, scope: service.clear_flag(s, t, op, scope, registry, input.flag)
        )

    @strawberry.mutation(description="Set the connection permission mode at a scope, optionally locked. Audited.")
    async def set_connection_mode(
        self, info: Info, input: Annotated[SetConnectionModeInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        mode = ConnectionMode(input.mode)
        return await _setting(
            info,
            input.scope_id,
            lambda s, t, op, scope: service.set_connection_mode(s, t, op, scope, mode, input.locked),
        )

    @strawberry.mutation(description="Remove a scope's connection mode setting. Audited.")
    async def clear_connection_mode(
        self, info: Info, input: Annotated[ClearConnectionModeInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        return await _setting(info, input.scope_id, service.clear_connection_mode)

    @strawberry.mutation(description="Enable or disable a guardrail at a scope (ENABLED may be enforced). Audited.")
    async def set_guardrail_state(
        self, info: Info, input: Annotated[SetGuardrailStateInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        guardrail: list[uuid.UUID] = []
        state = GuardrailState(input.state)

        def parse() -> None:
            guardrail.append(_guardrail_ref(input.guardrail_id).id)

        async def work(s: AsyncSession, t: TenantId, op: Operation, scope: Scope) -> Any:
            return await service.set_guardrail_state(s, t, op, scope, guardrail[0], state, input.enforced)

        return await _setting(info, input.scope_id, work, parse)

    @strawberry.mutation(description="Remove a scope's setting of a guardrail. Audited.")
    async def clear_guardrail_state(
        self, info: Info, input: Annotated[ClearGuardrailStateInput, strawberry.argument(description=WHAT)]
    ) -> PolicySettingsPayload:
        guardrail: list[uuid.UUID] = []

        def parse() -> None:
            guardrail.append(_guardrail_ref(input.guardrail_id).id)

        async def work(s: AsyncSession, t: TenantId, op: Operation, scope: Scope) -> Any:
            return await service.clear_guardrail_state(s, t, op, scope, guardrail[0])

        return await _setting(info, input.scope_id, work, parse)

    @strawberry.mutation(description="Define a guardrail in an account; it is off until a scope enables it. Audited.")
    async def create_guardrail(
        self, info: Info, input: Annotated[CreateGuardrailInput, strawberry.argument(description=WHAT)]
    ) -> GuardrailPayload:
        def plan() -> Plan:
            account = parse_optional_ref(input.account_id, "Account", "accountId")
            kind, mode = GuardrailType(input.type), GuardrailMode(input.mode)
            return Plan(
                default_account(info, account),
                "accountId",
                lambda s, t, op: service.create_guardrail(s, t, op, input.name, kind, mode, input.config),
            )

        return await mutate(
            info,
            GuardrailPayload,
            permission=MANAGE,
            plan=plan,
            shape=lambda row: GuardrailPayload(guardrail=Guardrail.from_row(row)),
        )

    @strawberry.mutation(description="Rename a guardrail or change its mode or config. Audited.")
    async def update_guardrail(
        self, info: Info, input: Annotated[UpdateGuardrailInput, strawberry.argument(description=WHAT)]
    ) -> GuardrailPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Guardrail", "id")
            mode = GuardrailMode(input.mode) if input.mode is not None else None
            return Plan(
                ref.account_id,
                "id",
                lambda s, t, op: service.update_guardrail(s, t, op, ref.id, input.name, mode, input.config),
            )

        return await mutate(
            info,
            GuardrailPayload,
            permission=MANAGE,
            plan=plan,
            shape=lambda row: GuardrailPayload(guardrail=Guardrail.from_row(row)),
        )

    @strawberry.mutation(description="Delete a guardrail and every scope's setting of it. Audited.")
    async def delete_guardrail(
        self, info: Info, input: Annotated[DeleteGuardrailInput, strawberry.argument(description=WHAT)]
    ) -> DeleteGuardrailPayload:
        found: list[GlobalId] = []

        def plan() -> Plan:
            ref = parse_ref(input.id, "Guardrail", "id")
            found.append(ref)
            return Plan(ref.account_id, "id", lambda s, t, op: service.delete_guardrail(s, t, op, ref.id))

        return await mutate(
            info,
            DeleteGuardrailPayload,
            permission=MANAGE,
            plan=plan,
            shape=lambda gid: DeleteGuardrailPayload(
                deleted_guardrail_id=strawberry.ID(encode_id("Guardrail", found[0].account_id, gid))
            ),
        )


def _guardrail_ref(value: str) -> GlobalId:
    """A guardrail id; the change runs in the scope's account, where another account's guardrail is
    simply not found (NOT_FOUND from the service), so no account comparison is needed here."""
    return parse_ref(value, "Guardrail", "guardrailId")
