"""Per-request policy loaders: effective policies batched per account (a constant number of
statements for any number of scopes), explicit settings by scope, guardrails by account and id."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.dataloaders.base import batch_by_account
from cockpit_graphql.dataloaders.budgets import ChainKey
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import GuardrailDefinition
from cockpit_graphql.domain.budgets.repository import known_renewal_day
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.policies import repository as repo
from cockpit_graphql.domain.policies.access import AccessRequest
from cockpit_graphql.domain.policies.effective import PolicyView, effective_policies
from cockpit_graphql.domain.policies.flags import FlagDefinition
from cockpit_graphql.domain.policies.runtime import AccessAnswer, effective_access, effective_access_alone
from cockpit_graphql.domain.policies.settings import ScopePolicies


@dataclass(frozen=True)
class AccessKey:
    account_id: uuid.UUID
    user_id: uuid.UUID
    request: AccessRequest


class PolicyLoaders:
    def __init__(self, db: Database, principal: Principal | None, registry: Mapping[str, FlagDefinition]) -> None:
        self.db = db
        self.principal = principal
        self.registry = registry
        self.effective = DataLoader(self._load_effective)
        self.settings = DataLoader(self._load_settings)
        self.guardrails = DataLoader(self._load_guardrails)
        self.guardrail = DataLoader(self._load_guardrail)
        self.access = DataLoader(self._load_access)

    async def _load_access(self, keys: list[AccessKey]) -> list[AccessAnswer | None]:
        """effectiveAccess for every (user, request) of a request, per account: one function call
        outside a transaction where no agent is asked about and the account's renewal day is known,
        else one tenant transaction (which also learns the renewal day)."""
        now = datetime.now(UTC)
        alone: dict[uuid.UUID, tuple[int, list[AccessKey]]] = {}  # account: (its renewal day, its keys)
        rest: list[AccessKey] = []
        for key in keys:
            day = known_renewal_day(key.account_id) if key.request.agent_id is None else None
            if day is None:
                rest.append(key)
            else:  # the day read once here is the one its call uses
                alone.setdefault(key.account_id, (day, []))[1].append(key)

        async def run_alone(
            account_id: uuid.UUID, day: int, group: list[AccessKey]
        ) -> dict[AccessKey, AccessAnswer | None]:
            tenant = self.principal.tenant_for(account_id) if self.principal else None
            if tenant is None:
                return {}
            asks = [(k.user_id, k.request) for k in group]
            answers = await effective_access_alone(self.db, tenant, asks, self.registry, now, day)
            return dict(zip(group, answers, strict=True))

        async def run(session: AsyncSession, group: list[AccessKey]) -> dict[AccessKey, AccessAnswer | None]:
            tenant = self.principal.tenant_for(group[0].account_id) if self.principal else None
            assert tenant is not None
            asks = [(k.user_id, k.request) for k in group]
            return dict(zip(group, await effective_access(session, tenant, asks, self.registry, now), strict=True))

        found: dict[AccessKey, AccessAnswer | None] = {}
        for part in await asyncio.gather(*(run_alone(account, *day_keys) for account, day_keys in alone.items())):
            found.update(part)
        if rest:
            by_account = await batch_by_account(
                self.db, self.principal, rest, lambda k: k.account_id, lambda _: None, run
            )
            found.update(zip(rest, by_account, strict=True))
        return [found.get(key) for key in keys]

    async def _load_effective(self, keys: list[ChainKey]) -> list[PolicyView | None]:
        async def run(session: AsyncSession, group: list[ChainKey]) -> dict[ChainKey, PolicyView]:
            tenant = self.principal.tenant_for(group[0].account_id) if self.principal else None
            assert tenant is not None
            found = await effective_policies(session, tenant, [list(k.chain) for k in group], self.registry)
            return dict(zip(group, found, strict=True))

        return await batch_by_account(self.db, self.principal, keys, lambda k: k.account_id, lambda _k: None, run)

    async def _load_settings(self, keys: list[tuple[uuid.UUID, Scope]]) -> list[ScopePolicies]:
        async def run(session: AsyncSession, group: list[tuple[uuid.UUID, Scope]]) -> dict[Any, ScopePolicies]:
            found = await repo.scope_policies(session, [k[1] for k in group])
            return {k: found.get(k[1], ScopePolicies()) for k in group}

        return await batch_by_account(
            self.db, self.principal, keys, lambda k: k[0], lambda _k: None, run, missing=ScopePolicies()
        )

    async def _load_guardrails(self, account_ids: list[uuid.UUID]) -> list[list[GuardrailDefinition]]:
        async def run(session: AsyncSession, group: list[uuid.UUID]) -> dict[uuid.UUID, list[GuardrailDefinition]]:
            return {group[0]: await repo.guardrails(session)}

        return await batch_by_account(self.db, self.principal, account_ids, lambda k: k, lambda k: k, run, missing=[])

    async def _load_guardrail(self, keys: list[tuple[uuid.UUID, uuid.UUID]]) -> list[GuardrailDefinition | None]:
        async def run(session: AsyncSession, group: list[tuple[uuid.UUID, uuid.UUID]]) -> dict[Any, Any]:
            rows = {g.id: g for g in await repo.guardrails(session)}
            return {k: rows.get(k[1]) for k in group}

        return await batch_by_account(self.db, self.principal, keys, lambda k: k[0], lambda _k: None, run)
