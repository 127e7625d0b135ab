"""Per-request loader of catalog models by id. The catalog is a platform table: one platform
transaction (no account set) per batch, whoever asks."""

from __future__ import annotations

import uuid

from aiodataloader import DataLoader

from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import CatalogModel
from cockpit_graphql.domain.models.catalog import models_by_ids


class ModelLoaders:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.by_id = DataLoader(self._load_by_ids)

    async def _load_by_ids(self, ids: list[uuid.UUID]) -> list[CatalogModel | None]:
        async with self.db.platform() as session:
            found = await models_by_ids(session, ids)
        return [found.get(i) for i in ids]
