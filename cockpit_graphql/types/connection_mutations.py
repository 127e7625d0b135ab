"""Inputs and payloads of the connection mutations. Secrets go in, never out."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.connections import ConnectionNode, ConnectionTypeEnum
from cockpit_graphql.types.errors import Payload

SECRET = (
    "The secret (token, API key, password) the runtime sends: encrypted at rest, write-only (no query returns it, "
    "no log or audit event holds it)."
)
CONFIG = "The non-secret configuration, validated against the type (see ConnectionType); never put secrets here."


@strawberry.input(description="Create an admin connection (admins), optionally assigned to a scope at once.")
class CreateConnectionInput:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The account (required for super admins; defaults to yours)."
    )
    name: str = strawberry.field(description="Unique among the account's admin connections (case-insensitive).")
    type: ConnectionTypeEnum = strawberry.field(description="What it connects to.")  # type: ignore[valid-type]
    config: JSON = strawberry.field(description=CONFIG)
    secret: str | None = strawberry.field(default=None, description=SECRET)
    scope_id: strawberry.ID | None = strawberry.field(
        default=None, description="Assign it at once to this account, organization, team or user."
    )


@strawberry.input(
    description="Create a personal connection of your own: needs CREATE_CONNECTIONS on and the "
    "SELF_MANAGED_ALLOWED connection mode for you."
)
class CreatePersonalConnectionInput:
    name: str = strawberry.field(description="Unique among your personal connections (case-insensitive).")
    type: ConnectionTypeEnum = strawberry.field(description="What it connects to.")  # type: ignore[valid-type]
    config: JSON = strawberry.field(description=CONFIG)
    secret: str | None = strawberry.field(default=None, description=SECRET)


@strawberry.input(
    description="Change a connection: admins change admin connections, owners their personal ones. Omitted fields "
    "stay as they are."
)
class UpdateConnectionInput:
    id: strawberry.ID = strawberry.field(description="The connection.")
    name: str | None = strawberry.field(default=None, description="A new name.")
    config: JSON | None = strawberry.field(default=None, description="A new config (replaces the whole document).")
    secret: str | None = strawberry.field(default=None, description="A new secret (replaces the old one). " + SECRET)
    clear_secret: bool = strawberry.field(default=False, description="Remove the secret (not together with `secret`).")


@strawberry.input(
    description="Delete a connection and its assignments: admins any (a member's personal one included), owners "
    "their own."
)
class DeleteConnectionInput:
    id: strawberry.ID = strawberry.field(description="The connection.")


@strawberry.input(description="Assign an admin connection to a scope, or remove that assignment.")
class ConnectionAssignmentInput:
    connection_id: strawberry.ID = strawberry.field(description="An admin connection (personal ones are not assigned).")
    scope_id: strawberry.ID = strawberry.field(description="An account, organization, team or user.")


@strawberry.type(description="The created or changed connection.")
class ConnectionPayload(Payload):
    connection: ConnectionNode | None = strawberry.field(default=None, description="The connection.")


@strawberry.type(description="The id of the deleted connection.")
class DeleteConnectionPayload(Payload):
    deleted_connection_id: strawberry.ID | None = strawberry.field(default=None, description="The deleted connection.")


@strawberry.type(description="A connection and the scope it was assigned to or unassigned from.")
class ConnectionAssignmentPayload(Payload):
    connection: ConnectionNode | None = strawberry.field(default=None, description="The connection.")
    scope: BudgetScope | None = strawberry.field(default=None, description="The scope.")
