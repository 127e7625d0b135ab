"""The member's marketplace and workspace: agents of their audience, and how each reaches them."""

from __future__ import annotations

import uuid

import strawberry

from cockpit_graphql.domain.marketplace.audience import Membership
from cockpit_graphql.domain.marketplace.marketplace import AgentSearch, MarketItem
from cockpit_graphql.types.agents import Agent, AgentViaEnum, AssignmentModeEnum
from cockpit_graphql.types.budgets import BudgetScope


@strawberry.type(description="An agent of the signed-in user's audience, and how it reaches them.")
class MarketplaceItem:
    agent: Agent = strawberry.field(description="The agent.")
    via: AgentViaEnum = strawberry.field(description="OWN (your personal agent) or ASSIGNED.")  # type: ignore[valid-type]
    mode: AssignmentModeEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="INSTALLED when an assignment of your chain installs it, AVAILABLE otherwise; null for your own "
        "agent that is not assigned."
    )
    in_workspace: bool = strawberry.field(
        description="In your workspace: your own, installed for you by admins, or installed by you."
    )
    installed: bool = strawberry.field(description="You installed it yourself.")
    removable: bool = strawberry.field(
        description="You may uninstall it (an AVAILABLE agent; never an INSTALLED one or your own)."
    )
    assigned_at: list[BudgetScope] = strawberry.field(
        description="The scopes of your chain it is assigned to, account first."
    )

    @classmethod
    def of(cls, account_id: uuid.UUID, agent: Agent, m: Membership, installed: bool) -> MarketplaceItem:
        return cls(
            agent=agent,
            via=m.via,
            mode=m.mode,
            in_workspace=m.in_workspace,
            installed=installed,
            removable=m.removable,
            assigned_at=[BudgetScope.of(account_id, s) for s in m.assigned_at],
        )

    @classmethod
    def from_item(cls, item: MarketItem) -> MarketplaceItem:
        return cls.of(item.agent.account_id, Agent.from_row(item.agent), item.membership, item.installed)


@strawberry.input(description="Narrow the marketplace or the workspace.")
class MarketplaceFilter:
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive text in the name or the description."
    )
    category: str | None = strawberry.field(default=None, description="Only this category (case-insensitive).")
    tag: str | None = strawberry.field(default=None, description="Only agents with this tag (case-insensitive).")

    def to_domain(self) -> AgentSearch:
        return AgentSearch(search=self.search, category=self.category, tag=self.tag)
