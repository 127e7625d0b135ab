"""Batch reads of agents, their assignments and installs: one statement each, whatever the number of
ids, for the runtime (effectiveAccess), the loaders and the marketplace. Every function runs in the
caller's tenant transaction (explicit account filter + RLS)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import Agent, AgentAssignment, AgentInstall, AgentVersion
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.marketplace.audience import AgentFacts, AgentStatus, Assignment, AssignmentMode, Membership
from cockpit_graphql.domain.marketplace.audience import membership as audience_membership


def facts(agent: Agent) -> AgentFacts:
    """What the audience rule needs to know of an agent row."""
    return AgentFacts(AgentStatus(agent.status), Scope(ScopeLevel(agent.owner_level), agent.owner_id))


def owner_of(agent: Agent) -> Scope:
    return Scope(ScopeLevel(agent.owner_level), agent.owner_id)


def is_personal(agent: Agent) -> bool:
    return agent.owner_level == ScopeLevel.USER.value


async def agents_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Agent]:
    """The agents of the session's account among `ids` (unknown ids are simply absent). One statement."""
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = (await session.scalars(sa.select(Agent).where(Agent.id.in_(wanted)))).all()
    return {row.id: row for row in rows}


async def assignments_of(session: AsyncSession, agent_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Assignment]]:
    """Every assignment of each agent (an agent without any maps to []). One statement."""
    wanted = list(set(agent_ids))
    out: dict[uuid.UUID, list[Assignment]] = {a: [] for a in wanted}
    if not wanted:
        return out
    stmt = (
        sa.select(AgentAssignment.agent_id, AgentAssignment.scope_level, AgentAssignment.scope_id, AgentAssignment.mode)
        .where(AgentAssignment.agent_id.in_(wanted))
        .order_by(AgentAssignment.agent_id, AgentAssignment.scope_level, AgentAssignment.scope_id)
    )
    for agent_id, level, scope_id, mode in (await session.execute(stmt)).all():
        out[agent_id].append(Assignment(Scope(ScopeLevel(level), scope_id), AssignmentMode(mode)))
    return out


async def installed_by(session: AsyncSession, user_id: uuid.UUID, agent_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `agent_ids` the user has installed (recorded installs, active or not). One statement."""
    wanted = list(set(agent_ids))
    if not wanted:
        return set()
    stmt = sa.select(AgentInstall.agent_id).where(AgentInstall.user_id == user_id, AgentInstall.agent_id.in_(wanted))
    return set((await session.scalars(stmt)).all())


async def versions_of(session: AsyncSession, agent_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[AgentVersion]]:
    """The history of each agent, newest first. One statement."""
    wanted = list(set(agent_ids))
    out: dict[uuid.UUID, list[AgentVersion]] = {a: [] for a in wanted}
    if not wanted:
        return out
    stmt = (
        sa.select(AgentVersion)
        .where(AgentVersion.agent_id.in_(wanted))
        .order_by(AgentVersion.agent_id, AgentVersion.version.desc())
    )
    for row in (await session.scalars(stmt)).all():
        out[row.agent_id].append(row)
    return out


async def memberships(
    session: AsyncSession, chain: Sequence[Scope], agents: Sequence[Agent]
) -> dict[uuid.UUID, Membership | None]:
    """The audience rule for one user (its chain) and many agents: two statements (assignments, installs)."""
    ids = [a.id for a in agents]
    assigned = await assignments_of(session, ids)
    installed = await installed_by(session, chain[-1].id, ids)
    return {a.id: audience_membership(facts(a), chain, assigned[a.id], a.id in installed) for a in agents}
