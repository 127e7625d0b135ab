"""Per-request loaders of the directory by id, each key tagged with its account."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.dataloaders.base import batch_by_account
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import (
    Account,
)
from cockpit_graphql.domain.directory import repository as repo

EntityKey = tuple[uuid.UUID, uuid.UUID]  # (account_id, id)


class DirectoryLoaders:
    def __init__(self, db: Database, principal: Principal | None) -> None:
        self.db = db
        self.principal = principal
        self.account = DataLoader(self._load_accounts)
        self.organization = DataLoader(self._by_ids(repo.organizations_by_ids))
        self.team = DataLoader(self._by_ids(repo.teams_by_ids))
        self.user = DataLoader(self._by_ids(repo.users_by_ids))

    async def _load_accounts(self, ids: list[uuid.UUID]) -> list[Account | None]:
        async with self.db.platform() as session:
            rows = (await session.scalars(sa.select(Account).where(Account.id.in_(ids)))).all()
        by_id = {row.id: row for row in rows}
        return [by_id.get(i) for i in ids]

    def _by_ids(self, fetch: Any) -> Any:
        async def load(keys: list[EntityKey]) -> list[Any]:
            async def run(session: AsyncSession, group: list[EntityKey]) -> dict[EntityKey, Any]:
                rows = await fetch(session, [k[1] for k in group])
                return {(row.account_id, row.id): row for row in rows}

            return await batch_by_account(self.db, self.principal, keys, lambda k: k[0], lambda _k: None, run)

        return load
