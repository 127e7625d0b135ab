"""Per-request budget loaders: effective allocations batched per account (a constant number of
statements for any number of nodes), and budget entities by id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.dataloaders.base import batch_by_account
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import BudgetCycle, BudgetPlan, Reservation, Settlement, UsageEvent
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.allocation import Allocation, ScopeSettings
from cockpit_graphql.domain.budgets.effective import allocations
from cockpit_graphql.domain.budgets.scopes import Scope

ENTITY_TABLES: dict[str, Any] = {
    "BudgetCycle": BudgetCycle,
    "Reservation": Reservation,
    "Settlement": Settlement,
    "UsageEvent": UsageEvent,
}


@dataclass(frozen=True)
class ChainKey:
    account_id: uuid.UUID
    chain: tuple[Scope, ...]


@dataclass(frozen=True)
class EntityKey:
    account_id: uuid.UUID
    type_name: str
    id: uuid.UUID


class BudgetLoaders:
    def __init__(self, db: Database, principal: Principal | None, now: datetime | None = None) -> None:
        self.db = db
        self.principal = principal
        self.now = now or datetime.now(UTC)
        self.allocation = DataLoader(self._load_allocations)
        self.settings = DataLoader(self._load_settings)
        self.plan = DataLoader(self._load_plans)
        self.current_cycle = DataLoader(self._load_current_cycles)
        self.entity = DataLoader(self._load_entities)

    async def _load_allocations(self, keys: list[ChainKey]) -> list[Allocation | None]:
        async def run(session: AsyncSession, group: list[ChainKey]) -> dict[ChainKey, Allocation]:
            tenant = self.principal.tenant_for(group[0].account_id) if self.principal else None
            assert tenant is not None
            found = await allocations(session, tenant, [list(k.chain) for k in group], self.now)
            return dict(zip(group, found, strict=True))

        return await batch_by_account(self.db, self.principal, keys, lambda k: k.account_id, lambda _k: None, run)

    async def _load_settings(self, keys: list[tuple[uuid.UUID, Scope]]) -> list[ScopeSettings]:
        async def run(session: AsyncSession, group: list[tuple[uuid.UUID, Scope]]) -> dict[Any, ScopeSettings]:
            found = await repo.scope_settings(session, [k[1] for k in group])
            return {k: found.get(k[1], ScopeSettings()) for k in group}

        return await batch_by_account(
            self.db, self.principal, keys, lambda k: k[0], lambda _k: None, run, missing=ScopeSettings()
        )

    async def _load_plans(self, account_ids: list[uuid.UUID]) -> list[BudgetPlan | None]:
        async def run(session: AsyncSession, group: list[uuid.UUID]) -> dict[uuid.UUID, BudgetPlan | None]:
            return {group[0]: await repo.latest_plan(session)}

        return await batch_by_account(self.db, self.principal, account_ids, lambda k: k, lambda k: k, run)

    async def _load_current_cycles(self, account_ids: list[uuid.UUID]) -> list[BudgetCycle | None]:
        async def run(session: AsyncSession, group: list[uuid.UUID]) -> dict[uuid.UUID, BudgetCycle | None]:
            return {group[0]: (await repo.current_cycle(session, self.now))[0]}

        return await batch_by_account(self.db, self.principal, account_ids, lambda k: k, lambda k: k, run)

    async def _load_entities(self, keys: list[EntityKey]) -> list[Any]:
        async def run(session: AsyncSession, group: list[EntityKey]) -> dict[EntityKey, Any]:
            table = ENTITY_TABLES[group[0].type_name]
            rows = (await session.scalars(sa.select(table).where(table.id.in_([k.id for k in group])))).all()
            by_id = {r.id: r for r in rows}
            return {k: by_id.get(k.id) for k in group}

        return await batch_by_account(self.db, self.principal, keys, lambda k: k.account_id, lambda k: k.type_name, run)
