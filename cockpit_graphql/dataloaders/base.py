"""Loader plumbing: keys carry their account; a batch runs one transaction per account it touches."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.db.engine import Database

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


async def batch_by_account(
    db: Database,
    principal: Principal | None,
    keys: Sequence[K],
    account_of: Callable[[K], uuid.UUID],
    group_of: Callable[[K], Hashable],
    load: Callable[[AsyncSession, list[K]], Awaitable[dict[K, Any]]],
    missing: Any = None,
) -> list[Any]:
    """Group keys by (account, group); keys of an account the principal may not see resolve to
    `missing` with no SQL at all; each remaining group runs in its own tenant transaction."""
    groups: dict[tuple[uuid.UUID, Hashable], list[K]] = defaultdict(list)
    for key in keys:
        groups[(account_of(key), group_of(key))].append(key)
    results: dict[K, Any] = {}

    async def run(account_id: uuid.UUID, group_keys: list[K]) -> None:
        tenant = principal.tenant_for(account_id) if principal else None
        if tenant is None:
            return
        async with db.tenant(tenant) as session:
            results.update(await load(session, group_keys))

    await asyncio.gather(*(run(account, group_keys) for (account, _), group_keys in groups.items()))
    return [results.get(key, missing) for key in keys]
