"""Cursor connections (Relay style) with a hard maximum page size and a lazily counted totalCount."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

import strawberry

from cockpit_graphql.dataloaders.pages import CountKey, PageKey
from cockpit_graphql.domain.pagination import Ordering, Page, PageRequest, SortDirection, cursor_of
from cockpit_graphql.types.enums import described_enum

if TYPE_CHECKING:
    from cockpit_graphql.context import Info

T = TypeVar("T")

First = Annotated[
    int | None, strawberry.argument(description="Return the first n items (0 to the maximum page size, 100).")
]
After = Annotated[str | None, strawberry.argument(description="Return items after this cursor.")]
Last = Annotated[
    int | None, strawberry.argument(description="Return the last n items (0 to the maximum page size, 100).")
]
Before = Annotated[str | None, strawberry.argument(description="Return items before this cursor.")]

SortDirectionEnum = described_enum(
    SortDirection,
    name="SortDirection",
    description="Sort direction.",
    values={
        "ASC": "Ascending: smallest (or earliest, or A before Z) first.",
        "DESC": "Descending: largest (or latest, or Z before A) first.",
    },
)


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow the last edge.")
    has_previous_page: bool = strawberry.field(description="More items precede the first edge.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last edge.")


@strawberry.type(description="An item of a list and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque cursor for `after`/`before`.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list.")
class Connection(Generic[T]):
    _page: strawberry.Private[Page]
    _ordering: strawberry.Private[Ordering]
    _to_node: strawberry.Private[Callable[[Any], Any]]
    _count: strawberry.Private[Callable[[], Awaitable[int]]]
    _built: strawberry.Private[list[Any] | None] = None

    def _nodes(self) -> list[Any]:
        if self._built is None:  # nodes are built once, and only when a field asks for them
            self._built = [self._to_node(row) for row in self._page.rows]
        return self._built

    @strawberry.field(description="The items of this page with their cursors.")
    def edges(self) -> list[Edge[T]]:
        return [
            Edge(cursor=cursor_of(row, self._ordering), node=node)
            for row, node in zip(self._page.rows, self._nodes(), strict=True)
        ]

    @strawberry.field(description="The items of this page, without cursors (cheaper than edges).")
    def nodes(self) -> list[T]:
        return self._nodes()

    @strawberry.field(description="Pagination state.")
    def page_info(self) -> PageInfo:
        rows = self._page.rows
        return PageInfo(
            has_next_page=self._page.has_next_page,
            has_previous_page=self._page.has_previous_page,
            start_cursor=cursor_of(rows[0], self._ordering) if rows else None,
            end_cursor=cursor_of(rows[-1], self._ordering) if rows else None,
        )

    @strawberry.field(description="Number of items in the whole list (all pages), with the same filter.")
    async def total_count(self) -> int:
        return await self._count()


def build_connection(
    page: Page, ordering: Ordering, to_node: Callable[[Any], Any], count: Callable[[], Awaitable[int]]
) -> Any:
    return Connection(_page=page, _ordering=ordering, _to_node=to_node, _count=count)


async def list_page(
    info: Info,
    account_id: uuid.UUID,
    table: str,
    parent_column: str,
    parent_id: uuid.UUID,
    request: PageRequest,
    ordering: Ordering,
    flt: Any,
    to_node: Any,
) -> Any:
    """A connection over the children of one parent, batched with its siblings by the page loader."""
    loaders = info.context.pages
    page = await loaders.page.load(PageKey(account_id, table, parent_column, parent_id, request, ordering, flt))
    count_key = CountKey(account_id, table, parent_column, parent_id, flt)
    return build_connection(page, ordering, to_node, lambda: loaders.count.load(count_key))
