"""Keyset pagination: page requests, opaque cursors, and the SQL that pages many parents at once."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.validation import storable_text

ROOT = uuid.UUID(int=0)
"""The key of a list that has no parent (for example the platform's accounts)."""


class SortDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


class SortKind(StrEnum):
    """The type of a list's sort value, which a cursor must carry to be compared with the column."""

    TEXT = "TEXT"
    INTEGER = "INTEGER"  # a signed 64-bit integer
    TIME = "TIME"  # a timestamptz, written as an ISO 8601 instant with its offset


INT64 = range(-(2**63), 2**63)


def _sort_value(value: Any, kind: SortKind) -> Any:
    """The sort value of a decoded cursor, if it is one the column can be compared with; else ValueError.

    A cursor is opaque but not signed: anyone may forge one, so what would reach SQL or a comparison
    with the rows is checked here (a wrong type, a NUL or a lone surrogate PostgreSQL cannot store,
    an integer beyond 64 bits, an instant beyond the calendar in UTC)."""
    if kind is SortKind.TEXT:
        if not isinstance(value, str) or not storable_text(value):
            raise ValueError("not a text sort value")
        return value
    if kind is SortKind.INTEGER:
        if type(value) is not int or value not in INT64:
            raise ValueError("not a 64-bit integer sort value")
        return value
    if not isinstance(value, str):
        raise ValueError("not an instant")
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)  # as the DateTime scalar reads an instant without zone
    try:
        return instant.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("an instant beyond the calendar") from exc


@dataclass(frozen=True)
class Cursor:
    sort_value: Any
    id: uuid.UUID

    def encode(self) -> str:
        value = self.sort_value.isoformat() if isinstance(self.sort_value, datetime) else self.sort_value
        raw = json.dumps([value, str(self.id)], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, kind: SortKind) -> Cursor:
        """The cursor of a list sorted by a value of `kind`; BadUserInput for anything this API did not write
        (not base64 JSON, not `[sort value, id]`, or a sort value of another type: see `_sort_value`)."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if not isinstance(decoded, list) or len(decoded) != 2 or not isinstance(decoded[1], str):
                raise ValueError("not [sort value, id]")
            value, ident = decoded
            return cls(_sort_value(value, kind), uuid.UUID(ident))
        except (ValueError, TypeError, RecursionError) as exc:
            raise BadUserInput(f"Invalid cursor {cursor!r}.") from exc


@dataclass(frozen=True)
class PageRequest:
    """A validated page: exactly one of first/last, a limit within the hard maximum."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @classmethod
    def build(
        cls,
        *,
        first: int | None,
        after: str | None,
        last: int | None,
        before: str | None,
        default_size: int,
        max_size: int,
    ) -> PageRequest:
        if first is not None and last is not None:
            raise BadUserInput("Pass either `first` or `last`, not both.")
        for name, value in (("first", first), ("last", last)):
            if value is not None and (value < 0 or value > max_size):
                raise BadUserInput(f"`{name}` must be between 0 and {max_size}.")
        if first is None and last is None:
            if before is not None:
                last = default_size
            else:
                first = default_size
        return cls(first=first, after=after, last=last, before=before)

    @property
    def limit(self) -> int:
        return self.first if self.first is not None else (self.last or 0)

    @property
    def backwards(self) -> bool:
        return self.last is not None


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    has_next_page: bool
    has_previous_page: bool


@dataclass(frozen=True)
class Ordering:
    column: str
    direction: SortDirection = SortDirection.ASC
    kind: SortKind | None = None
    """The type of the column's values; None: TIME for a column named `*_at`, else TEXT."""

    @property
    def sort_kind(self) -> SortKind:
        if self.kind is not None:
            return self.kind
        return SortKind.TIME if self.column.endswith("_at") else SortKind.TEXT

    @property
    def is_time(self) -> bool:
        return self.sort_kind is SortKind.TIME


def keyset_condition(ordering: Ordering, cursor: str, *, after: bool) -> sa.ColumnElement[bool]:
    """Rows strictly after (or before) `cursor` in the list's own order."""
    c = Cursor.decode(cursor, ordering.sort_kind)
    row = sa.tuple_(sa.column(ordering.column), sa.column("id"))
    bound = sa.tuple_(sa.literal(c.sort_value), sa.literal(c.id))
    forward = (ordering.direction is SortDirection.ASC) == after
    return row > bound if forward else row < bound


async def page_children(
    session: AsyncSession,
    table: type[Any],
    parent_column: str | None,
    parent_ids: list[uuid.UUID],
    request: PageRequest,
    ordering: Ordering,
    where: list[sa.ColumnElement[bool]] | None = None,
) -> dict[uuid.UUID, Page]:
    """One statement pages the children of every parent with keyset cursors.

    Each parent's page is a LATERAL subquery `ORDER BY sort, id LIMIT n+1`, so an index on
    (account_id, parent, sort, id) reads only n+1 rows per parent, however large the list.
    With `parent_column=None` the whole (filtered) table is one list, keyed by ROOT."""
    sort_col, id_col = getattr(table, ordering.column), table.id
    conditions: list[sa.ColumnElement[bool]] = [*(where or [])]
    if request.after:
        conditions.append(keyset_condition(ordering, request.after, after=True).self_group())
    if request.before:
        conditions.append(keyset_condition(ordering, request.before, after=False).self_group())
    ascending = (ordering.direction is SortDirection.ASC) != request.backwards
    order = [sort_col.asc(), id_col.asc()] if ascending else [sort_col.desc(), id_col.desc()]
    limit = request.limit + 1
    if parent_column is None:
        stmt = sa.select(table).where(*conditions).order_by(*order).limit(limit)
        grouped = {ROOT: list((await session.scalars(stmt)).all())}
    else:
        parents = (
            sa.func.unnest(sa.cast(sa.literal(parent_ids), ARRAY(PG_UUID(as_uuid=True))))
            .table_valued("pid")
            .render_derived(name="parents")
        )
        page = (
            sa.select(table)
            .where(getattr(table, parent_column) == parents.c.pid, *conditions)
            .order_by(*order)
            .limit(limit)
            .lateral("page")
        )
        entity = sa.orm.aliased(table, page)
        stmt = sa.select(entity).select_from(parents).join(page, sa.true())
        grouped = {pid: [] for pid in parent_ids}
        for row in (await session.scalars(stmt)).all():
            grouped[getattr(row, parent_column)].append(row)
        for rows in grouped.values():  # the outer query does not promise the inner order: restore it
            rows.sort(key=lambda r: (getattr(r, ordering.column), r.id), reverse=not ascending)
    pages: dict[uuid.UUID, Page] = {}
    for pid, rows in grouped.items():
        has_more = len(rows) > request.limit
        rows = rows[: request.limit]
        if request.backwards:
            rows.reverse()
            pages[pid] = Page(rows, has_next_page=request.before is not None, has_previous_page=has_more)
        else:
            pages[pid] = Page(rows, has_next_page=has_more, has_previous_page=request.after is not None)
    return pages


async def count_children(
    session: AsyncSession,
    table: type[Any],
    parent_column: str | None,
    parent_ids: list[uuid.UUID],
    where: list[sa.ColumnElement[bool]] | None = None,
) -> dict[uuid.UUID, int]:
    if parent_column is None:
        total = await session.scalar(sa.select(sa.func.count()).select_from(table).where(*(where or [])))
        return {ROOT: int(total or 0)}
    parent_col = getattr(table, parent_column)
    stmt = sa.select(parent_col, sa.func.count()).where(parent_col.in_(parent_ids), *(where or [])).group_by(parent_col)
    counts = {pid: 0 for pid in parent_ids}
    for pid, n in (await session.execute(stmt)).all():
        counts[pid] = n
    return counts


def page_in_memory(rows: list[Any], request: PageRequest, ordering: Ordering) -> Page:
    """Keyset paging of a short list already loaded, in `ordering` (the rows must be sorted that way,
    ties by id): the same cursors and page semantics as page_children, without SQL."""

    def key(row: Any) -> tuple[Any, uuid.UUID]:
        return getattr(row, ordering.column), row.id

    ascending = ordering.direction is SortDirection.ASC
    kept = rows
    if request.after:
        c = Cursor.decode(request.after, ordering.sort_kind)
        bound = (c.sort_value, c.id)
        kept = [r for r in kept if (key(r) > bound if ascending else key(r) < bound)]
    if request.before:
        c = Cursor.decode(request.before, ordering.sort_kind)
        bound = (c.sort_value, c.id)
        kept = [r for r in kept if (key(r) < bound if ascending else key(r) > bound)]
    n = request.limit
    if request.backwards:
        return Page(kept[len(kept) - n :] if n else [], request.before is not None, len(kept) > n)
    return Page(kept[:n], len(kept) > n, request.after is not None)


def cursor_of(row: Any, ordering: Ordering) -> str:
    return Cursor(getattr(row, ordering.column), row.id).encode()
