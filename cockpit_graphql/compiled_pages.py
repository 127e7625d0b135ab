"""Directory pages compiled into one SQL statement, completed without graphql-core's per-field work.

When an Account, Organization or Team is completed (whatever field returned it, after that field's
resolver ran its own checks) and its whole collected sub-selection is made of

- the plain fields of LEAVES (`__typename` included; timestamps too), without arguments, and
- the directory lists of LISTS (domain/directory/lists.py: the same table, parent and permission as
  their resolvers), read forward (`first`, `after`, `filter`, `orderBy`; not `last` or `before`),
  selecting `totalCount`, `nodes` (again plain fields and lists), `edges { cursor node }`,
  `pageInfo` and `__typename` (cursors leave SQL as `[sort value, id]` and are encoded by
  `pagination.Cursor`, as the resolvers' are),

and the principal holds every list's permission, the value is built by PostgreSQL in one statement
(domain/directory/page_tree.py) in one tenant transaction, the way PostGraphile answers. Arguments
go through strawberry's own conversion and the resolvers' own functions (`page_request_of`,
`directory_ordering`, the filters' `to_domain` and `list_conditions`), so the rows, their order and
the counts are the resolvers'. Anything else (a field outside these tables, a directive the
executor must see, a backwards page, a refused argument, a missing permission, a row gone meanwhile)
leaves the object to graphql-core's usual path, which then answers or reports exactly as it always
does. tests/test_compiled_pages.py compares both paths on the same queries.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_argument_values
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments

from cockpit_graphql.context import Context
from cockpit_graphql.dataloaders.pages import TABLES, list_conditions
from cockpit_graphql.db.tables import Account as AccountRow
from cockpit_graphql.db.tables import Organization as OrganizationRow
from cockpit_graphql.db.tables import Team as TeamRow
from cockpit_graphql.domain.directory import lists
from cockpit_graphql.domain.directory.lists import DirectoryList
from cockpit_graphql.domain.directory.page_tree import (
    MAX_KEYS,
    ChildList,
    Column,
    Constant,
    CursorOf,
    EdgeNode,
    Edges,
    GlobalId,
    HasNextPage,
    IsNull,
    Leaf,
    Nodes,
    PageInfoObject,
    Shape,
    Timestamp,
    TotalCount,
    finish_cursors,
    has_cursors,
    tree_statement,
)
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.pagination import Cursor
from cockpit_graphql.domain.roles import has_permission
from cockpit_graphql.types.directory import directory_ordering, page_request_of
from cockpit_graphql.types.ids import ACCOUNT_SCOPED


def _gid(type_name: str) -> Callable[[str], Leaf]:
    return lambda key: GlobalId(key, type_name, type_name in ACCOUNT_SCOPED)


def _column(column: str) -> Callable[[str], Leaf]:
    return lambda key: Column(key, column)


def _timestamp(column: str) -> Callable[[str], Leaf]:
    return lambda key: Timestamp(key, column)


_TIMES = {"created_at": _timestamp("created_at"), "updated_at": _timestamp("updated_at")}

LEAVES: dict[str, dict[str, Callable[[str], Leaf]]] = {
    # GraphQL type → python attribute of its plain field → the leaf (from_row copies these columns)
    "Account": {"id": _gid("Account"), "name": _column("name"), "status": _column("status"), **_TIMES},
    "Organization": {
        "id": _gid("Organization"),
        "name": _column("name"),
        "is_default": _column("is_default"),
        **_TIMES,
    },
    "Team": {"id": _gid("Team"), "name": _column("name"), "is_default": _column("is_default"), **_TIMES},
    "User": {
        **_TIMES,
        "last_seen_in_idp_at": _timestamp("last_seen_in_idp_at"),
        "deactivated_at": _timestamp("deactivated_at"),
        "id": _gid("User"),
        "email": _column("email"),
        "display_name": _column("display_name"),
        "role": _column("role"),
        "external_id": _column("external_id"),
        "active": lambda key: IsNull(key, "deactivated_at"),
    },
}
LISTS: dict[str, dict[str, DirectoryList]] = {
    "Account": {
        "organizations": lists.ACCOUNT_ORGANIZATIONS,
        "teams": lists.ACCOUNT_TEAMS,
        "users": lists.ACCOUNT_USERS,
    },
    "Organization": {"teams": lists.ORGANIZATION_TEAMS},
    "Team": {"users": lists.TEAM_USERS},
}
ROOT_TABLES: dict[str, type[Any]] = {"Account": AccountRow, "Organization": OrganizationRow, "Team": TeamRow}


@dataclass(frozen=True)
class CompiledPage:
    table: type[Any]
    account_id: uuid.UUID
    row_id: uuid.UUID
    shape: Shape
    cursors: bool  # the value holds raw cursors to encode


class _NotCompilable(Exception):
    """The selection needs graphql-core's own path."""


def compile_page(
    executor: Any, object_type: GraphQLObjectType, field_details_list: Any, source: Any
) -> CompiledPage | None:
    """The one statement that completes `source` (an Account, Organization or Team), or None."""
    table = ROOT_TABLES.get(object_type.name)
    row = getattr(source, "row", None)
    context = executor.context_value
    if table is None or not isinstance(row, table) or not isinstance(context, Context) or context.principal is None:
        return None
    try:
        shape = _Compiler(executor, context).shape(object_type, field_details_list)
    except _NotCompilable:
        return None
    if not any(isinstance(f, ChildList) for f in shape.fields):
        return None  # plain fields only: graphql-core's path is as cheap
    account_id = row.id if table is AccountRow else row.account_id
    return CompiledPage(table, account_id, row.id, shape, has_cursors(shape))


async def run_page(context: Context, page: CompiledPage) -> dict[str, Any] | None:
    """The finished value, or None when the principal may not enter the account or the row is gone."""
    assert context.principal is not None
    tenant = context.principal.tenant_for(page.account_id)
    if tenant is None:
        return None
    async with context.db.tenant(tenant) as session:
        value = await session.scalar(tree_statement(page.table, page.account_id, page.row_id, page.shape))
    if value is None:
        return None
    tree: dict[str, Any] = orjson.loads(value) if isinstance(value, str | bytes) else value
    if page.cursors:
        finish_cursors(page.shape, tree)
    return tree


class _Compiler:
    def __init__(self, executor: Any, context: Context) -> None:
        self.executor = executor
        self.context = context
        strawberry_schema = executor.schema._strawberry_schema
        self.scalar_registry = strawberry_schema.schema_converter.scalar_registry
        self.config = strawberry_schema.config

    def _collect(self, object_type: GraphQLObjectType, field_details_list: Any) -> dict[str, Any]:
        grouped, new_defer_usages, forbidden = self.executor.collect_subfields(object_type, field_details_list)
        if new_defer_usages or forbidden or not grouped or len(grouped) > MAX_KEYS:
            raise _NotCompilable
        return grouped

    def shape(self, object_type: GraphQLObjectType, field_details_list: Any) -> Shape:
        leaves = LEAVES.get(object_type.name)
        if leaves is None:
            raise _NotCompilable
        fields: list[Leaf | ChildList] = []
        for key, details in self._collect(object_type, field_details_list).items():
            name = details[0].node.name.value
            if name == "__typename":
                fields.append(Constant(key, object_type.name))
                continue
            field_def = object_type.fields.get(name)
            definition = (
                (field_def.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF) if field_def else None
            )
            if field_def is None or definition is None:
                raise _NotCompilable
            leaf = leaves.get(definition.python_name)
            if leaf is not None and definition.is_basic_field and not field_def.args:
                fields.append(leaf(key))
                continue
            listing = LISTS.get(object_type.name, {}).get(definition.python_name)
            if listing is None:
                raise _NotCompilable
            fields.append(self._list(key, details, field_def, definition, listing))
        return Shape(tuple(fields))

    def _list(self, key: str, details: Any, field_def: Any, definition: Any, listing: DirectoryList) -> ChildList:
        principal = self.context.principal
        if principal is None or not has_permission(principal.role, listing.permission):
            raise _NotCompilable  # the resolver reports FORBIDDEN
        first = details[0]
        try:
            raw = get_argument_values(
                field_def,
                first.node,
                self.executor.variable_values,
                first.fragment_variable_values,
                self.executor.hide_suggestions,
            )
            kwargs = convert_arguments(
                raw, definition.arguments, scalar_registry=self.scalar_registry, config=self.config
            )
            if kwargs.get("last") is not None or kwargs.get("before") is not None:
                raise _NotCompilable
            request = page_request_of(self.context.settings, kwargs.get("first"), kwargs.get("after"), None, None)
            ordering = directory_ordering(listing, kwargs.get("order_by"))
            if request.after is not None:
                Cursor.decode(request.after, ordering.sort_kind)
            flt = kwargs.get("filter")
            conditions = tuple(list_conditions(listing.table, flt.to_domain() if flt is not None else None))
        except (BadUserInput, TypeError, ValueError) as exc:
            raise _NotCompilable from exc  # the resolver reports it
        except Exception as exc:  # a GraphQLError from the argument values: the executor reports it
            raise _NotCompilable from exc
        connection = _object(field_def.type)
        parts: list[TotalCount | Nodes | Edges | PageInfoObject | Constant] = []
        for part_key, part_details in self._collect(connection, details).items():
            name = part_details[0].node.name.value
            if name == "__typename":
                parts.append(Constant(part_key, connection.name))
            elif name == "totalCount":
                parts.append(TotalCount(part_key))
            elif name == "nodes":
                node_type = _object(connection.fields["nodes"].type)
                parts.append(Nodes(part_key, self.shape(node_type, part_details)))
            elif name == "edges":
                parts.append(self._edges(part_key, _object(connection.fields["edges"].type), part_details))
            elif name == "pageInfo":
                parts.append(self._page_info(part_key, connection, part_details, request.after is not None))
            else:
                raise _NotCompilable
        return ChildList(key, TABLES[listing.table], listing.parent_column, request, ordering, conditions, tuple(parts))

    def _edges(self, key: str, edge_type: GraphQLObjectType, details: Any) -> Edges:
        fields: list[CursorOf | EdgeNode | Constant] = []
        for field_key, field_details in self._collect(edge_type, details).items():
            name = field_details[0].node.name.value
            if name == "cursor":
                fields.append(CursorOf(field_key))
            elif name == "node":
                fields.append(EdgeNode(field_key, self.shape(_object(edge_type.fields["node"].type), field_details)))
            elif name == "__typename":
                fields.append(Constant(field_key, edge_type.name))
            else:
                raise _NotCompilable
        return Edges(key, tuple(fields))

    def _page_info(self, key: str, connection: GraphQLObjectType, details: Any, has_previous: bool) -> PageInfoObject:
        page_info = _object(connection.fields["pageInfo"].type)
        fields: list[HasNextPage | CursorOf | Constant] = []
        for field_key, field_details in self._collect(page_info, details).items():
            name = field_details[0].node.name.value
            if name == "hasNextPage":
                fields.append(HasNextPage(field_key))
            elif name == "hasPreviousPage":
                fields.append(Constant(field_key, has_previous))
            elif name in ("startCursor", "endCursor"):
                fields.append(CursorOf(field_key, "start" if name == "startCursor" else "end"))
            elif name == "__typename":
                fields.append(Constant(field_key, page_info.name))
            else:
                raise _NotCompilable
        return PageInfoObject(key, tuple(fields))


def _object(graphql_type: Any) -> GraphQLObjectType:
    """The object type of a field: through NonNull and (for nodes) one List of NonNull items."""
    inner = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    if isinstance(inner, GraphQLList):
        inner = inner.of_type.of_type if isinstance(inner.of_type, GraphQLNonNull) else inner.of_type
    if not isinstance(inner, GraphQLObjectType):
        raise _NotCompilable
    return inner
