"""Cursor connections (Relay style) with a hard maximum page size and a lazily counted totalCount."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from cockpit_graphql.domain.pagination import Ordering, Page, SortDirection, cursor_of

T = TypeVar("T")

First = Annotated[
    int | None, strawberry.argument(description="Return the first n items (0 to the maximum page size, 100).")
]
After = Annotated[str | None, strawberry.argument(description="Return items after this cursor.")]
Last = Annotated[
    int | None, strawberry.argument(description="Return the last n items (0 to the maximum page size, 100).")
]
Before = Annotated[str | None, strawberry.argument(description="Return items before this cursor.")]

SortDirectionEnum = strawberry.enum(SortDirection, name="SortDirection", description="Sort direction.")


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
    edges: list[Edge[T]] = strawberry.field(description="The items of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Pagination state.")
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of items in the whole list (all pages), with the same filter.")
    async def total_count(self) -> int:
        return await self._count()

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def build_connection(
    page: Page, ordering: Ordering, to_node: Callable[[Any], Any], count: Callable[[], Awaitable[int]]
) -> Any:
    edges = [Edge(cursor=cursor_of(row, ordering), node=to_node(row)) for row in page.rows]
    info = PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return Connection(edges=edges, page_info=info, _count=count)
