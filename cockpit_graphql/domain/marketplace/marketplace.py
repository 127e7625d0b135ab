"""The member's marketplace and workspace, the admin's audience view and agent list.

SQL only pre-selects candidates (a page of them, keyset-ordered by name/email and id); every answer
about who is in an agent's audience is then decided by `audience.membership()`. The number of
statements per page is constant: the user's placement, one page of candidates, their assignments,
the user's installs (and for an audience page: the page of users, their placements, their installs)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Agent, AgentAssignment, AgentInstall, Team, User
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel, chain_of
from cockpit_graphql.domain.marketplace import agents_repository as repo
from cockpit_graphql.domain.marketplace.audience import AgentStatus, Assignment, AssignmentMode, Membership, membership
from cockpit_graphql.domain.pagination import ROOT, Ordering, Page, PageRequest, count_children, page_children

BY_NAME = Ordering("name")
BY_EMAIL = Ordering("email")


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class AgentSearch:
    """Narrow a list of agents: text in name or description, a category, a tag."""

    search: str | None = None
    category: str | None = None
    tag: str | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.search and self.search.strip():
            pattern = f"%{_escape_like(self.search.strip())}%"
            out.append(sa.or_(Agent.name.ilike(pattern, escape="\\"), Agent.description.ilike(pattern, escape="\\")))
        if self.category is not None and self.category.strip():
            out.append(sa.func.lower(Agent.category) == " ".join(self.category.split()).lower())
        if self.tag is not None and self.tag.strip():
            out.append(Agent.tags.contains([" ".join(self.tag.split()).lower()]))  # type: ignore[attr-defined]
        return out


@dataclass(frozen=True)
class AgentListFilter(AgentSearch):
    """The admin's list: also by status and owner (a level, or one scope)."""

    statuses: tuple[AgentStatus, ...] = ()
    owner_level: ScopeLevel | None = None
    owner: Scope | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        out = super().conditions()
        if self.statuses:
            out.append(Agent.status.in_([s.value for s in self.statuses]))
        if self.owner_level is not None:
            out.append(Agent.owner_level == self.owner_level.value)
        if self.owner is not None:
            out.append(sa.and_(Agent.owner_level == self.owner.level.value, Agent.owner_id == self.owner.id))
        return out


@dataclass(frozen=True)
class MarketItem:
    """An agent of a member's audience, with how it reaches them."""

    agent: Agent
    membership: Membership
    installed: bool  # the user's own install is recorded (and, being in the audience, active)

    @property
    def name(self) -> str:  # the keyset (name, id) of the page
        return self.agent.name

    @property
    def id(self) -> uuid.UUID:
        return self.agent.id


def _in_chain(chain: Sequence[Scope]) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(sa.and_(AgentAssignment.scope_level == s.level.value, AgentAssignment.scope_id == s.id) for s in chain)
    )


def candidates(chain: Sequence[Scope], *, workspace_only: bool) -> sa.ColumnElement[bool]:
    """Pre-selection of the agents that may reach the user of `chain` (membership() decides)."""
    user = chain[-1]
    assigned = sa.and_(AgentAssignment.agent_id == Agent.id, _in_chain(chain))
    if workspace_only:
        mine = sa.exists().where(AgentInstall.agent_id == Agent.id, AgentInstall.user_id == user.id)
        assigned = sa.and_(assigned, sa.or_(AgentAssignment.mode == AssignmentMode.INSTALLED.value, mine))
    own = sa.and_(
        Agent.owner_level == ScopeLevel.USER.value,
        Agent.owner_id == user.id,
        Agent.status != AgentStatus.ARCHIVED.value,
    )
    return sa.or_(sa.and_(Agent.status == AgentStatus.PUBLISHED.value, sa.exists().where(assigned)), own)


async def chain_of_user(session: AsyncSession, tenant: TenantId, user_id: uuid.UUID) -> list[Scope] | None:
    placement = (await budget_repo.placements(session, tenant, [user_id])).get(user_id)
    return placement.chain() if placement else None


async def marketplace_page(
    session: AsyncSession,
    tenant: TenantId,
    user_id: uuid.UUID,
    request: PageRequest,
    search: AgentSearch | None = None,
    *,
    workspace_only: bool = False,
) -> Page:
    """A page of the user's marketplace (every agent of their audience) or workspace (those in it),
    ordered by name then id. Rows are MarketItems. An unknown user has an empty page."""
    chain = await chain_of_user(session, tenant, user_id)
    if chain is None:
        return Page([], False, False)
    where = [candidates(chain, workspace_only=workspace_only), *(search or AgentSearch()).conditions()]
    page = (await page_children(session, Agent, None, [], request, BY_NAME, where))[ROOT]
    items = await member_items(session, chain, page.rows, workspace_only=workspace_only)
    return Page(items, page.has_next_page, page.has_previous_page)


async def member_items(
    session: AsyncSession, chain: Sequence[Scope], agents: Sequence[Agent], *, workspace_only: bool = False
) -> list[MarketItem]:
    """The agents of `agents` that reach the user of `chain`, per membership() (two statements)."""
    ids = [a.id for a in agents]
    assigned = await repo.assignments_of(session, ids)
    installed = await repo.installed_by(session, chain[-1].id, ids)
    out: list[MarketItem] = []
    for agent in agents:
        found = membership(repo.facts(agent), chain, assigned[agent.id], agent.id in installed)
        if found is not None and (found.in_workspace or not workspace_only):
            out.append(MarketItem(agent, found, agent.id in installed))
    return out


async def marketplace_count(
    session: AsyncSession,
    tenant: TenantId,
    user_id: uuid.UUID,
    search: AgentSearch | None = None,
    *,
    workspace_only: bool = False,
) -> int:
    """How many agents the whole list holds (every candidate confirmed by membership())."""
    chain = await chain_of_user(session, tenant, user_id)
    if chain is None:
        return 0
    where = [candidates(chain, workspace_only=workspace_only), *(search or AgentSearch()).conditions()]
    agents = list((await session.scalars(sa.select(Agent).where(*where))).all())
    return len(await member_items(session, chain, agents, workspace_only=workspace_only))


# --- the admin's views -------------------------------------------------------------------------


async def agents_page(session: AsyncSession, request: PageRequest, flt: AgentListFilter | None) -> Page:
    """Every agent of the session's account (personal ones included: governance), by name then id."""
    return (await page_children(session, Agent, None, [], request, BY_NAME, (flt or AgentListFilter()).conditions()))[
        ROOT
    ]


async def agents_count(session: AsyncSession, flt: AgentListFilter | None) -> int:
    return (await count_children(session, Agent, None, [], (flt or AgentListFilter()).conditions()))[ROOT]


@dataclass(frozen=True)
class AudienceMember:
    """A user of an agent's audience, with how the agent reaches them."""

    user: User
    membership: Membership
    installed: bool

    @property
    def email(self) -> str:  # the keyset (email, id) of the page
        return self.user.email

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


def _audience_candidates(agent: Agent, assignments: Sequence[Assignment]) -> sa.ColumnElement[bool] | None:
    """Users under the agent's assigned scopes (when it is published), and its owner (a personal agent)."""
    conds: list[sa.ColumnElement[bool]] = []
    if AgentStatus(agent.status) is AgentStatus.PUBLISHED:
        for a in assignments:
            level, ident = a.scope.level, a.scope.id
            if level is ScopeLevel.ACCOUNT:
                conds.append(sa.true())
            elif level is ScopeLevel.ORGANIZATION:
                conds.append(User.home_team_id.in_(sa.select(Team.id).where(Team.organization_id == ident)))
            elif level is ScopeLevel.TEAM:
                conds.append(User.home_team_id == ident)
            else:
                conds.append(User.id == ident)
    if repo.is_personal(agent) and AgentStatus(agent.status) is not AgentStatus.ARCHIVED:
        conds.append(User.id == agent.owner_id)
    return sa.or_(*conds) if conds else None


async def _installed_users(session: AsyncSession, agent_id: uuid.UUID, user_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not user_ids:
        return set()
    stmt = sa.select(AgentInstall.user_id).where(AgentInstall.agent_id == agent_id, AgentInstall.user_id.in_(user_ids))
    return set((await session.scalars(stmt)).all())


async def audience_page(session: AsyncSession, tenant: TenantId, agent: Agent, request: PageRequest) -> Page:
    """A page of the users in the agent's audience (rows are AudienceMembers), by email then id."""
    assignments = (await repo.assignments_of(session, [agent.id]))[agent.id]
    where = _audience_candidates(agent, assignments)
    if where is None:
        return Page([], False, False)
    page = (await page_children(session, User, None, [], request, BY_EMAIL, [where]))[ROOT]
    ids = [u.id for u in page.rows]
    placements = await budget_repo.placements(session, tenant, ids)
    installed = await _installed_users(session, agent.id, ids)
    facts = repo.facts(agent)
    rows: list[AudienceMember] = []
    for user in page.rows:
        found = membership(facts, placements[user.id].chain(), assignments, user.id in installed)
        if found is not None:
            rows.append(AudienceMember(user, found, user.id in installed))
    return Page(rows, page.has_next_page, page.has_previous_page)


@dataclass(frozen=True)
class ScopeCount:
    """Users of the audience reached through one assignment (a user under two assigned scopes counts in both)."""

    scope: Scope
    mode: AssignmentMode
    users: int


@dataclass(frozen=True)
class AudienceSummary:
    total: int
    by_scope: list[ScopeCount]
    owner_included: bool  # a personal agent's owner, who has it by ownership
    in_workspace: int


async def audience_summary(session: AsyncSession, tenant: TenantId, agent: Agent) -> AudienceSummary:
    """Counts of the audience: every pre-selected user confirmed by membership() (two statements)."""
    assignments = (await repo.assignments_of(session, [agent.id]))[agent.id]
    where = _audience_candidates(agent, assignments)
    if where is None:
        return AudienceSummary(0, [ScopeCount(a.scope, a.mode, 0) for a in assignments], False, 0)
    install = (
        sa.select(sa.literal(1))
        .where(AgentInstall.agent_id == agent.id, AgentInstall.user_id == User.id)
        .exists()
        .label("installed")
    )
    stmt = (
        sa.select(User.id, User.home_team_id, Team.organization_id, install)
        .join(Team, sa.and_(Team.account_id == User.account_id, Team.id == User.home_team_id))
        .where(where)
    )
    facts = repo.facts(agent)
    per_scope: Counter[Scope] = Counter()
    total = workspace = 0
    owner = False
    for user_id, team_id, org_id, installed in (await session.execute(stmt)).all():
        found = membership(facts, chain_of(tenant.value, org_id, team_id, user_id), assignments, bool(installed))
        if found is None:
            continue
        total += 1
        workspace += found.in_workspace
        owner = owner or (repo.is_personal(agent) and user_id == agent.owner_id)
        per_scope.update(found.assigned_at)
    return AudienceSummary(
        total, [ScopeCount(a.scope, a.mode, per_scope[a.scope]) for a in assignments], owner, workspace
    )
