"""The Connection type (an integration or tool). No field ever returns its secret."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import Connection as ConnectionRow
from cockpit_graphql.domain.marketplace import connections_repository as repo
from cockpit_graphql.domain.marketplace.connection_access import may_use
from cockpit_graphql.domain.marketplace.connection_types import ConnectionType
from cockpit_graphql.domain.roles import Permission, has_permission
from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.directory import User
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import decode_id, encode_id
from cockpit_graphql.types.node import Node

ConnectionTypeEnum = described_enum(
    ConnectionType,
    name="ConnectionType",
    description="What a connection talks to; each type has its own config keys (docs/connections.md): SLACK "
    "{workspace, defaultChannel?}, JIRA {baseUrl, projectKeys?}, GITHUB {organization, repositories?}, CONFLUENCE "
    "{baseUrl, spaceKeys?}, SHAREPOINT {tenantId, siteUrl}, MCP_SERVER {url, transport?}, HTTP_API {baseUrl, "
    "authHeader?}. URLs are https.",
    values={
        "SLACK": "A Slack workspace. Config: `workspace`; `defaultChannel?` (a channel name such as `#ops`).",
        "JIRA": "A Jira site. Config: `baseUrl` (https); `projectKeys?` (keys such as `OPS`).",
        "GITHUB": "A GitHub organization. Config: `organization`; `repositories?` (repository names).",
        "CONFLUENCE": "A Confluence site. Config: `baseUrl` (https); `spaceKeys?`.",
        "SHAREPOINT": "A SharePoint site. Config: `tenantId` (the directory id, a UUID); `siteUrl` (https).",
        "MCP_SERVER": "A Model Context Protocol server. Config: `url` (https); `transport?`: SSE or "
        "STREAMABLE_HTTP (default).",
        "HTTP_API": "A plain HTTP API. Config: `baseUrl` (https); `authHeader?` (the header the secret is sent in, "
        "e.g. `X-Api-Key`).",
    },
)


@strawberry.federation.type(
    name="Connection",
    keys=["id"],
    description="An integration or tool (Slack, Jira, GitHub, Confluence, SharePoint, an MCP server, an HTTP API). "
    "Admin connections are assigned to scopes; a personal one belongs to its user. Its secret is write-only: no "
    "field returns it.",
)
class ConnectionNode(Node):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    name: str = strawberry.field(
        description="Unique (case-insensitive) among the account's admin connections, or among its owner's."
    )
    type: ConnectionTypeEnum = strawberry.field(description="What it connects to.")  # type: ignore[valid-type]
    config: JSON = strawberry.field(description="Its validated, non-secret configuration (see ConnectionType).")
    has_secret: bool = strawberry.field(description="Whether a secret is set (the secret itself is never returned).")
    secret_updated_at: datetime | None = strawberry.field(description="When the secret was last set or cleared.")
    personal: bool = strawberry.field(description="True for a member's personal connection (it has an owner).")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    account_id: strawberry.Private[uuid.UUID]
    ident: strawberry.Private[uuid.UUID]
    owner_user_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: ConnectionRow) -> ConnectionNode:
        return cls(
            id=strawberry.ID(encode_id("Connection", row.account_id, row.id)),
            name=row.name,
            type=ConnectionType(row.type),
            config=row.config,
            has_secret=row.secret_ciphertext is not None,
            secret_updated_at=row.secret_updated_at,
            personal=row.owner_user_id is not None,
            created_at=row.created_at,
            updated_at=row.updated_at,
            account_id=row.account_id,
            ident=row.id,
            owner_user_id=row.owner_user_id,
        )

    @strawberry.field(description="The user who owns a personal connection; null for an admin connection.")
    async def owner(self, info: Info) -> User | None:
        if self.owner_user_id is None:
            return None
        row = await info.context.directory.user.load((self.account_id, self.owner_user_id))
        return User.from_row(row) if row else None

    @strawberry.field(
        description="The scopes an admin connection is assigned to (its users, and everyone below, may use it); "
        "empty for a personal connection."
    )
    async def assigned_to(self, info: Info) -> list[BudgetScope]:
        if self.owner_user_id is not None:
            return []
        found = await info.context.connections.facts.load((self.account_id, self.ident))
        if found is None:
            return []
        return [BudgetScope.of(self.account_id, s) for s in sorted(found.assigned)]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> ConnectionNode | None:
        return await load_connection(info, id)


async def load_connection(info: Info, gid: str) -> ConnectionNode | None:
    """A connection by global id, if the caller may read it (`readable_connection`)."""
    ref = decode_id(gid)
    if ref is None or ref.type_name != "Connection":
        return None
    return await readable_connection(info, ref.account_id, ref.id)


async def readable_connection(info: Info, account_id: uuid.UUID, connection_id: uuid.UUID) -> ConnectionNode | None:
    """The one read rule of a connection: admins of its account read any; a user reads the ones they may
    use (assigned to their chain, or their own). Anything else answers as if it did not exist. Batched by
    the request's loaders."""
    ctx = info.context
    principal = ctx.require_principal()
    row = await ctx.connections.connection.load((account_id, connection_id))
    if row is None:
        return None
    if has_permission(principal.role, Permission.READ_ASSETS) or row.owner_user_id == principal.user_id:
        return ConnectionNode.from_row(row)
    if principal.user_id is None or row.owner_user_id is not None:
        return None
    facts, chain = await asyncio.gather(
        ctx.connections.facts.load((account_id, connection_id)),
        ctx.connections.chain.load((account_id, principal.user_id)),
    )
    if facts is None or chain is None or not may_use(facts, chain, personal=False):  # not the caller's own
        return None
    return ConnectionNode.from_row(row)


@strawberry.input(description="Narrow a list of connections.")
class ConnectionFilter:
    type: ConnectionTypeEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only connections of this type."
    )
    personal: bool | None = strawberry.field(
        default=None, description="Only personal connections (true) or only admin connections (false)."
    )

    def conditions(self) -> list:  # type: ignore[type-arg]
        out = []
        if self.type is not None:
            out.append(ConnectionRow.type == ConnectionType(self.type).value)
        if self.personal is not None:
            out.append(repo.personal_condition(self.personal))
        return out
