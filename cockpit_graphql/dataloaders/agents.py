"""Per-request agent loaders, keyed by (account_id, agent_id): the agent rows, their assignments,
their version history, and the signed-in user's membership of each (the audience rule). Each batch
is one transaction per account with a constant number of statements."""

from __future__ import annotations

import uuid
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.dataloaders.base import batch_by_account
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import Agent, AgentVersion
from cockpit_graphql.domain.marketplace import agents_repository as repo
from cockpit_graphql.domain.marketplace.audience import Assignment, Membership
from cockpit_graphql.domain.marketplace.marketplace import chain_of_user

Key = tuple[uuid.UUID, uuid.UUID]


def _account(key: Key) -> uuid.UUID:
    return key[0]


def _one(_key: Key) -> None:
    return None


class AgentLoaders:
    def __init__(self, db: Database, principal: Principal | None) -> None:
        self.db = db
        self.principal = principal
        self.agent = DataLoader(self._load_agents)
        self.assignments = DataLoader(self._load_assignments)
        self.versions = DataLoader(self._load_versions)
        self.viewer_membership = DataLoader(self._load_memberships)

    async def _load_agents(self, keys: list[Key]) -> list[Agent | None]:
        async def run(session: AsyncSession, group: list[Key]) -> dict[Key, Any]:
            found = await repo.agents_by_ids(session, [k[1] for k in group])
            return {k: found.get(k[1]) for k in group}

        return await batch_by_account(self.db, self.principal, keys, _account, _one, run)

    async def _load_assignments(self, keys: list[Key]) -> list[list[Assignment]]:
        async def run(session: AsyncSession, group: list[Key]) -> dict[Key, Any]:
            found = await repo.assignments_of(session, [k[1] for k in group])
            return {k: found.get(k[1], []) for k in group}

        return await batch_by_account(self.db, self.principal, keys, _account, _one, run, missing=[])

    async def _load_versions(self, keys: list[Key]) -> list[list[AgentVersion]]:
        async def run(session: AsyncSession, group: list[Key]) -> dict[Key, Any]:
            found = await repo.versions_of(session, [k[1] for k in group])
            return {k: found.get(k[1], []) for k in group}

        return await batch_by_account(self.db, self.principal, keys, _account, _one, run, missing=[])

    async def _load_memberships(self, keys: list[Key]) -> list[tuple[Agent, Membership | None] | None]:
        """For the signed-in user: (agent, membership) of each agent of their own account; None for an
        unknown agent, another account's, or a principal that is no user (super admins)."""
        principal = self.principal
        user_id = principal.user_id if principal else None

        async def run(session: AsyncSession, group: list[Key]) -> dict[Key, Any]:
            if principal is None or user_id is None or group[0][0] != principal.account_id:
                return {}
            tenant = principal.tenant_for(group[0][0])
            assert tenant is not None
            agents = await repo.agents_by_ids(session, [k[1] for k in group])
            chain = await chain_of_user(session, tenant, user_id)
            if chain is None:
                return {}
            found = await repo.memberships(session, chain, list(agents.values()))
            return {k: (agents[k[1]], found[k[1]]) for k in group if k[1] in agents}

        return await batch_by_account(self.db, self.principal, keys, _account, _one, run)
