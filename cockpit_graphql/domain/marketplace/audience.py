"""The ONE audience rule (domain.md §4): user U may discover and run agent A ⇔ A is PUBLISHED and
assigned to a scope of U's chain, or A is U's own and not ARCHIVED. Owning an agent at a scope is
not assigning it. The admin's "who can see this agent", the member's marketplace and workspace, and
the runtime's permission to run are all answered by `membership()`, so they cannot disagree; SQL
may pre-select candidates, but every answer passes through this function."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel


class AgentStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    ARCHIVED = "ARCHIVED"


class AssignmentMode(StrEnum):
    AVAILABLE = "AVAILABLE"  # listed in the audience's marketplace; members install it themselves
    INSTALLED = "INSTALLED"  # already in the audience's workspace; members cannot remove it


class Via(StrEnum):
    OWN = "OWN"  # the user's personal agent
    ASSIGNED = "ASSIGNED"  # assigned to a scope of the user's chain


@dataclass(frozen=True)
class AgentFacts:
    """What the rule needs to know of an agent."""

    status: AgentStatus
    owner: Scope


@dataclass(frozen=True)
class Assignment:
    scope: Scope
    mode: AssignmentMode


@dataclass(frozen=True)
class Membership:
    """A user inside an agent's audience: how, and whether it is in their workspace."""

    via: Via
    mode: AssignmentMode | None  # INSTALLED when any assignment of the chain installs it
    assigned_at: tuple[Scope, ...]  # the scopes of the chain it is assigned to, account first
    in_workspace: bool

    @property
    def removable(self) -> bool:
        """A member may uninstall what they installed themselves, never an INSTALLED assignment."""
        return self.via is Via.ASSIGNED and self.mode is AssignmentMode.AVAILABLE


def membership(
    agent: AgentFacts, chain: Sequence[Scope], assignments: Iterable[Assignment], installed: bool = False
) -> Membership | None:
    """None when the user of `chain` (account → … → user) is outside the agent's audience.
    `installed` says whether the user has installed it themselves (an install outside the audience
    stays recorded but is inactive: it counts only while this function says yes)."""
    user = chain[-1]
    assert user.level is ScopeLevel.USER, "an audience is made of users"
    own = agent.owner == user and agent.status is not AgentStatus.ARCHIVED
    scopes = set(chain)
    hits = [a for a in assignments if a.scope in scopes] if agent.status is AgentStatus.PUBLISHED else []
    if not own and not hits:
        return None
    order = {s: i for i, s in enumerate(chain)}
    assigned_at = tuple(sorted({a.scope for a in hits}, key=order.__getitem__))
    mode = None
    if hits:
        installs = any(a.mode is AssignmentMode.INSTALLED for a in hits)
        mode = AssignmentMode.INSTALLED if installs else AssignmentMode.AVAILABLE
    if own:
        return Membership(Via.OWN, mode, assigned_at, in_workspace=True)
    return Membership(Via.ASSIGNED, mode, assigned_at, in_workspace=mode is AssignmentMode.INSTALLED or installed)
