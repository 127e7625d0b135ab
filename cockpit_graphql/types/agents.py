"""Agent types: the Agent entity, its versions, assignments, guardrail overrides and audience."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import Agent as AgentRow
from cockpit_graphql.db.tables import AgentVersion as AgentVersionRow
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.errors import Forbidden
from cockpit_graphql.domain.marketplace import marketplace
from cockpit_graphql.domain.marketplace.audience import AgentStatus, AssignmentMode, Membership, Via
from cockpit_graphql.domain.pagination import Ordering, SortDirection, SortKind, page_in_memory
from cockpit_graphql.domain.policies.settings import GuardrailState
from cockpit_graphql.domain.roles import Permission, has_permission
from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.connections import ConnectionNode, readable_connection
from cockpit_graphql.types.directory import User, page_request
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import decode_id, encode_id
from cockpit_graphql.types.models import Model, model_of
from cockpit_graphql.types.node import Node
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last
from cockpit_graphql.types.policies import Guardrail, GuardrailStateEnum

AgentStatusEnum = described_enum(
    AgentStatus,
    name="AgentStatus",
    description="DRAFT (being written; only its owner's), PUBLISHED (assignable, runs for its audience), "
    "ARCHIVED (final: leaves every marketplace and workspace and cannot run).",
    values={
        "DRAFT": "Being written: cannot be assigned, so it reaches nobody but the owner of a personal agent; the "
        "only status that can be deleted.",
        "PUBLISHED": "Assignable to scopes; runs for its audience (the users of the scopes it is assigned to, and "
        "its owner for a personal agent).",
        "ARCHIVED": "Final: the agent leaves every marketplace and workspace, cannot run and cannot be edited.",
    },
)
AssignmentModeEnum = described_enum(
    AssignmentMode,
    name="AssignmentMode",
    description="AVAILABLE: listed in the audience's marketplace, members install it themselves. INSTALLED: "
    "already in the audience's workspace; members cannot remove it.",
    values={
        "AVAILABLE": "Listed in the marketplace of the scope's users; each member installs or uninstalls it "
        "themselves.",
        "INSTALLED": "Already in the workspace of the scope's users; members cannot remove it.",
    },
)
AgentViaEnum = described_enum(
    Via,
    name="AgentVia",
    description="How an agent reaches a user: OWN (their personal agent) or ASSIGNED (to a scope of their chain).",
    values={
        "OWN": "The user's own personal agent (any status but ARCHIVED).",
        "ASSIGNED": "A published agent assigned to a scope of the user's chain (account, organization, team or user).",
    },
)

VERSIONS = Ordering("version", SortDirection.DESC, SortKind.INTEGER)


def connection_gid(account_id: uuid.UUID, connection_id: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(encode_id("Connection", account_id, connection_id))


def is_owner(info: Info, row: AgentRow) -> bool:
    principal = info.context.require_principal()
    return row.owner_level == ScopeLevel.USER.value and principal.user_id == row.owner_id


def can_read_definition(info: Info, row: AgentRow) -> bool:
    """Instructions and history: admins of the account (and super admins), and the owner of a personal agent."""
    return has_permission(info.context.require_principal().role, Permission.READ_ASSETS) or is_owner(info, row)


@strawberry.type(description="An agent's override of one guardrail, applied after the scopes of the chain.")
class AgentGuardrailOverride:
    guardrail: Guardrail = strawberry.field(description="The guardrail.")
    state: GuardrailStateEnum = strawberry.field(description="ENABLED or DISABLED for this agent.")  # type: ignore[valid-type]


async def overrides_of(info: Info, account_id: uuid.UUID, overrides: dict[str, str]) -> list[AgentGuardrailOverride]:
    """The overrides of guardrails that still exist, by guardrail name."""
    keys = [(account_id, uuid.UUID(g)) for g in overrides]
    rows = await info.context.policies.guardrail.load_many(keys)
    out = [
        AgentGuardrailOverride(guardrail=Guardrail.from_row(row), state=GuardrailState(overrides[str(row.id)]))
        for row in rows
        if row is not None
    ]
    return sorted(out, key=lambda o: (o.guardrail.name, o.guardrail.id))


@strawberry.type(description="A scope an agent is assigned to, and how.")
class AgentAssignment:
    scope: BudgetScope = strawberry.field(description="The account, organization, team or user.")
    mode: AssignmentModeEnum = strawberry.field(description="AVAILABLE or INSTALLED.")  # type: ignore[valid-type]


@dataclass(frozen=True)
class _VersionEntry:
    id: uuid.UUID  # the agent (constant within one history: the cursor's tie-breaker)
    version: int
    row: AgentVersionRow


@strawberry.type(description="An agent's definition as of one version (every edit appends one).")
class AgentVersion:
    version: int = strawberry.field(description="The version number (1 for the first definition).")
    created_at: datetime = strawberry.field(description="When this version was written.")
    author: str | None = strawberry.field(description="Who wrote it (the actor's label).")
    name: str = strawberry.field(description="The name at this version.")
    description: str = strawberry.field(description="The description at this version.")
    category: str | None = strawberry.field(description="The category at this version.")
    tags: list[str] = strawberry.field(description="The tags at this version.")
    instructions: str = strawberry.field(description="The instructions at this version.")
    connections: list[strawberry.ID] = strawberry.field(description="Global ids of the connections it could call.")
    _model_id: strawberry.Private[uuid.UUID | None]
    _account_id: strawberry.Private[uuid.UUID]
    _overrides: strawberry.Private[dict[str, str]]

    @classmethod
    def from_row(cls, row: AgentVersionRow) -> AgentVersion:
        doc: dict[str, Any] = row.snapshot
        model = doc.get("modelId")
        return cls(
            version=row.version,
            created_at=row.created_at,
            author=row.actor,
            name=doc.get("name", ""),
            description=doc.get("description", ""),
            category=doc.get("category"),
            tags=list(doc.get("tags", [])),
            instructions=doc.get("instructions", ""),
            connections=[connection_gid(row.account_id, uuid.UUID(c)) for c in doc.get("connectionIds", [])],
            _model_id=uuid.UUID(model) if model else None,
            _account_id=row.account_id,
            _overrides=dict(doc.get("guardrailOverrides", {})),
        )

    @strawberry.field(description="The model at this version (null when none, or removed from the catalog).")
    async def model(self, info: Info) -> Model | None:
        return await model_of(info, self._model_id)

    @strawberry.field(description="The guardrail overrides at this version (of guardrails that still exist).")
    async def guardrail_overrides(self, info: Info) -> list[AgentGuardrailOverride]:
        return await overrides_of(info, self._account_id, self._overrides)


@strawberry.type(description="A user of an agent's audience, and how the agent reaches them.")
class AudienceMember:
    user: User = strawberry.field(description="The user.")
    via: AgentViaEnum = strawberry.field(description="OWN (the owner of a personal agent) or ASSIGNED.")  # type: ignore[valid-type]
    mode: AssignmentModeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="INSTALLED when any assignment of the user's chain installs it, AVAILABLE otherwise; null "
        "when it reaches the user only by ownership."
    )
    in_workspace: bool = strawberry.field(description="In the user's workspace (installed, by admins or by them).")
    installed_by_user: bool = strawberry.field(description="The user installed it themselves.")
    assigned_at: list[BudgetScope] = strawberry.field(
        description="The scopes of the user's chain it is assigned to, account first."
    )

    @classmethod
    def of(cls, account_id: uuid.UUID, m: marketplace.AudienceMember) -> AudienceMember:
        return cls(
            user=User.from_row(m.user),
            via=m.membership.via,
            mode=m.membership.mode,
            in_workspace=m.membership.in_workspace,
            installed_by_user=m.installed,
            assigned_at=[BudgetScope.of(account_id, s) for s in m.membership.assigned_at],
        )


@strawberry.type(description="How many users of the audience one assignment reaches.")
class AudienceScopeCount:
    scope: BudgetScope = strawberry.field(description="The assigned scope.")
    mode: AssignmentModeEnum = strawberry.field(description="The assignment's mode.")  # type: ignore[valid-type]
    users: int = strawberry.field(
        description="Users of the audience under this scope (a user under two assigned scopes counts in both)."
    )


@strawberry.type(
    name="AgentAudienceConnection",
    description="The users who may discover and run an agent (its audience), with counts per assigned scope.",
)
class AgentAudienceConnection(Connection[AudienceMember]):
    _summary: strawberry.Private[Callable[[], Awaitable[marketplace.AudienceSummary]] | None] = None
    _account_id: strawberry.Private[uuid.UUID | None] = None

    @strawberry.field(description="Per assigned scope: how many users of the audience it reaches.")
    async def counts_by_scope(self) -> list[AudienceScopeCount]:
        assert self._summary is not None and self._account_id is not None
        summary = await self._summary()
        return [
            AudienceScopeCount(scope=BudgetScope.of(self._account_id, c.scope), mode=c.mode, users=c.users)
            for c in summary.by_scope
        ]

    @strawberry.field(description="How many users of the audience have the agent in their workspace.")
    async def in_workspace_count(self) -> int:
        assert self._summary is not None
        return (await self._summary()).in_workspace


def _memo(load: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    cell: list[Any] = []

    async def once() -> Any:
        if not cell:
            cell.append(await load())
        return cell[0]

    return once


@strawberry.federation.type(
    keys=["id"],
    description="An AI agent: instructions, a model, the connections it may call and its guardrail overrides. "
    "Owned by the account, an organization, a team, or a user (a personal agent). Admins see every agent of "
    "their account; members see their own and those of their audience.",
)
class Agent(Node):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    name: str = strawberry.field(description="Its name (1–200 characters).")
    description: str = strawberry.field(description="What it does (at most 2,000 characters).")
    category: str | None = strawberry.field(description="A category for the marketplace (at most 100 characters).")
    tags: list[str] = strawberry.field(description="Lower-case tags (at most 20 of 50 characters).")
    status: AgentStatusEnum = strawberry.field(description="DRAFT, PUBLISHED or ARCHIVED.")  # type: ignore[valid-type]
    version: int = strawberry.field(description="The current version: every edit of the definition adds one.")
    personal: bool = strawberry.field(description="A member's personal agent (owned by a user).")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    row: strawberry.Private[AgentRow]

    @classmethod
    def from_row(cls, row: AgentRow) -> Agent:
        return cls(
            id=strawberry.ID(encode_id("Agent", row.account_id, row.id)),
            name=row.name,
            description=row.description,
            category=row.category,
            tags=list(row.tags),
            status=AgentStatus(row.status),
            version=row.version,
            personal=row.owner_level == ScopeLevel.USER.value,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Agent | None:
        return await load_agent(info, id)

    @strawberry.field(description="Its instructions (the system prompt); null unless you are an admin or its owner.")
    def instructions(self, info: Info) -> str | None:
        return self.row.instructions if can_read_definition(info, self.row) else None

    @strawberry.field(
        description="Its model (used when allowed for whoever runs it, else the default model); null when none."
    )
    async def model(self, info: Info) -> Model | None:
        return await model_of(info, self.row.model_id)

    @strawberry.field(description="Global ids of the connections it may call (limited at run time to the user's).")
    def connection_ids(self) -> list[strawberry.ID]:
        return [connection_gid(self.row.account_id, c) for c in self.row.connection_ids]

    @strawberry.field(
        description="The connections it may call that the caller may read (never their secrets): all of them for "
        "an account admin, else those the caller may use (assigned to their chain, or their own); when a user "
        "runs it, only those the user may use (see effectiveAccess.connections). Deleted connections drop out."
    )
    async def connections(self, info: Info) -> list[ConnectionNode]:
        # The one read rule of a connection: seeing an agent never shows a connection, its configuration or
        # its owner that the caller could not read by id.
        account = self.row.account_id
        found = await asyncio.gather(*(readable_connection(info, account, c) for c in self.row.connection_ids))
        return [c for c in found if c is not None]

    @strawberry.field(description="Its guardrail overrides, applied after the scopes of the runner's chain.")
    async def guardrail_overrides(self, info: Info) -> list[AgentGuardrailOverride]:
        return await overrides_of(info, self.row.account_id, self.row.guardrail_overrides)

    @strawberry.field(description="The scope that owns it (a USER scope for a personal agent).")
    def owner(self) -> BudgetScope:
        return BudgetScope.of(self.row.account_id, Scope(ScopeLevel(self.row.owner_level), self.row.owner_id))

    @strawberry.field(description="Its history, newest first (admins and its owner).")
    async def versions(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[AgentVersion]:
        if not can_read_definition(info, self.row):
            raise Forbidden("Only admins and its owner read an agent's history.")
        request = page_request(info, first, after, last, before)
        rows = await info.context.agents.versions.load((self.row.account_id, self.row.id))
        entries = [_VersionEntry(self.row.id, r.version, r) for r in rows]
        page = page_in_memory(entries, request, VERSIONS)

        async def count() -> int:
            return len(entries)

        return Connection(_page=page, _ordering=VERSIONS, _to_node=lambda e: AgentVersion.from_row(e.row), _count=count)

    @strawberry.field(description="The scopes it is assigned to (admins and the owner of a personal agent).")
    async def assignments(self, info: Info) -> list[AgentAssignment]:
        if not can_read_definition(info, self.row):
            raise Forbidden("Only admins read an agent's assignments.")
        found = await info.context.agents.assignments.load((self.row.account_id, self.row.id))
        return [AgentAssignment(scope=BudgetScope.of(self.row.account_id, a.scope), mode=a.mode) for a in found]

    @strawberry.field(
        description="Who may discover and run it: the users of its audience (by email), with counts per assigned "
        "scope. Admins only."
    )
    async def audience(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> AgentAudienceConnection:
        ctx = info.context
        ctx.require(Permission.READ_ASSETS)
        request = page_request(info, first, after, last, before)
        row = self.row
        tenant = ctx.tenant_for(row.account_id)
        assert tenant is not None  # the agent was loaded in this account
        async with ctx.db.tenant(tenant) as session:
            page = await marketplace.audience_page(session, tenant, row, request)

        async def summary() -> marketplace.AudienceSummary:
            async with ctx.db.tenant(tenant) as session:
                return await marketplace.audience_summary(session, tenant, row)

        once = _memo(summary)

        async def count() -> int:
            return int((await once()).total)

        return AgentAudienceConnection(
            _page=page,
            _ordering=marketplace.BY_EMAIL,
            _to_node=lambda m: AudienceMember.of(row.account_id, m),
            _count=count,
            _summary=once,
            _account_id=row.account_id,
        )


def membership_visible(principal_user: uuid.UUID | None, row: AgentRow, member: Membership | None) -> bool:
    """A member sees an agent of their audience, and their own personal agents whatever their status."""
    own = row.owner_level == ScopeLevel.USER.value and row.owner_id == principal_user
    return own or member is not None


async def load_agent(info: Info, gid: str) -> Agent | None:
    """An agent by global id: admins (READ_ASSETS) any of their account; members only their own and
    those of their audience (the audience rule); anything else is null, as if it did not exist."""
    principal = info.context.require_principal()
    ref = decode_id(gid)
    if ref is None or ref.type_name != "Agent":
        return None
    key = (ref.account_id, ref.id)
    if has_permission(principal.role, Permission.READ_ASSETS):
        row = await info.context.agents.agent.load(key)
        return Agent.from_row(row) if row else None
    found = await info.context.agents.viewer_membership.load(key)
    if found is None:
        return None
    row, member = found
    return Agent.from_row(row) if membership_visible(principal.user_id, row, member) else None
