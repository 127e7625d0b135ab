"""node / nodes / viewer."""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.resolvers.agents import FilterArg, marketplace_of_viewer, workspace_of_viewer
from cockpit_graphql.types.account import Account, account_by_uuid, load_account
from cockpit_graphql.types.agents import load_agent
from cockpit_graphql.types.budgets import load_budget_entity
from cockpit_graphql.types.connections import load_connection
from cockpit_graphql.types.directory import RoleEnum, User, load_organization, load_team, load_user
from cockpit_graphql.types.ids import decode_id
from cockpit_graphql.types.marketplace import MarketplaceItem
from cockpit_graphql.types.models import load_model
from cockpit_graphql.types.node import Node
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last
from cockpit_graphql.types.policies import load_guardrail

LOADERS = {
    "Account": load_account,
    "Organization": load_organization,
    "Team": load_team,
    "User": load_user,
    "BudgetCycle": load_budget_entity,
    "Reservation": load_budget_entity,
    "Settlement": load_budget_entity,
    "UsageEvent": load_budget_entity,
    "Guardrail": load_guardrail,
    "Agent": load_agent,  # admins of its account; a member for their own and their audience's
    "Connection": load_connection,  # admins of its account; a user for one they may use
    "Model": load_model,  # any signed-in user may read a catalog model by id (docs/models.md)
}
"""Every type that implements Node; other ids (plan versions, ledger entries, notices) resolve to null."""


async def resolve_node(info: Info, gid: str) -> Node | None:
    info.context.require_principal()
    ref = decode_id(gid)
    if ref is None:
        return None
    loader = LOADERS.get(ref.type_name)
    return await loader(info, gid) if loader else None


@strawberry.type(description="Who is asking: the signed-in principal.")
class Viewer:
    role: RoleEnum = strawberry.field(description="The role, from the database.")  # type: ignore[valid-type]
    is_super_admin: bool = strawberry.field(description="A platform operator.")
    subject: str = strawberry.field(description="The token's subject.")
    issuer: str = strawberry.field(description="The token's issuer.")
    _info: strawberry.Private[Info]

    @strawberry.field(description="The signed-in user (null for super admins, who belong to no account).")
    async def user(self) -> User | None:
        principal = self._info.context.require_principal()
        if principal.user_id is None or principal.account_id is None:
            return None
        row = await self._info.context.directory.user.load((principal.account_id, principal.user_id))
        return User.from_row(row) if row else None

    @strawberry.field(description="The signed-in user's account (null for super admins).")
    async def account(self) -> Account | None:
        principal = self._info.context.require_principal()
        return await account_by_uuid(self._info, principal.account_id) if principal.account_id else None

    @strawberry.field(description="Your marketplace: every agent of your audience, by name (same as `marketplace`).")
    async def marketplace(
        self,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: FilterArg = None,
    ) -> Connection[MarketplaceItem]:
        return await marketplace_of_viewer(self._info, first, after, last, before, filter)

    @strawberry.field(description="Your workspace: the agents you can run now, by name (same as `workspace`).")
    async def workspace(
        self,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: FilterArg = None,
    ) -> Connection[MarketplaceItem]:
        return await workspace_of_viewer(self._info, first, after, last, before, filter)


@strawberry.type
class NodeQueries:
    @strawberry.field(description="Fetch any object by its global id; null when it does not exist for you.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")]
    ) -> Node | None:
        return await resolve_node(info, id)

    @strawberry.field(description="Fetch several objects by global id, in order; null where one does not exist.")
    async def nodes(
        self,
        info: Info,
        ids: Annotated[list[strawberry.ID], strawberry.argument(description="Global ids (at most 100).")],
    ) -> list[Node | None]:
        limit = info.context.settings.max_nodes_ids
        if len(ids) > limit:
            raise BadUserInput(f"`ids` takes at most {limit} ids.")
        return list(await asyncio.gather(*(resolve_node(info, gid) for gid in ids)))

    @strawberry.field(description="The signed-in principal.")
    def viewer(self, info: Info) -> Viewer:
        principal = info.context.require_principal()
        return Viewer(
            role=principal.role,
            is_super_admin=principal.role is Role.SUPER_ADMIN,
            subject=principal.identity.subject,
            issuer=principal.identity.issuer,
            _info=info,
        )
