"""A directory page as ONE statement: a row with its nested child lists, built as JSON by PostgreSQL.

compiled_pages.py turns a GraphQL selection it fully understands into a `Shape`; `tree_statement`
turns the shape into one SELECT returning the finished value (response keys in selection order), the
way PostGraphile answers. Each list pages its children exactly as `pagination.page_children` does
(the same conditions, keyset and order, ties by id, `LIMIT first`), and counts them as
`count_children` does (the same conditions, no page); row-level security applies to every table read.

Leaves are only what PostgreSQL renders exactly as the Python path does: text, booleans, counts,
enum text whose names are their values, a column's nullness, constants, timestamps in `isoformat`'s
own layout, and global ids (base64url of the same `Type:account:id` text, unpadded).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from cockpit_graphql.domain.pagination import Cursor, Ordering, PageRequest, SortDirection, keyset_condition


@dataclass(frozen=True)
class Column:
    """A column's value: text, boolean or enum text."""

    key: str
    column: str


@dataclass(frozen=True)
class Timestamp:
    """A timestamptz column as Python's `isoformat` writes it in UTC (what the DateTime scalar answers):
    `YYYY-MM-DDTHH:MM:SS`, `.ffffff` only when there are microseconds, `+00:00`."""

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
class CursorOf:
    """An item's cursor (an edge's `cursor`); `start`/`end`: the page's first or last item's, in page
    info. SQL answers the raw `[sort value, id]` pair; `finish_cursors` encodes it as
    `pagination.Cursor` does."""

    key: str
    position: str = "item"  # "item", "start" or "end"


@dataclass(frozen=True)
class EdgeNode:
    key: str
    shape: Shape


@dataclass(frozen=True)
class Edges:
    key: str
    fields: tuple[CursorOf | EdgeNode | Constant, ...]


@dataclass(frozen=True)
class PageInfoObject:
    key: str
    fields: tuple[HasNextPage | CursorOf | Constant, ...]


@dataclass(frozen=True)
class ChildList:
    """A connection of children: `parts` are its selected fields (counts, nodes, edges, page info)."""

    key: str
    table: type[Any]  # the mapped table
    parent_column: str
    request: PageRequest  # forward only (first, after)
    ordering: Ordering
    conditions: tuple[sa.ColumnElement[bool], ...]  # the list's filter, as page_children gets it
    parts: tuple[TotalCount | Nodes | Edges | PageInfoObject | Constant, ...]


Leaf = Column | Timestamp | IsNull | Constant | GlobalId


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
        if isinstance(field, Timestamp):
            return isoformat_utc(source.c[field.column])
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
        sort, ascending = child.ordering.column, child.ordering.direction is SortDirection.ASC
        limit = child.request.limit

        def page() -> Any:
            """The page's rows, as a derived table."""
            return (
                sa.select(table)
                .where(*paged)
                .order_by(*_order(table.c, sort, ascending))
                .limit(sa.literal(limit, sa.Integer))
                .correlate(parent)
                .subquery(self._name())
            )

        def aggregate(item: Any) -> sa.ColumnElement[Any]:
            """The page's items built by `item(row)`, in the list's order, as a JSON array."""
            rows = page()
            ordered = aggregate_order_by(item(rows), *_order(rows.c, sort, ascending))
            agg = sa.func.coalesce(sa.func.json_agg(ordered), sa.literal_column("'[]'::json"))
            return sa.select(agg).select_from(rows).scalar_subquery()

        def end_cursor(first: bool) -> sa.ColumnElement[Any]:
            rows = page()
            pick = _order(rows.c, sort, ascending if first else not ascending)
            return sa.select(self._cursor(child, rows)).select_from(rows).order_by(*pick).limit(1).scalar_subquery()

        args: list[Any] = []
        for part in child.parts:
            args.append(_key(part.key))
            if isinstance(part, TotalCount):
                count = sa.select(sa.func.count()).select_from(table).where(belongs, *child.conditions)
                args.append(count.scalar_subquery())
            elif isinstance(part, Constant):
                args.append(self._value(part, parent))
            elif isinstance(part, Nodes):
                args.append(aggregate(lambda rows, shape=part.shape: self.object(shape, rows)))
            elif isinstance(part, Edges):
                args.append(aggregate(lambda rows, edge=part: self._edge(child, edge, rows)))
            else:
                info: list[Any] = []
                for f in part.fields:
                    info.append(_key(f.key))
                    if isinstance(f, HasNextPage):
                        ahead = (
                            sa.select(sa.literal(1))
                            .select_from(table)
                            .where(*paged)
                            .order_by(*_order(table.c, sort, ascending))
                            .offset(sa.literal(limit, sa.Integer))
                            .limit(1)
                            .correlate(parent)
                        )
                        info.append(sa.exists(ahead))
                    elif isinstance(f, CursorOf):
                        info.append(end_cursor(first=f.position == "start"))
                    else:
                        info.append(self._value(f, parent))
                args.append(sa.func.json_build_object(*info))
        return sa.func.json_build_object(*args)

    def _edge(self, child: ChildList, edge: Edges, rows: Any) -> sa.ColumnElement[Any]:
        args: list[Any] = []
        for f in edge.fields:
            args.append(_key(f.key))
            if isinstance(f, CursorOf):
                args.append(self._cursor(child, rows))
            elif isinstance(f, EdgeNode):
                args.append(self.object(f.shape, rows))
            else:
                args.append(self._value(f, rows))
        return sa.func.json_build_object(*args)

    @staticmethod
    def _cursor(child: ChildList, rows: Any) -> sa.ColumnElement[Any]:
        """The raw cursor of a row: [its sort value as Cursor.encode writes it, its id]."""
        value = rows.c[child.ordering.column]
        written = isoformat_utc(value) if child.ordering.is_time else value
        return sa.func.json_build_array(written, sa.cast(rows.c.id, sa.Text))


def has_cursors(shape: Shape) -> bool:
    """Whether `finish_cursors` has anything to encode in a value of `shape`."""
    for field in shape.fields:
        if not isinstance(field, ChildList):
            continue
        for part in field.parts:
            if isinstance(part, Edges | PageInfoObject) and any(isinstance(f, CursorOf) for f in part.fields):
                return True
            nested = part.shape if isinstance(part, Nodes) else None
            if isinstance(part, Edges):
                nested = next((f.shape for f in part.fields if isinstance(f, EdgeNode)), None)
            if nested is not None and has_cursors(nested):
                return True
    return False


def finish_cursors(shape: Shape, value: dict[str, Any]) -> None:
    """Encode, in place, the raw `[sort value, id]` cursors of a value of `shape` as opaque cursors."""
    for field in shape.fields:
        if not isinstance(field, ChildList):
            continue
        connection = value[field.key]
        for part in field.parts:
            if isinstance(part, Nodes):
                for node in connection[part.key]:
                    finish_cursors(part.shape, node)
            elif isinstance(part, Edges):
                for edge in connection[part.key]:
                    for f in part.fields:
                        if isinstance(f, CursorOf):
                            edge[f.key] = _encode(edge[f.key])
                        elif isinstance(f, EdgeNode):
                            finish_cursors(f.shape, edge[f.key])
            elif isinstance(part, PageInfoObject):
                info = connection[part.key]
                for f in part.fields:
                    if isinstance(f, CursorOf):
                        info[f.key] = None if info[f.key] is None else _encode(info[f.key])


def _encode(raw: list[str]) -> str:
    sort_value, ident = raw
    return Cursor(sort_value, uuid.UUID(ident)).encode()


def _key(key: str) -> sa.ColumnElement[str]:
    return sa.literal(key, sa.Text)


def _order(columns: Any, sort: str, ascending: bool) -> list[sa.ColumnElement[Any]]:
    if ascending:
        return [columns[sort].asc(), columns["id"].asc()]
    return [columns[sort].desc(), columns["id"].desc()]


def isoformat_utc(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """`datetime.isoformat()` of a timestamptz as asyncpg returns it (in UTC); null stays null."""
    utc = sa.func.timezone(sa.literal("UTC", sa.Text), column)
    seconds = sa.func.to_char(utc, sa.literal('YYYY-MM-DD"T"HH24:MI:SS', sa.Text))
    whole = sa.cast(sa.extract("microseconds", column), sa.BigInteger) % 1_000_000 == 0
    fraction = sa.case((whole, sa.literal("", sa.Text)), else_=sa.func.to_char(utc, sa.literal(".US", sa.Text)))
    return seconds + fraction + sa.literal("+00:00", sa.Text)


def _global_id(field: GlobalId, source: Any) -> sa.ColumnElement[str]:
    """types/ids.encode_id in SQL: PostgreSQL's base64 breaks lines every 76 characters and pads."""
    text = sa.literal(field.type_name + ":", sa.Text)
    if field.with_account:
        text = text + sa.cast(source.c.account_id, sa.Text) + sa.literal(":", sa.Text)
    text = text + sa.cast(source.c.id, sa.Text)
    encoded = sa.func.encode(sa.func.convert_to(text, sa.literal("UTF8", sa.Text)), sa.literal("base64", sa.Text))
    urlsafe = sa.func.translate(encoded, sa.literal("+/\n", sa.Text), sa.literal("-_", sa.Text))
    return sa.func.rtrim(urlsafe, sa.literal("=", sa.Text))
