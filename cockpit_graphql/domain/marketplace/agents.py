"""Agents: create, edit (versioned), publish, archive, delete (docs/marketplace.md).

Who may do what: admins (MANAGE_ASSETS) manage agents owned by the account, an organization or a
team; a user manages their own personal agent (created only while CREATE_AGENTS resolves true for
them); admins may also archive or delete a member's personal agent (governance), never edit it.
For anyone else an agent they do not manage is "not found". Every change is one transaction with
its audit event; every edit of the definition bumps `version` and appends an AgentVersion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Agent, AgentVersion, CatalogModel, Connection, GuardrailDefinition
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.directory.scopes import ensure_scope_exists
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.marketplace.audience import AgentStatus
from cockpit_graphql.domain.policies.settings import GuardrailState
from cockpit_graphql.domain.roles import Permission, has_permission
from cockpit_graphql.domain.validation import clean_name

MAX_NAME = 200
MAX_DESCRIPTION = 2_000
MAX_CATEGORY = 100
MAX_TAGS = 20
MAX_TAG = 50
MAX_INSTRUCTIONS = 20_000
MAX_CONNECTIONS = 50
MAX_OVERRIDES = 100


class _Keep(Enum):
    KEEP = "KEEP"


KEEP = _Keep.KEEP
"""An optional field left out of an update: keep the current value (None clears where allowed)."""


@dataclass(frozen=True)
class AgentChanges:
    """A create (every field given or defaulted) or an update (KEEP = unchanged)."""

    name: str | _Keep = KEEP
    description: str | _Keep = KEEP
    category: str | _Keep | None = KEEP
    tags: Sequence[str] | _Keep = KEEP
    instructions: str | _Keep = KEEP
    model_id: uuid.UUID | _Keep | None = KEEP
    connection_ids: Sequence[uuid.UUID] | _Keep = KEEP
    guardrail_overrides: Sequence[tuple[uuid.UUID, GuardrailState]] | _Keep = KEEP


# --- transitions ---------------------------------------------------------------------------------

TRANSITIONS: dict[AgentStatus, frozenset[AgentStatus]] = {
    AgentStatus.DRAFT: frozenset({AgentStatus.PUBLISHED, AgentStatus.ARCHIVED}),
    AgentStatus.PUBLISHED: frozenset({AgentStatus.ARCHIVED}),
    AgentStatus.ARCHIVED: frozenset(),  # final
}


def can_transition(current: AgentStatus, target: AgentStatus) -> bool:
    return target in TRANSITIONS[current]


def can_delete(current: AgentStatus) -> bool:
    """Only drafts are deleted; anything that was ever published is archived instead (history stays)."""
    return current is AgentStatus.DRAFT


# --- snapshots ------------------------------------------------------------------------------------


def definition(agent: Agent) -> dict[str, Any]:
    """The versioned definition of an agent (what an AgentVersion stores)."""
    return {
        "name": agent.name,
        "description": agent.description,
        "category": agent.category,
        "tags": list(agent.tags),
        "instructions": agent.instructions,
        "modelId": str(agent.model_id) if agent.model_id else None,
        "connectionIds": [str(c) for c in agent.connection_ids],
        "guardrailOverrides": dict(sorted(agent.guardrail_overrides.items())),
    }


def _audit_doc(agent: Agent) -> dict[str, Any]:
    doc = definition(agent)
    doc["instructions"] = f"<{len(agent.instructions)} characters>"  # long texts stay out of the diff
    return {**doc, "status": agent.status, "version": agent.version, "owner": f"{agent.owner_level}:{agent.owner_id}"}


# --- validation -----------------------------------------------------------------------------------


def _text(value: str, field: str, limit: int, problems: list[UserErrorItem]) -> str:
    text = value.strip()
    if len(text) > limit:
        problems.append(
            UserErrorItem((field,), UserErrorCode.TOO_LONG, f"`{field}` is longer than {limit} characters.")
        )
    return text


def clean_tags(values: Sequence[str], problems: list[UserErrorItem]) -> list[str]:
    """Lower-cased, inner whitespace collapsed, blanks and duplicates dropped, order kept."""
    out: list[str] = []
    for i, raw in enumerate(values):
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            problems.append(
                UserErrorItem(("tags", str(i)), UserErrorCode.TOO_LONG, f"A tag is at most {MAX_TAG} characters.")
            )
        elif tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        problems.append(UserErrorItem(("tags",), UserErrorCode.INVALID, f"At most {MAX_TAGS} tags."))
    return out


async def _apply(
    session: AsyncSession, agent: Agent, changes: AgentChanges, personal: bool, problems: list[UserErrorItem]
) -> None:
    """Validate `changes` and write them onto `agent` (nothing is flushed when problems remain)."""
    if changes.name is not KEEP:
        try:
            agent.name = clean_name(changes.name, "name", MAX_NAME)
        except UserInputError as exc:
            problems.extend(exc.errors)
    if changes.description is not KEEP:
        agent.description = _text(changes.description, "description", MAX_DESCRIPTION, problems)
    if changes.category is not KEEP:
        category = " ".join(changes.category.split()) if changes.category is not None else ""
        if len(category) > MAX_CATEGORY:
            problems.append(
                UserErrorItem(
                    ("category",), UserErrorCode.TOO_LONG, f"`category` is at most {MAX_CATEGORY} characters."
                )
            )
        agent.category = category or None
    if changes.tags is not KEEP:
        agent.tags = clean_tags(changes.tags, problems)
    if changes.instructions is not KEEP:
        agent.instructions = _text(changes.instructions, "instructions", MAX_INSTRUCTIONS, problems)
    if changes.model_id is not KEEP:
        if changes.model_id is not None:
            found = await session.scalar(sa.select(CatalogModel.id).where(CatalogModel.id == changes.model_id))
            if found is None:
                problems.append(UserErrorItem(("modelId",), UserErrorCode.NOT_FOUND, "No such model in the catalog."))
        agent.model_id = changes.model_id
    if changes.connection_ids is not KEEP:
        wanted = list(dict.fromkeys(changes.connection_ids))
        if len(wanted) > MAX_CONNECTIONS:
            problems.append(
                UserErrorItem(("connectionIds",), UserErrorCode.INVALID, f"At most {MAX_CONNECTIONS} connections.")
            )
        elif wanted:
            known = set((await session.scalars(sa.select(Connection.id).where(Connection.id.in_(wanted)))).all())
            problems += [
                UserErrorItem(("connectionIds", str(i)), UserErrorCode.NOT_FOUND, "No such connection in this account.")
                for i, c in enumerate(changes.connection_ids)
                if c not in known
            ]
        agent.connection_ids = wanted
    if changes.guardrail_overrides is not KEEP:
        agent.guardrail_overrides = await _overrides(session, changes.guardrail_overrides, personal, problems)


async def _overrides(
    session: AsyncSession,
    values: Sequence[tuple[uuid.UUID, GuardrailState]],
    personal: bool,
    problems: list[UserErrorItem],
) -> dict[str, str]:
    """The whole override set: guardrails of this account, each once; a personal agent may only ENABLE."""
    if len(values) > MAX_OVERRIDES:
        problems.append(UserErrorItem(("guardrailOverrides",), UserErrorCode.INVALID, "Too many overrides."))
        return {}
    ids = [g for g, _ in values]
    known: set[uuid.UUID] = set()
    if ids:
        stmt = sa.select(GuardrailDefinition.id).where(GuardrailDefinition.id.in_(set(ids)))
        known = set((await session.scalars(stmt)).all())
    out: dict[str, str] = {}
    for i, (guardrail, state) in enumerate(values):
        path = ("guardrailOverrides", str(i))
        if guardrail not in known:
            problems.append(UserErrorItem((*path, "guardrailId"), UserErrorCode.NOT_FOUND, "No such guardrail."))
        elif str(guardrail) in out:
            problems.append(UserErrorItem((*path, "guardrailId"), UserErrorCode.DUPLICATE, "Override it only once."))
        elif personal and state is not GuardrailState.ENABLED:
            problems.append(
                UserErrorItem(
                    (*path, "state"),
                    UserErrorCode.INVALID,
                    "A personal agent may only enable guardrails, never disable one.",
                )
            )
        else:
            out[str(guardrail)] = state.value
    return out


# --- who may manage -------------------------------------------------------------------------------


def is_admin(op: Operation) -> bool:
    return has_permission(op.actor.role, Permission.MANAGE_ASSETS)


def _not_found(field: str = "id") -> UserInputError:
    return UserInputError.single(field, UserErrorCode.NOT_FOUND, "No agent with this id in this account.")


async def managed_agent(
    session: AsyncSession, op: Operation, agent_id: uuid.UUID, *, governance: bool = False, field: str = "id"
) -> Agent:
    """The agent, locked, if the actor manages it: admins manage non-personal agents (and, with
    `governance`, archive or delete personal ones); a user manages their own personal agents."""
    agent = await session.scalar(sa.select(Agent).where(Agent.id == agent_id).with_for_update())
    if agent is None:
        raise _not_found(field)
    personal = agent.owner_level == ScopeLevel.USER.value
    own = personal and op.actor.user_id == agent.owner_id
    if own or (is_admin(op) and (not personal or governance)):
        return agent
    if is_admin(op) and personal:
        raise UserInputError.single(
            field, UserErrorCode.INVALID, "A personal agent is edited by its owner; admins may archive or delete it."
        )
    raise _not_found(field)


# --- services -------------------------------------------------------------------------------------


async def _snapshot_version(session: AsyncSession, tenant: TenantId, op: Operation, agent: Agent) -> None:
    session.add(
        AgentVersion(
            account_id=tenant.value,
            agent_id=agent.id,
            version=agent.version,
            snapshot=definition(agent),
            actor=op.actor.label,
        )
    )


async def create_agent(
    session: AsyncSession, tenant: TenantId, op: Operation, owner: Scope, changes: AgentChanges
) -> Agent:
    """A DRAFT agent at version 1. The caller checked who may own it (admins: account, organization,
    team; a user: themself, when CREATE_AGENTS resolves true for them)."""
    await ensure_scope_exists(session, tenant, owner, "ownerId")
    personal = owner.level is ScopeLevel.USER
    agent = Agent(
        account_id=tenant.value,
        id=uuid.uuid4(),
        name="",
        owner_level=owner.level.value,
        owner_id=owner.id,
        status=AgentStatus.DRAFT.value,
        version=1,
        tags=[],
        connection_ids=[],
        guardrail_overrides={},
    )
    problems: list[UserErrorItem] = []
    if changes.name is KEEP:
        problems.append(UserErrorItem(("name",), UserErrorCode.REQUIRED, "`name` is required."))
    await _apply(session, agent, changes, personal, problems)
    if problems:
        raise UserInputError(*problems)
    session.add(agent)
    await session.flush()
    await _snapshot_version(session, tenant, op, agent)
    await session.flush()
    await session.refresh(agent)
    await record(
        session, tenant, op, AuditAction.AGENT_CREATED, target_type="Agent", target_id=agent.id, after=_audit_doc(agent)
    )
    return agent


async def update_agent(
    session: AsyncSession, tenant: TenantId, op: Operation, agent_id: uuid.UUID, changes: AgentChanges
) -> Agent:
    """Edit the definition: a new version (and its snapshot) when anything changed. Drafts and
    published agents can be edited (a published edit is live at once); archived ones cannot."""
    agent = await managed_agent(session, op, agent_id)
    if AgentStatus(agent.status) is AgentStatus.ARCHIVED:
        raise UserInputError.single("id", UserErrorCode.ILLEGAL_TRANSITION, "An archived agent cannot be edited.")
    before_def, before = definition(agent), _audit_doc(agent)
    problems: list[UserErrorItem] = []
    await _apply(session, agent, changes, agent.owner_level == ScopeLevel.USER.value, problems)
    if problems:
        raise UserInputError(*problems)
    if definition(agent) == before_def:
        raise UserInputError.single("id", UserErrorCode.NOTHING_TO_CHANGE, "Nothing to change.")
    agent.version += 1
    agent.updated_at = datetime.now(UTC)
    await session.flush()
    await _snapshot_version(session, tenant, op, agent)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.AGENT_UPDATED,
        target_type="Agent",
        target_id=agent.id,
        before=before,
        after=_audit_doc(agent),
    )
    return agent


async def transition_agent(
    session: AsyncSession, tenant: TenantId, op: Operation, agent_id: uuid.UUID, target: AgentStatus
) -> Agent:
    """DRAFT → PUBLISHED, DRAFT → ARCHIVED, PUBLISHED → ARCHIVED; ARCHIVED is final."""
    agent = await managed_agent(session, op, agent_id, governance=target is AgentStatus.ARCHIVED)
    current = AgentStatus(agent.status)
    if not can_transition(current, target):
        raise UserInputError.single(
            "id", UserErrorCode.ILLEGAL_TRANSITION, f"A {current.value} agent cannot become {target.value}."
        )
    before = _audit_doc(agent)
    agent.status = target.value
    agent.updated_at = datetime.now(UTC)
    await session.flush()
    action = AuditAction.AGENT_PUBLISHED if target is AgentStatus.PUBLISHED else AuditAction.AGENT_ARCHIVED
    await record(
        session, tenant, op, action, target_type="Agent", target_id=agent.id, before=before, after=_audit_doc(agent)
    )
    return agent


async def delete_agent(session: AsyncSession, tenant: TenantId, op: Operation, agent_id: uuid.UUID) -> uuid.UUID:
    """Only a DRAFT is deleted (with its versions); a published or archived agent is archived instead."""
    agent = await managed_agent(session, op, agent_id, governance=True)
    if not can_delete(AgentStatus(agent.status)):
        raise UserInputError.single(
            "id", UserErrorCode.ILLEGAL_TRANSITION, "Only a DRAFT agent can be deleted; archive it instead."
        )
    before = _audit_doc(agent)
    await session.delete(agent)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.AGENT_DELETED,
        target_type="Agent",
        target_id=agent_id,
        before=before,
        after=None,
    )
    return agent_id
