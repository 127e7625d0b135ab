"""effectiveAccess for the runtime: placement, account, policies and budget read in ONE statement
(access_read.py) — in a tenant transaction, or alone as one function call when no agent is asked about
and the renewal day is known — then decided by decide_access(). Read-only: it reserves nothing
(authorizeUsage does)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.allocation import Allocation
from cockpit_graphql.domain.budgets.cycles import cycle_bounds
from cockpit_graphql.domain.budgets.effective import allocations_of
from cockpit_graphql.domain.budgets.scopes import Placement, Scope
from cockpit_graphql.domain.marketplace import agents_repository as agents_repo
from cockpit_graphql.domain.marketplace import connections_repository as connections_repo
from cockpit_graphql.domain.marketplace.audience import membership
from cockpit_graphql.domain.marketplace.connection_access import may_use, may_use_personal
from cockpit_graphql.domain.policies.access import AccessDecision, AccessRequest, decide_access
from cockpit_graphql.domain.policies.access_read import AccessRead, read_access, read_access_alone
from cockpit_graphql.domain.policies.effective import PolicyInputs, PolicyView, views
from cockpit_graphql.domain.policies.flags import FlagDefinition
from cockpit_graphql.domain.policies.records import ModelRecord
from cockpit_graphql.domain.policies.resolve import AgentGuardrailOverride, AgentOwnership
from cockpit_graphql.domain.policies.settings import GuardrailState


@dataclass(frozen=True)
class AccessAnswer:
    placement: Placement
    view: PolicyView
    allocation: Allocation
    decision: AccessDecision
    connection_ids: tuple[uuid.UUID, ...] | None = None  # with an agent: its connections the user may use
    agent_id: uuid.UUID | None = None
    model: ModelRecord | None = None  # the catalog row of decision.model, read with the policy inputs


@dataclass(frozen=True)
class _AgentRun:
    """What running an agent changes: its model, its guardrail override, its connections."""

    available: bool
    model: uuid.UUID | None
    override: AgentGuardrailOverride | None
    connections: tuple[uuid.UUID, ...]  # its connections the user may use when personal ones are usable
    assigned_connections: tuple[uuid.UUID, ...]  # the same without personal ones (ADMIN_MANAGED)


async def _agent_runs(
    session: AsyncSession, asks: Sequence[tuple[uuid.UUID, AccessRequest]], chains: Mapping[uuid.UUID, list[Scope]]
) -> dict[tuple[uuid.UUID, uuid.UUID], _AgentRun]:
    """For every (user, agent) asked about: three statements in all (agents, assignments,
    connection facts). Availability is the audience rule; an unknown agent is simply unavailable."""
    wanted = {r.agent_id for u, r in asks if r.agent_id is not None and u in chains}
    if not wanted:
        return {}
    agents = await agents_repo.agents_by_ids(session, wanted)
    assigned = await agents_repo.assignments_of(session, agents)
    facts = await connections_repo.facts(session, {c for a in agents.values() for c in a.connection_ids})
    runs: dict[tuple[uuid.UUID, uuid.UUID], _AgentRun] = {}
    for user, request in asks:
        if request.agent_id is None or user not in chains:
            continue
        agent, chain = agents.get(request.agent_id), chains[user]
        if agent is None:
            runs[(user, request.agent_id)] = _AgentRun(False, None, None, (), ())
            continue
        member = membership(agents_repo.facts(agent), chain, assigned[agent.id])
        ownership = AgentOwnership.PERSONAL if agents_repo.is_personal(agent) else AgentOwnership.ADMIN
        states = {uuid.UUID(g): GuardrailState(s) for g, s in agent.guardrail_overrides.items()}
        known = [c for c in agent.connection_ids if c in facts]
        runs[(user, agent.id)] = _AgentRun(
            member is not None,
            agent.model_id,
            AgentGuardrailOverride(ownership, states),
            tuple(c for c in known if may_use(facts[c], chain, personal=True)),
            tuple(c for c in known if may_use(facts[c], chain, personal=False)),
        )
    return runs


async def effective_access(
    session: AsyncSession,
    tenant: TenantId,
    asks: Sequence[tuple[uuid.UUID, AccessRequest]],
    registry: Mapping[str, FlagDefinition],
    now: datetime,
) -> list[AccessAnswer | None]:
    """Answers for many (user, request) pairs of one account in the same statements as one, in the
    session's tenant transaction: the placements, the policy inputs of every chain and the budget
    snapshot in one statement (and, when agents are asked about, their rows, assignments and
    connections). None for a user who is not in this account."""
    day = await budget_repo.renewal_day(session)  # remembered per process once the account has a plan
    start = cycle_bounds(day, now)[0] if day is not None else None
    read = await read_access(session, tenant, [user for user, _ in asks], start)
    runs = await _agent_runs(session, asks, _chains(read))
    return _answers(read, asks, registry, runs)


async def effective_access_alone(
    db: Database,
    tenant: TenantId,
    asks: Sequence[tuple[uuid.UUID, AccessRequest]],
    registry: Mapping[str, FlagDefinition],
    now: datetime,
    renewal_day: int,
) -> list[AccessAnswer | None]:
    """The same answers without a transaction, in one round trip (read_access_alone), where nothing
    else is needed: no agent asked about, and the account's renewal day known to this process."""
    if any(request.agent_id is not None for _, request in asks):
        raise ValueError("an agent's audience and connections are read in a tenant transaction")
    read = await read_access_alone(db, tenant, [user for user, _ in asks], cycle_bounds(renewal_day, now)[0])
    return _answers(read, asks, registry, {})


def _chains(read: AccessRead) -> dict[uuid.UUID, list[Scope]]:
    return {user: p.chain() for user, p in read.placements.items()}


def _answers(
    read: AccessRead,
    asks: Sequence[tuple[uuid.UUID, AccessRequest]],
    registry: Mapping[str, FlagDefinition],
    runs: Mapping[tuple[uuid.UUID, uuid.UUID], _AgentRun],
) -> list[AccessAnswer | None]:
    """Every answer decided by decide_access() from one read (and the agents' runs)."""
    chains = _chains(read)
    if not chains:
        return [None] * len(asks)
    ordered = list(chains.values())
    inputs = PolicyInputs.of(read.inputs)
    by_user = dict(zip(chains, views(inputs, ordered, registry), strict=True))
    budgets = dict(zip(chains, allocations_of(read.snapshot, ordered, {}), strict=True))  # users have no children
    answers: list[AccessAnswer | None] = []
    for user, request in asks:
        if user not in chains:
            answers.append(None)
            continue
        view, allocation, connections = by_user[user], budgets[user], None
        available = True
        if request.agent_id is not None:
            run = runs[(user, request.agent_id)]
            available = run.available
            connections = run.connections if may_use_personal(view.policy) else run.assigned_connections
            if run.override is not None:  # the agent's guardrail override applies last
                view = views(inputs, [chains[user]], registry, run.override)[0]
            request = replace(request, agent_model=run.model)
        decision = decide_access(view.policy, allocation, inputs.account_active, request, available)
        model = inputs.model(decision.model)
        answers.append(
            AccessAnswer(read.placements[user], view, allocation, decision, connections, request.agent_id, model)
        )
    return answers
