"""Agent and marketplace queries and mutations: parse input -> agent service in one tenant transaction."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.context import Info
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.errors import BadUserInput, Forbidden, UserErrorCode, UserInputError
from cockpit_graphql.domain.marketplace import agents as service
from cockpit_graphql.domain.marketplace import assignments
from cockpit_graphql.domain.marketplace import marketplace as market
from cockpit_graphql.domain.marketplace.audience import AgentStatus, AssignmentMode
from cockpit_graphql.domain.marketplace.connection_access import may_create_personal_agent
from cockpit_graphql.domain.marketplace.marketplace import AgentListFilter
from cockpit_graphql.domain.pagination import Page
from cockpit_graphql.domain.policies.effective import load_inputs, views
from cockpit_graphql.domain.policies.settings import GuardrailState
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.account_argument import requested_account
from cockpit_graphql.resolvers.budgets import parse_scope
from cockpit_graphql.resolvers.mutation import Plan, mutate, parse_optional_ref, parse_ref
from cockpit_graphql.types.agent_mutations import (
    AgentGuardrailOverrideInput,
    AgentPayload,
    ArchiveAgentInput,
    AssignAgentInput,
    CreateAgentInput,
    DeleteAgentInput,
    DeleteAgentPayload,
    InstallAgentInput,
    MarketplaceItemPayload,
    PublishAgentInput,
    UnassignAgentInput,
    UninstallAgentInput,
    UpdateAgentInput,
)
from cockpit_graphql.types.agents import Agent, AgentStatusEnum
from cockpit_graphql.types.budgets import ScopeLevelEnum
from cockpit_graphql.types.directory import page_request
from cockpit_graphql.types.ids import GlobalId, encode_id
from cockpit_graphql.types.marketplace import MarketplaceFilter, MarketplaceItem
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, build_connection

WHAT = "What to change."
MANAGE = Permission.MANAGE_ASSETS
PERSONAL = Permission.MANAGE_PERSONAL_ASSETS
MARKET = Permission.USE_MARKETPLACE


# --- queries ---------------------------------------------------------------------------------------


@strawberry.input(description="Narrow the list of agents.")
class AgentFilter:
    statuses: list[AgentStatusEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only agents in these statuses."
    )
    owner_level: ScopeLevelEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only agents owned at this level (USER: personal agents)."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only agents owned by this account, organization, team or user."
    )
    category: str | None = strawberry.field(default=None, description="Only this category (case-insensitive).")
    tag: str | None = strawberry.field(default=None, description="Only agents with this tag (case-insensitive).")
    search: str | None = strawberry.field(default=None, description="Case-insensitive text in name or description.")

    def to_domain(self) -> AgentListFilter:
        owner: Scope | None = None
        if self.owner_id is not None:
            try:
                owner = parse_scope(self.owner_id, "ownerId")[1]
            except UserInputError as exc:
                raise BadUserInput("`filter.ownerId` is not an account, organization, team or user id.") from exc
        return AgentListFilter(
            search=self.search,
            category=self.category,
            tag=self.tag,
            statuses=tuple(AgentStatus(s) for s in self.statuses or ()),
            owner_level=ScopeLevel(self.owner_level) if self.owner_level else None,
            owner=owner,
        )


def _empty() -> Any:
    async def zero() -> int:
        return 0

    return build_connection(Page([], False, False), market.BY_NAME, lambda r: r, zero)


async def member_list(
    info: Info,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    flt: MarketplaceFilter | None,
    *,
    workspace_only: bool,
) -> Connection[MarketplaceItem]:
    """The signed-in user's marketplace (their whole audience) or workspace; empty for super admins."""
    ctx = info.context
    principal = ctx.require(MARKET)
    request = page_request(info, first, after, last, before)
    if principal.user_id is None or principal.account_id is None:
        return _empty()  # type: ignore[no-any-return]
    tenant = ctx.tenant_for(principal.account_id)
    assert tenant is not None
    user_id, search = principal.user_id, flt.to_domain() if flt else None
    async with ctx.db.tenant(tenant) as session:
        page = await market.marketplace_page(session, tenant, user_id, request, search, workspace_only=workspace_only)

    async def count() -> int:
        async with ctx.db.tenant(tenant) as session:
            return await market.marketplace_count(session, tenant, user_id, search, workspace_only=workspace_only)

    return build_connection(page, market.BY_NAME, MarketplaceItem.from_item, count)  # type: ignore[no-any-return]


FilterArg = Annotated[MarketplaceFilter | None, strawberry.argument(description="Narrow the list.")]


async def marketplace_of_viewer(
    info: Info, first: int | None, after: str | None, last: int | None, before: str | None, filter: Any
) -> Connection[MarketplaceItem]:
    return await member_list(info, first, after, last, before, filter, workspace_only=False)


async def workspace_of_viewer(
    info: Info, first: int | None, after: str | None, last: int | None, before: str | None, filter: Any
) -> Connection[MarketplaceItem]:
    return await member_list(info, first, after, last, before, filter, workspace_only=True)


@strawberry.type
class AgentQueries:
    @strawberry.field(
        description="Every agent of an account, personal ones included (governance), by name. Admins; super "
        "admins name the account."
    )
    async def agents(
        self,
        info: Info,
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The account (default: yours; super admins: required)."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[AgentFilter | None, strawberry.argument(description="Narrow the list.")] = None,
    ) -> Connection[Agent]:
        ctx = info.context
        ctx.require(Permission.READ_ASSETS)
        request = page_request(info, first, after, last, before)
        flt = filter.to_domain() if filter else None
        tenant = ctx.tenant_for(requested_account(info, account_id))
        if tenant is None:
            return _empty()  # type: ignore[no-any-return]
        async with ctx.db.tenant(tenant) as session:
            page = await market.agents_page(session, request, flt)

        async def count() -> int:
            async with ctx.db.tenant(tenant) as session:
                return await market.agents_count(session, flt)

        return build_connection(page, market.BY_NAME, Agent.from_row, count)  # type: ignore[no-any-return]

    @strawberry.field(
        description="The signed-in user's marketplace: every agent of their audience (their own, and those "
        "assigned to a scope of their chain), by name, with how each reaches them."
    )
    async def marketplace(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: FilterArg = None,
    ) -> Connection[MarketplaceItem]:
        return await marketplace_of_viewer(info, first, after, last, before, filter)

    @strawberry.field(
        description="The signed-in user's workspace: their own agents, those installed for them by admins, and "
        "those they installed, by name."
    )
    async def workspace(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: FilterArg = None,
    ) -> Connection[MarketplaceItem]:
        return await workspace_of_viewer(info, first, after, last, before, filter)


# --- mutations -------------------------------------------------------------------------------------


def _same_account(ref: GlobalId, account_id: uuid.UUID, field: str | tuple[str, ...], what: str) -> GlobalId:
    if ref.account_id != account_id:
        raise UserInputError.single(field, UserErrorCode.NOT_FOUND, f"No such {what} in this account.")
    return ref


def _overrides(
    values: list[AgentGuardrailOverrideInput], account_id: uuid.UUID
) -> list[tuple[uuid.UUID, GuardrailState]]:
    out = []
    for i, o in enumerate(values):
        path = ("guardrailOverrides", str(i), "guardrailId")
        ref = _same_account(parse_ref(o.guardrail_id, "Guardrail", path), account_id, path, "guardrail")
        out.append((ref.id, GuardrailState(o.state)))
    return out


def _connections(values: list[strawberry.ID], account_id: uuid.UUID) -> list[uuid.UUID]:
    out = []
    for i, v in enumerate(values):
        path = ("connectionIds", str(i))
        out.append(_same_account(parse_ref(v, "Connection", path), account_id, path, "connection").id)
    return out


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET and value is not None


def _create_changes(input: CreateAgentInput, account_id: uuid.UUID) -> service.AgentChanges:
    model = parse_optional_ref(input.model_id, "Model", "modelId")
    return service.AgentChanges(
        name=input.name,
        description=input.description,
        category=input.category,
        tags=input.tags,
        instructions=input.instructions,
        model_id=model.id if model else None,
        connection_ids=_connections(input.connection_ids, account_id),
        guardrail_overrides=_overrides(input.guardrail_overrides, account_id),
    )


def _update_changes(input: UpdateAgentInput, account_id: uuid.UUID) -> service.AgentChanges:
    keep = service.KEEP
    model: Any = keep
    if input.model_id is not strawberry.UNSET:
        ref = parse_optional_ref(input.model_id, "Model", "modelId")
        model = ref.id if ref else None
    return service.AgentChanges(
        name=input.name if _given(input.name) else keep,  # type: ignore[arg-type]
        description=input.description if _given(input.description) else keep,  # type: ignore[arg-type]
        category=keep if input.category is strawberry.UNSET else input.category,
        tags=input.tags if _given(input.tags) else keep,  # type: ignore[arg-type]
        instructions=input.instructions if _given(input.instructions) else keep,  # type: ignore[arg-type]
        model_id=model,
        connection_ids=_connections(input.connection_ids, account_id) if _given(input.connection_ids) else keep,  # type: ignore[arg-type]
        guardrail_overrides=(
            _overrides(input.guardrail_overrides, account_id) if _given(input.guardrail_overrides) else keep  # type: ignore[arg-type]
        ),
    )


async def _may_create_personal(session: AsyncSession, tenant: TenantId, info: Info, user_id: uuid.UUID) -> bool:
    chain = await market.chain_of_user(session, tenant, user_id)
    if chain is None:
        return False
    inputs = await load_inputs(session, tenant, set(chain))
    view = views(inputs, [chain], info.context.policies.registry)[0]
    return may_create_personal_agent(view.policy)


def _agent_payload(row: Any) -> AgentPayload:
    return AgentPayload(agent=Agent.from_row(row))


@strawberry.type
class AgentMutations:
    @strawberry.mutation(
        description="Create a DRAFT agent: admins at the account, an organization or a team; any user a personal "
        "agent of their own when CREATE_AGENTS resolves true for them. Audited."
    )
    async def create_agent(
        self, info: Info, input: Annotated[CreateAgentInput, strawberry.argument(description=WHAT)]
    ) -> AgentPayload:
        ctx = info.context

        def plan() -> Plan:
            principal = ctx.require_principal()
            if input.owner_id is None:
                if principal.user_id is None or principal.account_id is None:
                    raise UserInputError.single(
                        "ownerId", UserErrorCode.REQUIRED, "Name the owning account, organization or team."
                    )
                account, owner = principal.account_id, Scope(ScopeLevel.USER, principal.user_id)
            else:
                ref, owner = parse_scope(input.owner_id, "ownerId")
                account = ref.account_id
            if owner.level is ScopeLevel.USER:
                if owner.id != principal.user_id or account != principal.account_id:
                    raise UserInputError.single(
                        "ownerId", UserErrorCode.INVALID, "A personal agent belongs to the user who creates it."
                    )
            else:
                ctx.require(MANAGE)
            changes = _create_changes(input, account)

            async def work(s: AsyncSession, t: TenantId, op: Operation) -> Any:
                if owner.level is ScopeLevel.USER and not await _may_create_personal(s, t, info, owner.id):
                    raise Forbidden("CREATE_AGENTS is off for you: you may not create personal agents.")
                return await service.create_agent(s, t, op, owner, changes)

            return Plan(account, "ownerId", work)

        return await mutate(info, AgentPayload, permission=PERSONAL, plan=plan, shape=_agent_payload)

    @strawberry.mutation(
        description="Edit an agent's definition (a new version). Admins; owners of personal agents. Audited."
    )
    async def update_agent(
        self, info: Info, input: Annotated[UpdateAgentInput, strawberry.argument(description=WHAT)]
    ) -> AgentPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Agent", "id")
            changes = _update_changes(input, ref.account_id)
            return Plan(ref.account_id, "id", lambda s, t, op: service.update_agent(s, t, op, ref.id, changes))

        return await mutate(info, AgentPayload, permission=PERSONAL, plan=plan, shape=_agent_payload)

    @strawberry.mutation(description="Publish a DRAFT agent. Audited.")
    async def publish_agent(
        self, info: Info, input: Annotated[PublishAgentInput, strawberry.argument(description=WHAT)]
    ) -> AgentPayload:
        return await _transition(info, input.id, AgentStatus.PUBLISHED)

    @strawberry.mutation(
        description="Archive an agent (final): it leaves every marketplace and workspace and cannot run. Audited."
    )
    async def archive_agent(
        self, info: Info, input: Annotated[ArchiveAgentInput, strawberry.argument(description=WHAT)]
    ) -> AgentPayload:
        return await _transition(info, input.id, AgentStatus.ARCHIVED)

    @strawberry.mutation(description="Delete a DRAFT agent with its history (archive anything published). Audited.")
    async def delete_agent(
        self, info: Info, input: Annotated[DeleteAgentInput, strawberry.argument(description=WHAT)]
    ) -> DeleteAgentPayload:
        found: list[GlobalId] = []

        def plan() -> Plan:
            ref = parse_ref(input.id, "Agent", "id")
            found.append(ref)
            return Plan(ref.account_id, "id", lambda s, t, op: service.delete_agent(s, t, op, ref.id))

        return await mutate(
            info,
            DeleteAgentPayload,
            permission=PERSONAL,
            plan=plan,
            shape=lambda aid: DeleteAgentPayload(
                deleted_agent_id=strawberry.ID(encode_id("Agent", found[0].account_id, aid))
            ),
        )

    @strawberry.mutation(
        description="Assign a PUBLISHED agent to a scope as AVAILABLE or INSTALLED (again: changes the mode). "
        "Admins. Audited."
    )
    async def assign_agent(
        self, info: Info, input: Annotated[AssignAgentInput, strawberry.argument(description=WHAT)]
    ) -> AgentPayload:
        mode = AssignmentMode(input.mode)

        def plan() -> Plan:
            ref, scope = _agent_and_scope(input.agent_id, input.scope_id)
            return Plan(
                ref.account_id, "agentId", lambda s, t, op: assignments.assign_agent(s, t, op, ref.id, scope, mode)
            )

        return await mutate(info, AgentPayload, permission=MANAGE, plan=plan, shape=_agent_payload)

    @strawberry.mutation(description="Withdraw an agent from a scope. Admins. Audited.")
    async def unassign_agent(
        self, info: Info, input: Annotated[UnassignAgentInput, strawberry.argument(description=WHAT)]
    ) -> AgentPayload:
        def plan() -> Plan:
            ref, scope = _agent_and_scope(input.agent_id, input.scope_id)
            return Plan(ref.account_id, "agentId", lambda s, t, op: assignments.unassign_agent(s, t, op, ref.id, scope))

        return await mutate(info, AgentPayload, permission=MANAGE, plan=plan, shape=_agent_payload)

    @strawberry.mutation(description="Install an AVAILABLE agent of your audience into your workspace. Audited.")
    async def install_agent(
        self, info: Info, input: Annotated[InstallAgentInput, strawberry.argument(description=WHAT)]
    ) -> MarketplaceItemPayload:
        return await _install(info, input.agent_id, install=True)

    @strawberry.mutation(description="Uninstall an agent you installed (never one admins INSTALLED for you). Audited.")
    async def uninstall_agent(
        self, info: Info, input: Annotated[UninstallAgentInput, strawberry.argument(description=WHAT)]
    ) -> MarketplaceItemPayload:
        return await _install(info, input.agent_id, install=False)


def _agent_and_scope(agent_id: str, scope_id: str) -> tuple[GlobalId, Scope]:
    ref = parse_ref(agent_id, "Agent", "agentId")
    scope_ref, scope = parse_scope(scope_id, "scopeId")
    _same_account(scope_ref, ref.account_id, "scopeId", "scope")
    return ref, scope


async def _transition(info: Info, agent_id: str, target: AgentStatus) -> AgentPayload:
    def plan() -> Plan:
        ref = parse_ref(agent_id, "Agent", "id")
        return Plan(ref.account_id, "id", lambda s, t, op: service.transition_agent(s, t, op, ref.id, target))

    return await mutate(info, AgentPayload, permission=PERSONAL, plan=plan, shape=_agent_payload)


async def _install(info: Info, agent_id: str, *, install: bool) -> MarketplaceItemPayload:
    principal = info.context.require(MARKET)
    if principal.user_id is None:
        raise Forbidden("Only users of an account install agents.")
    user_id = principal.user_id
    work = assignments.install_agent if install else assignments.uninstall_agent

    def plan() -> Plan:
        ref = parse_ref(agent_id, "Agent", "agentId")
        return Plan(ref.account_id, "agentId", lambda s, t, op: work(s, t, op, user_id, ref.id))

    def shape(outcome: assignments.InstallOutcome) -> MarketplaceItemPayload:
        agent = Agent.from_row(outcome.agent)
        item = None
        if outcome.membership is not None:
            item = MarketplaceItem.of(outcome.agent.account_id, agent, outcome.membership, outcome.installed)
        return MarketplaceItemPayload(agent=agent, item=item)

    return await mutate(info, MarketplaceItemPayload, permission=MARKET, plan=plan, shape=shape)
