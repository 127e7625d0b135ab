"""A directory page as ONE statement: a row with its nested child lists, built as JSON by PostgreSQL.

compiled_pages.py turns a GraphQL selection it fully understands into a `Shape`; `tree_statement`
turns the shape into one SELECT returning the finished value (response keys in selection order), the
way PostGraphile answers. Each list pages its children exactly as `pagination.page_children` does
(the same conditions, keyset and order, ties by id, `LIMIT first`), and counts them as
`count_children` does (the same conditions, no page); row-level security applies to every table read.

Leaves are only what PostgreSQL's JSON renders exactly as the Python path does: text, booleans,
counts, enum text whose names are their values, a column's nullness, constants, and global ids
(base64url of the same `Type:account:id` text, unpadded).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from cockpit_graphql.domain.pagination import Ordering, PageRequest, SortDirection, keyset_condition


@dataclass(frozen=True)
class Column:
    """A column's value: text, boolean or enum text."""

    key: str
    column: str


@dataclass(frozen=True)
class IsNull:
    """True when the column is null (User.active: not deactivated)."""

    key: str
    column: str


@dataclass(frozen=True)
class Constant:
    """A value known before the query (`__typename`, hasPreviousPage)."""

    key: str
    value: str | bool


@dataclass(frozen=True)
class GlobalId:
    """The opaque global id: unpadded base64url of `Type:account_id:id` (or `Type:id`)."""

    key: str
    type_name: str
    with_account: bool


@dataclass(frozen=True)
class TotalCount:
    key: str


@dataclass(frozen=True)
class HasNextPage:
    key: str


@dataclass(frozen=True)
class Nodes:
    key: str
    shape: Shape


@dataclass(frozen=True)
class PageInfoObject:
    key: str
    fields: tuple[HasNextPage | Constant, ...]


@dataclass(frozen=True)
class ChildList:
    """A connection of children: `parts` are its selected fields (counts, nodes, page info)."""

    key: str
    table: type[Any]  # the mapped table
    parent_column: str
    request: PageRequest  # forward only (first, after)
    ordering: Ordering
    conditions: tuple[sa.ColumnElement[bool], ...]  # the list's filter, as page_children gets it
    parts: tuple[TotalCount | Nodes | PageInfoObject | Constant, ...]


Leaf = Column | IsNull | Constant | GlobalId


@dataclass(frozen=True)
class Shape:
    """An object's selected fields, in response order."""

    fields: tuple[Leaf | ChildList, ...]


MAX_KEYS = 50
"""json_build_object takes at most 100 arguments (50 pairs); compiled_pages falls back beyond."""


def tree_statement(table: type[Any], account_id: uuid.UUID, row_id: uuid.UUID, shape: Shape) -> sa.Select[Any]:
    """One SELECT of one json value: the row `row_id` of `table` shaped by `shape` (no row: no value).
    Every table read is filtered by `account_id` in the text too, as the tenant session does for ORM
    statements (docs/architecture.md, "three locks"); row-level security applies besides."""
    builder = _Builder(account_id)
    root_table = table.__table__
    root_filter = root_table.c.id == row_id
    if "account_id" in root_table.c:
        root_filter = sa.and_(root_table.c.account_id == account_id, root_filter)
    root = sa.select(root_table).where(root_filter).subquery("t0")
    return sa.select(builder.object(shape, root)).select_from(root)


class _Builder:
    def __init__(self, account_id: uuid.UUID) -> None:
        self._account_id = account_id
        self._aliases = 0

    def _name(self) -> str:
        self._aliases += 1
        return f"t{self._aliases}"

    def object(self, shape: Shape, source: Any) -> sa.ColumnElement[Any]:
        args: list[Any] = []
        for field in shape.fields:
            args += [_key(field.key), self._value(field, source)]
        return sa.func.json_build_object(*args)

    def _value(self, field: Leaf | ChildList, source: Any) -> sa.ColumnElement[Any]:
        if isinstance(field, Column):
            return source.c[field.column]
        if isinstance(field, IsNull):
            return source.c[field.column].is_(None)
        if isinstance(field, Constant):
            return sa.literal(field.value, sa.Boolean if isinstance(field.value, bool) else sa.Text)
        if isinstance(field, GlobalId):
            return _global_id(field, source)
        return self._list(field, source)

    def _list(self, child: ChildList, parent: Any) -> sa.ColumnElement[Any]:
        table = child.table.__table__
        belongs = sa.and_(table.c.account_id == self._account_id, table.c[child.parent_column] == parent.c.id)
        paged = [belongs, *child.conditions]
        if child.request.after:
            paged.append(keyset_condition(child.ordering, child.request.after, after=True).self_group())
        ascending = child.ordering.direction is SortDirection.ASC
        limit = child.request.limit
        args: list[Any] = []
        for part in child.parts:
            args.append(_key(part.key))
            if isinstance(part, TotalCount):
                args.append(
                    sa.select(sa.func.count()).select_from(table).where(belongs, *child.conditions).scalar_subquery()
                )
            elif isinstance(part, Constant):
                args.append(self._value(part, parent))
            elif isinstance(part, Nodes):
                page = (
                    sa.select(table)
                    .where(*paged)
                    .order_by(*_order(table.c, child.ordering.column, ascending))
                    .limit(sa.literal(limit, sa.Integer))
                    .correlate(parent)
                    .subquery(self._name())
                )
                ordered = aggregate_order_by(
                    self.object(part.shape, page), *_order(page.c, child.ordering.column, ascending)
                )
                agg = sa.func.coalesce(sa.func.json_agg(ordered), sa.literal_column("'[]'::json"))
                args.append(sa.select(agg).select_from(page).scalar_subquery())
            else:
                info: list[Any] = []
                for f in part.fields:
                    info.append(_key(f.key))
                    if isinstance(f, HasNextPage):
                        ahead = (
                            sa.select(sa.literal(1))
                            .select_from(table)
                            .where(*paged)
                            .order_by(*_order(table.c, child.ordering.column, ascending))
                            .offset(sa.literal(limit, sa.Integer))
                            .limit(1)
                            .correlate(parent)
                        )
                        info.append(sa.exists(ahead))
                    else:
                        info.append(self._value(f, parent))
                args.append(sa.func.json_build_object(*info))
        return sa.func.json_build_object(*args)


def _key(key: str) -> sa.ColumnElement[str]:
    return sa.literal(key, sa.Text)


def _order(columns: Any, sort: str, ascending: bool) -> list[sa.ColumnElement[Any]]:
    if ascending:
        return [columns[sort].asc(), columns["id"].asc()]
    return [columns[sort].desc(), columns["id"].desc()]


def _global_id(field: GlobalId, source: Any) -> sa.ColumnElement[str]:
    """types/ids.encode_id in SQL: PostgreSQL's base64 breaks lines every 76 characters and pads."""
    text = sa.literal(field.type_name + ":", sa.Text)
    if field.with_account:
        text = text + sa.cast(source.c.account_id, sa.Text) + sa.literal(":", sa.Text)
    text = text + sa.cast(source.c.id, sa.Text)
    encoded = sa.func.encode(sa.func.convert_to(text, sa.literal("UTF8", sa.Text)), sa.literal("base64", sa.Text))
    urlsafe = sa.func.translate(encoded, sa.literal("+/\n", sa.Text), sa.literal("-_", sa.Text))
    return sa.func.rtrim(urlsafe, sa.literal("=", sa.Text))
