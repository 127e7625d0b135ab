"""Per-request page and count loaders for any list that is the children of one parent (directory
lists, budget cycles, ledger entries, settlements, notices): one statement per batch of parents."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.dataloaders.base import batch_by_account
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import (
    BillingNotice,
    BudgetCycle,
    LedgerEntry,
    Organization,
    Reservation,
    Settlement,
    Team,
    UsageEvent,
    User,
)
from cockpit_graphql.domain.pagination import Ordering, Page, PageRequest, count_children, page_children

TABLES: dict[str, Any] = {
    "organizations": Organization,
    "teams": Team,
    "users": User,
    "budget_cycles": BudgetCycle,
    "ledger_entries": LedgerEntry,
    "settlements": Settlement,
    "billing_notices": BillingNotice,
    "usage_events": UsageEvent,
    "budget_reservations": Reservation,
}
"""Tables that can be listed as pages of a parent (the page and count loaders below serve them all)."""


@dataclass(frozen=True)
class PageKey:
    account_id: uuid.UUID
    table: str
    parent_column: str
    parent_id: uuid.UUID
    request: PageRequest
    ordering: Ordering
    filter: Any  # a frozen dataclass with .conditions(...)


@dataclass(frozen=True)
class CountKey:
    account_id: uuid.UUID
    table: str
    parent_column: str
    parent_id: uuid.UUID
    filter: Any


def list_conditions(table: str, flt: Any) -> list[sa.ColumnElement[bool]]:
    """The SQL conditions of a list filter (None: none), for a table of TABLES."""
    if flt is None:
        return []
    return flt.conditions() if table == "users" else flt.conditions(TABLES[table])


class PageLoaders:
    def __init__(self, db: Database, principal: Principal | None) -> None:
        self.db = db
        self.principal = principal
        self.page = DataLoader(self._load_pages)
        self.count = DataLoader(self._load_counts)

    async def _load_pages(self, keys: list[PageKey]) -> list[Page]:
        async def run(session: AsyncSession, group: list[PageKey]) -> dict[PageKey, Page]:
            first = group[0]
            pages = await page_children(
                session,
                TABLES[first.table],
                first.parent_column,
                [k.parent_id for k in group],
                first.request,
                first.ordering,
                list_conditions(first.table, first.filter),
            )
            return {k: pages[k.parent_id] for k in group}

        empty = Page([], False, False)
        return await batch_by_account(
            self.db,
            self.principal,
            keys,
            lambda k: k.account_id,
            lambda k: (k.table, k.parent_column, k.request, k.ordering, k.filter),
            run,
            missing=empty,
        )

    async def _load_counts(self, keys: list[CountKey]) -> list[int]:
        async def run(session: AsyncSession, group: list[CountKey]) -> dict[CountKey, int]:
            first = group[0]
            counts = await count_children(
                session,
                TABLES[first.table],
                first.parent_column,
                [k.parent_id for k in group],
                list_conditions(first.table, first.filter),
            )
            return {k: counts[k.parent_id] for k in group}

        return await batch_by_account(
            self.db,
            self.principal,
            keys,
            lambda k: k.account_id,
            lambda k: (k.table, k.parent_column, k.filter),
            run,
            missing=0,
        )
