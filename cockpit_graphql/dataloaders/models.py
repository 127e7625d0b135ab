"""Per-request loader of catalog models by id. The catalog is a platform table: one platform
transaction (no account set) per batch, whoever asks. effectiveAccess primes it with the model it
chose (a ModelRecord read with the policy inputs), so `model { … }` costs no transaction."""

from __future__ import annotations

import uuid

from aiodataloader import DataLoader

from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import CatalogModel
from cockpit_graphql.domain.models.catalog import models_by_ids
from cockpit_graphql.domain.policies.records import ModelRecord


class ModelLoaders:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.by_id = DataLoader(self._load_by_ids)

    async def _load_by_ids(self, ids: list[uuid.UUID]) -> list[CatalogModel | ModelRecord | None]:
        async with self.db.platform() as session:
            found = await models_by_ids(session, ids)
        return [found.get(i) for i in ids]
