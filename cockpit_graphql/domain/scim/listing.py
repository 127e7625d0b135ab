"""GET /Users and /Groups (and their /.search): filter, startIndex/count pagination, creation order.

Without a filter, SQL pages. With one, an `eq` on an indexed attribute (userName, externalId, id for
users; displayName, externalId, id for groups), alone or inside an `and`, narrows the rows in SQL;
scim2-models then evaluates the whole filter on what remains (so any valid filter works, and the
semantics, such as case-insensitive userName, are the library's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from scim2_models import SearchRequest
from scim2_models.path.expressions import CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import ScimGroup, ScimUser, User
from cockpit_graphql.domain.scim import groups, users
from cockpit_graphql.domain.scim import repository as repo
from cockpit_graphql.domain.scim.common import ScimCall
from cockpit_graphql.domain.scim.provider import MAX_RESULTS


@dataclass(frozen=True)
class Listed:
    resources: list[Any]
    total: int
    start_index: int


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _by_id(column: Any, value: Any) -> Any:
    ident = _uuid_or_none(value)
    return column == ident if ident is not None else sa.false()


USER_COLUMNS = {
    "username": lambda v: sa.func.lower(ScimUser.user_name) == str(v).lower(),
    "externalid": lambda v: User.external_id == str(v),
    "id": lambda v: _by_id(User.id, v),
}
GROUP_COLUMNS = {
    "displayname": lambda v: sa.func.lower(ScimGroup.display_name) == str(v).lower(),
    "externalid": lambda v: ScimGroup.external_id == str(v),
    "id": lambda v: _by_id(ScimGroup.id, v),
}


def narrowing(node: FilterNode, columns: dict[str, Any]) -> list[Any]:
    """SQL conditions implied by the filter (a superset of its matches); empty when none applies."""
    if isinstance(node, Comparison) and node.op is CompareOperator.eq and node.attr_path.sub_attr is None:
        make = columns.get(node.attr_path.attr.lower())
        return [make(node.value)] if make is not None and isinstance(node.value, str) else []
    if isinstance(node, LogicalExpr) and node.op is LogicalOperator.and_:
        return [c for term in node.terms for c in narrowing(term, columns)]
    return []


MAX_START_INDEX = 2**31 - 1
"""startIndex above this reads as this (RFC 7644 §3.4.2.4 bounds it only below): past the end of any
result set, so an empty page with the whole `totalResults`, never an OFFSET PostgreSQL cannot hold."""


def _window(search: SearchRequest[Any]) -> tuple[int, int]:
    start = max(1, min(search.start_index or 1, MAX_START_INDEX))
    count = MAX_RESULTS if search.count is None else max(0, min(search.count, MAX_RESULTS))
    return start, count


async def list_users(session: AsyncSession, call: ScimCall, search: SearchRequest[Any]) -> Listed:
    start, count = _window(search)
    flt = search.filter
    if flt is None:
        rows, total = await repo.users_page(session, [], start - 1, count)
        return Listed(await _user_resources(session, call, rows), total, start)
    rows, _ = await repo.users_page(session, narrowing(flt.ast, USER_COLUMNS), None, None)
    matched = [r for r in await _user_resources(session, call, rows) if flt.match(r)]
    page = matched[start - 1 : start - 1 + count]
    await users._touch(session, [uuid.UUID(r.id) for r in page])  # the identity provider looked them up
    return Listed(page, len(matched), start)


async def _user_resources(session: AsyncSession, call: ScimCall, rows: list[tuple[User, ScimUser]]) -> list[Any]:
    memberships = await repo.groups_of_users(session, [u.id for u, _ in rows])
    return [users.to_resource(call, u, s, memberships[u.id]) for u, s in rows]


async def list_groups(
    session: AsyncSession, call: ScimCall, search: SearchRequest[Any], *, with_members: bool = True
) -> Listed:
    start, count = _window(search)
    flt = search.filter
    need_members = with_members or (flt is not None and "members" in str(flt).lower())
    if flt is None:
        rows, total = await repo.groups_page(session, [], start - 1, count)
        return Listed(await _group_resources(session, call, rows, need_members), total, start)
    rows, _ = await repo.groups_page(session, narrowing(flt.ast, GROUP_COLUMNS), None, None)
    matched = [r for r in await _group_resources(session, call, rows, need_members) if flt.match(r)]
    return Listed(matched[start - 1 : start - 1 + count], len(matched), start)


async def _group_resources(
    session: AsyncSession, call: ScimCall, rows: list[ScimGroup], with_members: bool
) -> list[Any]:
    members = await repo.members_of(session, [g.id for g in rows]) if with_members else {}
    return [groups.to_resource(call, g, members.get(g.id)) for g in rows]
