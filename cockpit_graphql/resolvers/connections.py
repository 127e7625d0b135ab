"""Connection queries and mutations: parse input -> connection service in one tenant transaction -> payload."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import Connection as ConnectionRow
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.errors import BadUserInput, Forbidden, UserErrorCode, UserInputError
from cockpit_graphql.domain.marketplace import connections as service
from cockpit_graphql.domain.marketplace.connection_types import ConnectionType
from cockpit_graphql.domain.marketplace.secrets import SecretBox
from cockpit_graphql.domain.pagination import (
    ROOT,
    Ordering,
    Page,
    SortDirection,
    count_children,
    page_children,
    page_in_memory,
)
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.budgets import parse_scope
from cockpit_graphql.resolvers.mutation import Plan, default_account, mutate, parse_optional_ref, parse_ref
from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.connection_mutations import (
    ConnectionAssignmentInput,
    ConnectionAssignmentPayload,
    ConnectionPayload,
    CreateConnectionInput,
    CreatePersonalConnectionInput,
    DeleteConnectionInput,
    DeleteConnectionPayload,
    UpdateConnectionInput,
)
from cockpit_graphql.types.connections import ConnectionFilter, ConnectionNode
from cockpit_graphql.types.directory import page_request
from cockpit_graphql.types.ids import decode_id, encode_id
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, build_connection

WHAT = "What to change."
ORDERING = Ordering("name", SortDirection.ASC)
MANAGE = Permission.MANAGE_ASSETS
OWN = Permission.MANAGE_PERSONAL_ASSETS


def _box(info: Info) -> SecretBox:
    return SecretBox(info.context.settings.connection_secret_keys)


def _payload(row: ConnectionRow) -> ConnectionPayload:
    return ConnectionPayload(connection=ConnectionNode.from_row(row))


def _scope_in(account_id: uuid.UUID, value: str, field: str) -> Scope:
    """A scope of `account_id` (one of another account is simply not found there)."""
    ref, scope = parse_scope(value, field)
    if ref.account_id != account_id:
        raise UserInputError.single(field, UserErrorCode.NOT_FOUND, "No such scope in this account.")
    return scope


async def _no_count() -> int:
    return 0


@strawberry.type
class ConnectionQueries:
    @strawberry.field(
        description="An account's connections, admin and personal ones (governance), by name (account admins; "
        "super admins name the account)."
    )
    async def connections(
        self,
        info: Info,
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The account (required for super admins; defaults to yours)."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[ConnectionFilter | None, strawberry.argument(description="Narrow the list.")] = None,
    ) -> Connection[ConnectionNode]:
        ctx = info.context
        principal = ctx.require(Permission.READ_ASSETS)
        request = page_request(info, first, after, last, before)
        if account_id is not None:
            ref = decode_id(account_id)
            account = ref.id if ref is not None and ref.type_name == "Account" else None
        elif principal.account_id is not None:
            account = principal.account_id
        else:
            raise BadUserInput("`accountId` is required for super admins.")
        tenant = ctx.tenant_for(account) if account is not None else None
        if tenant is None:  # another account's list answers as an empty one
            return build_connection(Page([], False, False), ORDERING, ConnectionNode.from_row, _no_count)
        where = filter.conditions() if filter else []
        async with ctx.db.tenant(tenant) as session:
            page = (await page_children(session, ConnectionRow, None, [], request, ORDERING, where))[ROOT]

        async def count() -> int:
            async with ctx.db.tenant(tenant) as session:
                return (await count_children(session, ConnectionRow, None, [], where))[ROOT]

        return build_connection(page, ORDERING, ConnectionNode.from_row, count)

    @strawberry.field(
        description="The connections the signed-in user may use now, by name: admin connections assigned to a "
        "scope of their chain (account, organization, team, themself) and, when their connection mode is "
        "SELF_MANAGED_ALLOWED, their own personal ones (a page)."
    )
    async def my_connections(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[ConnectionNode]:
        ctx = info.context
        principal = ctx.require_principal()
        request = page_request(info, first, after, last, before)
        rows: list[ConnectionRow] = []
        tenant = ctx.tenant_for(principal.account_id) if principal.account_id else None
        if principal.user_id is not None and tenant is not None:  # super admins belong to no account
            async with ctx.db.tenant(tenant) as session:
                rows = await service.usable_connections(session, tenant, principal.user_id, ctx.policies.registry)
        rows.sort(key=lambda r: (r.name, r.id))  # the cursor order (usable_for sorts case-insensitively)
        total = len(rows)

        async def count() -> int:
            return total

        return build_connection(page_in_memory(rows, request, ORDERING), ORDERING, ConnectionNode.from_row, count)


@strawberry.type
class ConnectionMutations:
    @strawberry.mutation(
        description="Create an admin connection, optionally assigned to a scope at once (admins). Audited (the "
        "secret never is)."
    )
    async def create_connection(
        self, info: Info, input: Annotated[CreateConnectionInput, strawberry.argument(description=WHAT)]
    ) -> ConnectionPayload:
        def plan() -> Plan:
            explicit = parse_optional_ref(input.account_id, "Account", "accountId")
            account = default_account(info, explicit)
            scope = _scope_in(account, input.scope_id, "scopeId") if input.scope_id and account else None
            new = service.NewConnection(input.name, ConnectionType(input.type), input.config, input.secret)
            box = _box(info)
            return Plan(account, "accountId", lambda s, t, op: service.create_connection(s, t, op, box, new, scope))

        return await mutate(info, ConnectionPayload, permission=MANAGE, plan=plan, shape=_payload)

    @strawberry.mutation(
        description="Create a personal connection of your own, when CREATE_CONNECTIONS is on and the connection "
        "mode is SELF_MANAGED_ALLOWED for you (FORBIDDEN otherwise). Audited (the secret never is)."
    )
    async def create_personal_connection(
        self, info: Info, input: Annotated[CreatePersonalConnectionInput, strawberry.argument(description=WHAT)]
    ) -> ConnectionPayload:
        principal = info.context.require(OWN)
        if principal.user_id is None:
            raise Forbidden("Super admins belong to no account and own no personal connection.")
        registry = info.context.policies.registry

        def plan() -> Plan:
            new = service.NewConnection(input.name, ConnectionType(input.type), input.config, input.secret)
            box = _box(info)
            return Plan(
                principal.account_id,
                "id",
                lambda s, t, op: service.create_personal_connection(s, t, op, box, registry, new),
            )

        return await mutate(info, ConnectionPayload, permission=OWN, plan=plan, shape=_payload)

    @strawberry.mutation(
        description="Rename a connection, replace its config, set or clear its secret: admins their admin "
        "connections, owners their personal ones. Audited (that the secret changed, never its value)."
    )
    async def update_connection(
        self, info: Info, input: Annotated[UpdateConnectionInput, strawberry.argument(description=WHAT)]
    ) -> ConnectionPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "Connection", "id")
            changes = service.ConnectionChanges(input.name, input.config, input.secret, input.clear_secret)
            box = _box(info)
            return Plan(
                ref.account_id, "id", lambda s, t, op: service.update_connection(s, t, op, box, ref.id, changes)
            )

        return await mutate(info, ConnectionPayload, permission=OWN, plan=plan, shape=_payload)

    @strawberry.mutation(
        description="Delete a connection and its assignments: admins any (a member's personal one included), "
        "owners their own. Audited."
    )
    async def delete_connection(
        self, info: Info, input: Annotated[DeleteConnectionInput, strawberry.argument(description=WHAT)]
    ) -> DeleteConnectionPayload:
        found: list[Any] = []

        def plan() -> Plan:
            ref = parse_ref(input.id, "Connection", "id")
            found.append(ref)
            return Plan(ref.account_id, "id", lambda s, t, op: service.delete_connection(s, t, op, ref.id))

        return await mutate(
            info,
            DeleteConnectionPayload,
            permission=OWN,
            plan=plan,
            shape=lambda ident: DeleteConnectionPayload(
                deleted_connection_id=strawberry.ID(encode_id("Connection", found[0].account_id, ident))
            ),
        )

    @strawberry.mutation(
        description="Assign an admin connection to a scope: its users, and everyone below, may use it (admins). "
        "Audited."
    )
    async def assign_connection(
        self, info: Info, input: Annotated[ConnectionAssignmentInput, strawberry.argument(description=WHAT)]
    ) -> ConnectionAssignmentPayload:
        return await _assignment(info, input, service.assign_connection)

    @strawberry.mutation(description="Remove an admin connection's assignment to a scope (admins). Audited.")
    async def unassign_connection(
        self, info: Info, input: Annotated[ConnectionAssignmentInput, strawberry.argument(description=WHAT)]
    ) -> ConnectionAssignmentPayload:
        return await _assignment(info, input, service.unassign_connection)


async def _assignment(info: Info, input: ConnectionAssignmentInput, work: Any) -> ConnectionAssignmentPayload:
    def plan() -> Plan:
        ref = parse_ref(input.connection_id, "Connection", "connectionId")
        scope = _scope_in(ref.account_id, input.scope_id, "scopeId")
        return Plan(ref.account_id, "connectionId", lambda s, t, op: work(s, t, op, ref.id, scope))

    def shape(result: tuple[ConnectionRow, Scope]) -> ConnectionAssignmentPayload:
        row, scope = result
        return ConnectionAssignmentPayload(
            connection=ConnectionNode.from_row(row), scope=BudgetScope.of(row.account_id, scope)
        )

    return await mutate(info, ConnectionAssignmentPayload, permission=MANAGE, plan=plan, shape=shape)
