"""Organization, Team and User: federation entities and Nodes, resolved through per-request loaders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import Organization as OrganizationRow
from cockpit_graphql.db.tables import Team as TeamRow
from cockpit_graphql.db.tables import User as UserRow
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel, chain_of
from cockpit_graphql.domain.directory.filters import (
    DirectoryOrderField,
    NameFilter,
    UserFilter,
    group_ordering,
    user_ordering,
)
from cockpit_graphql.domain.directory.lists import ORGANIZATION_TEAMS, TEAM_USERS, DirectoryList
from cockpit_graphql.domain.errors import Forbidden
from cockpit_graphql.domain.pagination import Ordering, PageRequest, SortDirection
from cockpit_graphql.domain.roles import Permission, Role, has_permission
from cockpit_graphql.settings import Settings
from cockpit_graphql.types.budgets import (
    BillingNotice,
    BudgetSettings,
    EffectiveAllocation,
    allocation_of,
    settings_of,
)
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import decode_id, encode_id
from cockpit_graphql.types.node import Node
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, SortDirectionEnum, list_page
from cockpit_graphql.types.policy_scope import PolicyScope

if TYPE_CHECKING:
    from cockpit_graphql.types.account import Account

RoleEnum = described_enum(
    Role,
    name="Role",
    description="What a user may do. Roles live in the database.",
    values={
        "SUPER_ADMIN": "A platform operator, not tied to one account: manages accounts, their entitlements and the "
        "model catalog.",
        "ACCOUNT_ADMIN": "Manages one account: its directory, budgets, policies, connections and agents.",
        "MEMBER": "An end user: sees and uses what resolves for them, and manages their own personal assets.",
    },
)
DirectoryOrderFieldEnum = described_enum(
    DirectoryOrderField,
    name="DirectoryOrderField",
    description="Sort key of directory lists (NAME sorts users by email).",
    values={
        "NAME": "By name (organizations and teams) or by email (users).",
        "CREATED_AT": "By creation time.",
    },
)


@strawberry.input(description="Ordering of a directory list.")
class DirectoryOrder:
    field: DirectoryOrderFieldEnum = strawberry.field(  # type: ignore[valid-type]
        default=DirectoryOrderField.NAME, description="The sort key."
    )
    direction: SortDirectionEnum = strawberry.field(  # type: ignore[valid-type]
        default=SortDirection.ASC, description="The sort direction."
    )


@strawberry.input(description="Filter of organization and team lists.")
class GroupFilter:
    name_contains: str | None = strawberry.field(default=None, description="Case-insensitive substring of the name.")
    is_default: bool | None = strawberry.field(default=None, description="Only the Global default (or only others).")

    def to_domain(self) -> NameFilter:
        return NameFilter(name_contains=self.name_contains, is_default=self.is_default)


@strawberry.input(description="Filter of user lists.")
class UserListFilter:
    search: str | None = strawberry.field(default=None, description="Case-insensitive substring of email or name.")
    role: RoleEnum | None = strawberry.field(default=None, description="Only users with this role.")  # type: ignore[valid-type]
    home_team_id: strawberry.ID | None = strawberry.field(default=None, description="Only members of this team.")
    has_external_id: bool | None = strawberry.field(default=None, description="Only users with (or without) an IdP id.")

    def to_domain(self) -> UserFilter:
        team: uuid.UUID | None = None
        if self.home_team_id is not None:
            ref = decode_id(self.home_team_id)
            team = ref.id if ref and ref.type_name == "Team" else uuid.UUID(int=0)
        return UserFilter(search=self.search, role=self.role, home_team_id=team, has_external_id=self.has_external_id)


def page_request(info: Info, first: int | None, after: str | None, last: int | None, before: str | None) -> PageRequest:
    return page_request_of(info.context.settings, first, after, last, before)


def page_request_of(
    settings: Settings, first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    return PageRequest.build(
        first=first,
        after=after,
        last=last,
        before=before,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )


def directory_ordering(listing: DirectoryList, order: DirectoryOrder | None) -> Ordering:
    """The order of a directory list: `orderBy`, else by name (users: by email), ties by id."""
    order = order or DirectoryOrder()
    return (user_ordering if listing.of_users else group_ordering)(order.field, order.direction)


async def children(
    info: Info,
    listing: DirectoryList,
    *,
    account_id: uuid.UUID,
    parent_id: uuid.UUID,
    request: PageRequest,
    order: DirectoryOrder | None,
    flt: Any,
    to_node: Any,
) -> Any:
    """A page of a directory list; the caller has checked `listing.permission`."""
    ordering = directory_ordering(listing, order)
    return await list_page(
        info, account_id, listing.table, listing.parent_column, parent_id, request, ordering, flt, to_node
    )


def ensure_can_read_own_budget(info: Info, row: UserRow) -> None:
    principal = info.context.require_principal()
    if principal.user_id == row.id and has_permission(principal.role, Permission.READ_OWN_BUDGET):
        return
    info.context.require(Permission.READ_BUDGETS)


def ensure_can_read_user(info: Info, row: UserRow) -> None:
    principal = info.context.require_principal()
    if principal.user_id == row.id:
        return
    if not has_permission(principal.role, Permission.READ_USERS):
        raise Forbidden("Members can read only their own user.")


@strawberry.federation.type(keys=["id"], description="An organization (a 'group'): a level between account and team.")
class Organization(Node, PolicyScope):
    # Scalars are plain attributes (strawberry's fast path: no resolver call per field and node).
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    name: str = strawberry.field(description="Display name, unique within the account.")
    is_default: bool = strawberry.field(
        description="True for the account's Global organization, which cannot be deleted."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    row: strawberry.Private[OrganizationRow]

    @classmethod
    def from_row(cls, row: OrganizationRow) -> Organization:
        return cls(
            id=strawberry.ID(encode_id("Organization", row.account_id, row.id)),
            name=row.name,
            is_default=row.is_default,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @strawberry.field(description="The account it belongs to.")
    async def account(self, info: Info) -> Annotated[Account, strawberry.lazy("cockpit_graphql.types.account")]:
        from cockpit_graphql.types.account import Account

        row = await info.context.directory.account.load(self.row.account_id)
        return Account.from_row(row)

    @strawberry.field(description="Teams of this organization.")
    async def teams(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[GroupFilter | None, strawberry.argument(description="Narrow the list.")] = None,
        order_by: Annotated[
            DirectoryOrder | None, strawberry.argument(description="Sort order (default: by name, ascending).")
        ] = None,
    ) -> Connection[Team]:
        info.context.require(ORGANIZATION_TEAMS.permission)
        return await children(
            info,
            ORGANIZATION_TEAMS,
            account_id=self.row.account_id,
            parent_id=self.row.id,
            request=page_request(info, first, after, last, before),
            order=order_by,
            flt=filter.to_domain() if filter else None,
            to_node=lambda r: Team.from_row(r),
        )

    async def policy_chain(self, info: Info) -> tuple[uuid.UUID, list[Scope]]:
        return self.row.account_id, chain_of(self.row.account_id, self.row.id)

    @strawberry.field(description="What this organization may still spend this cycle, with its trace (admins).")
    async def effective_allocation(self, info: Info) -> EffectiveAllocation | None:
        info.context.require(Permission.READ_BUDGETS)
        return await allocation_of(info, self.row.account_id, chain_of(self.row.account_id, self.row.id))

    @strawberry.field(description="The cap and default user cap set on this organization (admins).")
    async def budget_settings(self, info: Info) -> BudgetSettings:
        info.context.require(Permission.READ_BUDGETS)
        return await settings_of(info, self.row.account_id, Scope(ScopeLevel.ORGANIZATION, self.row.id))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Organization | None:
        return await load_organization(info, id)


@strawberry.federation.type(keys=["id"], description="A team: every user has exactly one home team.")
class Team(Node, PolicyScope):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    name: str = strawberry.field(description="Display name, unique within its organization.")
    is_default: bool = strawberry.field(description="True for the account's Global team, where unplaced users land.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    row: strawberry.Private[TeamRow]

    @classmethod
    def from_row(cls, row: TeamRow) -> Team:
        return cls(
            id=strawberry.ID(encode_id("Team", row.account_id, row.id)),
            name=row.name,
            is_default=row.is_default,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @strawberry.field(description="The organization it belongs to.")
    async def organization(self, info: Info) -> Organization:
        row = await info.context.directory.organization.load((self.row.account_id, self.row.organization_id))
        return Organization.from_row(row)

    @strawberry.field(description="Users whose home team this is (account admins only).")
    async def users(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[UserListFilter | None, strawberry.argument(description="Narrow the list.")] = None,
        order_by: Annotated[
            DirectoryOrder | None, strawberry.argument(description="Sort order (default: by name, ascending).")
        ] = None,
    ) -> Connection[User]:
        info.context.require(TEAM_USERS.permission)
        return await children(
            info,
            TEAM_USERS,
            account_id=self.row.account_id,
            parent_id=self.row.id,
            request=page_request(info, first, after, last, before),
            order=order_by,
            flt=filter.to_domain() if filter else None,
            to_node=lambda r: User.from_row(r),
        )

    async def policy_chain(self, info: Info) -> tuple[uuid.UUID, list[Scope]]:
        row = self.row
        return row.account_id, chain_of(row.account_id, row.organization_id, row.id)

    @strawberry.field(description="What this team may still spend this cycle, with its trace (admins).")
    async def effective_allocation(self, info: Info) -> EffectiveAllocation | None:
        info.context.require(Permission.READ_BUDGETS)
        row = self.row
        return await allocation_of(info, row.account_id, chain_of(row.account_id, row.organization_id, row.id))

    @strawberry.field(description="The cap and default user cap set on this team (admins).")
    async def budget_settings(self, info: Info) -> BudgetSettings:
        info.context.require(Permission.READ_BUDGETS)
        return await settings_of(info, self.row.account_id, Scope(ScopeLevel.TEAM, self.row.id))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Team | None:
        return await load_team(info, id)


@strawberry.federation.type(keys=["id"], description="A person of an account.")
class User(Node, PolicyScope):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    email: str = strawberry.field(
        description="Email address (lower case), unique within the account; empty for a SCIM user whose identity "
        "provider sent none (docs/scim.md)."
    )
    display_name: str = strawberry.field(description="Display name.")
    role: RoleEnum = strawberry.field(  # type: ignore[valid-type]
        description="The user's role in the account (from the database, never from a token)."
    )
    external_id: str | None = strawberry.field(
        description="The identity provider's id of this user (SCIM externalId), if known."
    )
    last_seen_in_idp_at: datetime | None = strawberry.field(
        description="When the identity provider last reported this user."
    )
    active: bool = strawberry.field(
        description="False once the user is deactivated (by SCIM `active: false` or a SCIM DELETE): the user "
        "keeps their history but cannot sign in."
    )
    deactivated_at: datetime | None = strawberry.field(description="When the user was deactivated; null: active.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    row: strawberry.Private[UserRow]

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.account_id, row.id)),
            email=row.email,
            display_name=row.display_name,
            role=Role(row.role),
            external_id=row.external_id,
            last_seen_in_idp_at=row.last_seen_in_idp_at,
            active=getattr(row, "deactivated_at", None) is None,
            deactivated_at=getattr(row, "deactivated_at", None),
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @strawberry.field(description="The user's home team.")
    async def home_team(self, info: Info) -> Team:
        row = await info.context.directory.team.load((self.row.account_id, self.row.home_team_id))
        return Team.from_row(row)

    @strawberry.field(description="The organization of the user's home team.")
    async def organization(self, info: Info) -> Organization:
        loaders = info.context.directory
        team = await loaders.team.load((self.row.account_id, self.row.home_team_id))
        org = await loaders.organization.load((self.row.account_id, team.organization_id))
        return Organization.from_row(org)

    @strawberry.field(description="The account the user belongs to.")
    async def account(self, info: Info) -> Annotated[Account, strawberry.lazy("cockpit_graphql.types.account")]:
        from cockpit_graphql.types.account import Account

        row = await info.context.directory.account.load(self.row.account_id)
        return Account.from_row(row)

    async def policy_chain(self, info: Info) -> tuple[uuid.UUID, list[Scope]]:
        row = self.row
        team = await info.context.directory.team.load((row.account_id, row.home_team_id))
        return row.account_id, chain_of(row.account_id, team.organization_id, team.id, row.id)

    def ensure_can_read_policies(self, info: Info) -> None:
        principal = info.context.require_principal()
        if principal.user_id == self.row.id and has_permission(principal.role, Permission.READ_OWN_POLICIES):
            return
        info.context.require(Permission.READ_POLICIES)

    @strawberry.field(description="What this user may still spend this cycle, with its trace (self or admins).")
    async def effective_allocation(self, info: Info) -> EffectiveAllocation | None:
        ensure_can_read_own_budget(info, self.row)
        row = self.row
        team = await info.context.directory.team.load((row.account_id, row.home_team_id))
        chain = chain_of(row.account_id, team.organization_id, team.id, row.id)
        return await allocation_of(info, row.account_id, chain)

    @strawberry.field(description="Billing notices about this user's own cap, newest first (self or admins).")
    async def billing_notices(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[BillingNotice]:
        ensure_can_read_own_budget(info, self.row)
        return await list_page(
            info,
            self.row.account_id,
            "billing_notices",
            "scope_id",
            self.row.id,
            page_request(info, first, after, last, before),
            Ordering("created_at", SortDirection.DESC),
            None,
            BillingNotice.from_row,
        )

    @strawberry.field(description="The explicit cap set on this user (self or admins).")
    async def budget_settings(self, info: Info) -> BudgetSettings:
        ensure_can_read_own_budget(info, self.row)
        return await settings_of(info, self.row.account_id, Scope(ScopeLevel.USER, self.row.id))

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        return await load_user(info, id)


async def load_organization(info: Info, gid: str) -> Organization | None:
    ref = decode_id(gid)
    if ref is None or ref.type_name != "Organization":
        return None
    info.context.require(Permission.READ_DIRECTORY_STRUCTURE)
    row = await info.context.directory.organization.load((ref.account_id, ref.id))
    return Organization.from_row(row) if row else None


async def load_team(info: Info, gid: str) -> Team | None:
    ref = decode_id(gid)
    if ref is None or ref.type_name != "Team":
        return None
    info.context.require(Permission.READ_DIRECTORY_STRUCTURE)
    row = await info.context.directory.team.load((ref.account_id, ref.id))
    return Team.from_row(row) if row else None


async def load_user(info: Info, gid: str) -> User | None:
    ref = decode_id(gid)
    if ref is None or ref.type_name != "User":
        return None
    info.context.require_principal()
    row = await info.context.directory.user.load((ref.account_id, ref.id))
    if row is None:
        return None
    ensure_can_read_user(info, row)
    return User.from_row(row)
