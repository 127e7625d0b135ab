"""Assignments (admins offer a published agent to scopes) and installs (members add an AVAILABLE
agent to their workspace). Who is in an agent's audience is decided by `audience.membership()` only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Agent, AgentAssignment, AgentInstall
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.directory.scopes import ensure_scope_exists
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from cockpit_graphql.domain.marketplace import agents_repository as repo
from cockpit_graphql.domain.marketplace.audience import AgentStatus, AssignmentMode, Membership, Via, membership


def _no_agent(field: str = "agentId") -> UserInputError:
    return UserInputError.single(field, UserErrorCode.NOT_FOUND, "No agent with this id in this account.")


async def _agent(session: AsyncSession, agent_id: uuid.UUID, lock: bool = False) -> Agent:
    stmt = sa.select(Agent).where(Agent.id == agent_id)
    agent = await session.scalar(stmt.with_for_update() if lock else stmt)
    if agent is None:
        raise _no_agent()
    return agent


def _scope_doc(scope: Scope, mode: str | None) -> dict[str, object]:
    return {"scopeLevel": scope.level.value, "scopeId": str(scope.id), "mode": mode}


async def assign_agent(
    session: AsyncSession, tenant: TenantId, op: Operation, agent_id: uuid.UUID, scope: Scope, mode: AssignmentMode
) -> Agent:
    """Offer a PUBLISHED agent to a scope as AVAILABLE or INSTALLED; assigning again changes the mode."""
    agent = await _agent(session, agent_id, lock=True)
    if AgentStatus(agent.status) is not AgentStatus.PUBLISHED:
        raise UserInputError.single(
            "agentId", UserErrorCode.ILLEGAL_TRANSITION, f"Only a PUBLISHED agent can be assigned ({agent.status})."
        )
    await ensure_scope_exists(session, tenant, scope, "scopeId")
    current = await session.scalar(
        sa.select(AgentAssignment.mode).where(
            AgentAssignment.agent_id == agent.id,
            AgentAssignment.scope_level == scope.level.value,
            AgentAssignment.scope_id == scope.id,
        )
    )
    if current == mode.value:
        raise UserInputError.single("mode", UserErrorCode.NOTHING_TO_CHANGE, "Already assigned there with this mode.")
    stmt = pg_insert(AgentAssignment).values(
        account_id=tenant.value, agent_id=agent.id, scope_level=scope.level.value, scope_id=scope.id, mode=mode.value
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "agent_id", "scope_level", "scope_id"], set_={"mode": stmt.excluded.mode}
        )
    )
    await record(
        session,
        tenant,
        op,
        AuditAction.AGENT_ASSIGNED,
        target_type="Agent",
        target_id=agent.id,
        before=_scope_doc(scope, current),
        after=_scope_doc(scope, mode.value),
    )
    return agent


async def unassign_agent(
    session: AsyncSession, tenant: TenantId, op: Operation, agent_id: uuid.UUID, scope: Scope
) -> Agent:
    """Withdraw an agent from a scope. Members' installs stay recorded (inactive until it reaches them again)."""
    agent = await _agent(session, agent_id, lock=True)
    removed = await session.execute(
        sa.delete(AgentAssignment)
        .where(
            AgentAssignment.agent_id == agent.id,
            AgentAssignment.scope_level == scope.level.value,
            AgentAssignment.scope_id == scope.id,
        )
        .returning(AgentAssignment.mode)
    )
    mode = removed.scalar()
    if mode is None:
        raise UserInputError.single("scopeId", UserErrorCode.NOT_FOUND, "The agent is not assigned to this scope.")
    await record(
        session,
        tenant,
        op,
        AuditAction.AGENT_UNASSIGNED,
        target_type="Agent",
        target_id=agent.id,
        before=_scope_doc(scope, mode),
        after=None,
    )
    return agent


@dataclass(frozen=True)
class InstallOutcome:
    agent: Agent
    membership: Membership | None
    installed: bool


async def _member_view(
    session: AsyncSession, tenant: TenantId, user_id: uuid.UUID, agent: Agent
) -> tuple[list[Scope], Membership | None, bool]:
    placement = (await budget_repo.placements(session, tenant, [user_id])).get(user_id)
    if placement is None:
        raise UserInputError.single("agentId", UserErrorCode.NOT_FOUND, "You are not a user of this account.")
    chain = placement.chain()
    assigned = (await repo.assignments_of(session, [agent.id]))[agent.id]
    installed = agent.id in await repo.installed_by(session, user_id, [agent.id])
    return chain, membership(repo.facts(agent), chain, assigned, installed), installed


async def install_agent(
    session: AsyncSession, tenant: TenantId, op: Operation, user_id: uuid.UUID, agent_id: uuid.UUID
) -> InstallOutcome:
    """A user adds an AVAILABLE agent of their audience to their workspace."""
    agent = await _agent(session, agent_id)
    chain, member, installed = await _member_view(session, tenant, user_id, agent)
    if member is None:
        raise _no_agent()
    if member.via is Via.OWN:
        raise UserInputError.single("agentId", UserErrorCode.NOTHING_TO_CHANGE, "Your own agent is in your workspace.")
    if member.mode is AssignmentMode.INSTALLED:
        raise UserInputError.single(
            "agentId", UserErrorCode.INVALID, "Admins installed this agent for you; it is already in your workspace."
        )
    if installed:
        raise UserInputError.single("agentId", UserErrorCode.NOTHING_TO_CHANGE, "You have installed it already.")
    session.add(AgentInstall(account_id=tenant.value, agent_id=agent.id, user_id=user_id))
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.AGENT_INSTALLED,
        target_type="Agent",
        target_id=agent.id,
        after={"userId": str(user_id)},
    )
    after = membership(repo.facts(agent), chain, (await repo.assignments_of(session, [agent.id]))[agent.id], True)
    return InstallOutcome(agent, after, True)


async def uninstall_agent(
    session: AsyncSession, tenant: TenantId, op: Operation, user_id: uuid.UUID, agent_id: uuid.UUID
) -> InstallOutcome:
    """A user removes an agent they installed themselves. An INSTALLED assignment cannot be removed;
    an inactive install (the user is outside the audience now) can always be cleaned up."""
    agent = await _agent(session, agent_id)
    chain, member, installed = await _member_view(session, tenant, user_id, agent)
    if not installed:
        if member is None:
            raise _no_agent()
        raise UserInputError.single("agentId", UserErrorCode.NOTHING_TO_CHANGE, "You have not installed this agent.")
    if member is not None and member.mode is AssignmentMode.INSTALLED:
        raise UserInputError.single(
            "agentId", UserErrorCode.INVALID, "Admins installed this agent for you; it cannot be removed."
        )
    await session.execute(
        sa.delete(AgentInstall).where(AgentInstall.agent_id == agent.id, AgentInstall.user_id == user_id)
    )
    await record(
        session,
        tenant,
        op,
        AuditAction.AGENT_UNINSTALLED,
        target_type="Agent",
        target_id=agent.id,
        before={"userId": str(user_id)},
        after=None,
    )
    after = membership(repo.facts(agent), chain, (await repo.assignments_of(session, [agent.id]))[agent.id], False)
    return InstallOutcome(agent, after, False)


async def remove_scope(session: AsyncSession, level: str, scope_id: uuid.UUID) -> None:
    """A deleted organization, team or user takes its assignments with it (the directory calls this);
    archived agents an organization or team owned are kept, owned by the account from then on."""
    await session.execute(
        sa.delete(AgentAssignment).where(AgentAssignment.scope_level == level, AgentAssignment.scope_id == scope_id)
    )
    if level != "USER":
        await session.execute(
            sa.update(Agent)
            .where(Agent.owner_level == level, Agent.owner_id == scope_id)
            .values(owner_level="ACCOUNT", owner_id=Agent.account_id)
        )


async def owns_agents(session: AsyncSession, level: str, scope_id: uuid.UUID) -> bool:
    """Whether an organization or team still owns agents that are not archived (then it cannot be deleted)."""
    stmt = (
        sa.select(sa.literal(1))
        .where(Agent.owner_level == level, Agent.owner_id == scope_id, Agent.status != AgentStatus.ARCHIVED.value)
        .limit(1)
    )
    return await session.scalar(stmt) is not None


async def delete_personal_agents(session: AsyncSession, user_id: uuid.UUID) -> int:
    """A deleted user takes their personal agents (with versions, assignments, installs) with them."""
    result = await session.execute(sa.delete(Agent).where(Agent.owner_level == "USER", Agent.owner_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
