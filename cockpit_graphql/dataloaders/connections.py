"""Per-request connection loaders: connections by id, their facts (owner + assignments) and a
user's chain, each batched per account (one transaction and one statement per batch)."""

from __future__ import annotations

import uuid
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.dataloaders.base import batch_by_account
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import Connection
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.marketplace import connections_repository as repo
from cockpit_graphql.domain.marketplace.connection_access import ConnectionFacts

Key = tuple[uuid.UUID, uuid.UUID]
"""(account_id, id)"""


class ConnectionLoaders:
    def __init__(self, db: Database, principal: Principal | None) -> None:
        self.db = db
        self.principal = principal
        self.connection = DataLoader(self._load_connections)
        self.facts = DataLoader(self._load_facts)
        self.chain = DataLoader(self._load_chains)

    async def _load_connections(self, keys: list[Key]) -> list[Connection | None]:
        async def run(session: AsyncSession, group: list[Key]) -> dict[Key, Any]:
            found = await repo.connections(session, [k[1] for k in group])
            return {k: found.get(k[1]) for k in group}

        return await batch_by_account(self.db, self.principal, keys, lambda k: k[0], lambda _k: None, run)

    async def _load_facts(self, keys: list[Key]) -> list[ConnectionFacts | None]:
        async def run(session: AsyncSession, group: list[Key]) -> dict[Key, Any]:
            found = await repo.facts(session, [k[1] for k in group])
            return {k: found.get(k[1]) for k in group}

        return await batch_by_account(self.db, self.principal, keys, lambda k: k[0], lambda _k: None, run)

    async def _load_chains(self, keys: list[Key]) -> list[tuple[Scope, ...] | None]:
        """(account_id, user_id) -> the user's chain now (account, organization, team, user)."""

        async def run(session: AsyncSession, group: list[Key]) -> dict[Key, Any]:
            tenant = self.principal.tenant_for(group[0][0]) if self.principal else None
            assert tenant is not None
            found = await budget_repo.placements(session, tenant, [k[1] for k in group])
            return {k: tuple(found[k[1]].chain()) if k[1] in found else None for k in group}

        return await batch_by_account(self.db, self.principal, keys, lambda k: k[0], lambda _k: None, run)
