"""Budget fixtures built through the domain services (the same code the API runs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cockpit_graphql.auth.tenant import TenantId, mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.budgets import caps, metering, plans
from cockpit_graphql.domain.budgets.metering import AuthorizationRequest, UsageInput
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.directory import service as directory
from tests.support.world import OP, Tenant, World

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Budget:
    world: World
    tenant: Tenant
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    levels: dict[str, ScopeLevel] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.world.db

    @property
    def tid(self) -> TenantId:
        return mint_for_system(self.tenant.account_id)

    def scope(self, key: str) -> Scope:
        return Scope(self.levels[key], self.ids[key])

    @property
    def account(self) -> Scope:
        return Scope(ScopeLevel.ACCOUNT, self.tenant.account_id)

    async def plan(self, credits: str, *, day: int = 1, now: datetime = NOW, **terms: Any) -> None:
        async with self.db.tenant(self.tid) as s:
            await plans.set_plan(s, self.tid, OP, plans.PlanTerms(Decimal(credits), day, **terms), now)

    async def org(self, key: str) -> None:
        async with self.db.tenant(self.tid) as s:
            self.ids[key] = (await directory.create_organization(s, self.tid, OP, f"Org {key}")).id
        self.levels[key] = ScopeLevel.ORGANIZATION

    async def team(self, key: str, org: str) -> None:
        async with self.db.tenant(self.tid) as s:
            self.ids[key] = (await directory.create_team(s, self.tid, OP, self.ids[org], f"Team {key}")).id
        self.levels[key] = ScopeLevel.TEAM

    async def user(self, key: str, team: str) -> None:
        async with self.db.tenant(self.tid) as s:
            user = await directory.create_user(
                s,
                self.tid,
                OP,
                email=f"{key}-{uuid.uuid4().hex[:6]}@{self.tenant.domain}",
                home_team_id=self.ids[team],
            )
            self.ids[key] = user.id
        self.levels[key] = ScopeLevel.USER

    async def cap(self, key: str, credits: str | None) -> None:
        async with self.db.tenant(self.tid) as s:
            await caps.set_cap(s, self.tid, OP, self.scope(key), Decimal(credits) if credits else None)

    async def default_cap(self, key: str, credits: str | None) -> None:
        scope = self.account if key == "account" else self.scope(key)
        async with self.db.tenant(self.tid) as s:
            await caps.set_default_user_cap(s, self.tid, OP, scope, Decimal(credits) if credits else None)

    async def spend(self, user: str, credits: str, *, key: str | None = None, at: datetime = NOW) -> Any:
        """Record usage worth `credits` (the account factor is 1000 credits per USD)."""
        usage = UsageInput(
            idempotency_key=key or uuid.uuid4().hex,
            user_id=self.ids[user],
            cost_usd=Decimal(credits) / Decimal(1000),
            occurred_at=at,
        )
        async with self.db.tenant(self.tid) as s:
            return (await metering.record_usage(s, self.tid, [usage], at))[0]

    async def authorize(self, user: str, credits: str, *, now: datetime = NOW, ttl: int = 300) -> Any:
        request = AuthorizationRequest(self.ids[user], Decimal(credits), ttl)
        async with self.db.tenant(self.tid) as s:
            return await metering.authorize(s, self.tid, request, now)

    async def allocation(self, user: str, *, now: datetime = NOW) -> Any:
        from cockpit_graphql.domain.budgets import repository as repo
        from cockpit_graphql.domain.budgets.metering import allocation_for

        async with self.db.tenant(self.tid) as s:
            cycle = await repo.ensure_cycle(s, self.tid, now)
            assert cycle is not None
            places = await repo.placements(s, self.tid, [self.ids[user]])
            return await allocation_for(s, cycle, places[self.ids[user]].chain())


async def new_budget(world: World) -> Budget:
    return Budget(world, await world.tenant(with_structure=False))


async def give_budget_history(world: World, tenant: Tenant) -> dict[str, uuid.UUID]:
    """A plan that started ~2 months ago (ALLOW, pool 100), overflow in a past cycle, renewals up to
    now (so a PENDING settlement exists), and a HELD reservation in the current cycle."""
    from datetime import timedelta

    from cockpit_graphql.db.tables import Settlement
    from cockpit_graphql.domain.budgets.renewal import renew_due

    b = Budget(world, tenant, ids=dict(tenant.ids))
    b.levels |= {"member": ScopeLevel.USER}
    now = datetime.now(UTC)
    start = now - timedelta(days=62)
    await b.plan(
        "100", day=1, now=start, overflow_policy=plans.OverflowPolicy.ALLOW, overflow_usd_per_credit=Decimal("0.01")
    )
    await b.spend("member", "150", at=start)
    async with b.db.tenant(b.tid) as s:
        await renew_due(s, b.tid, now, timedelta(hours=1))
    held = await b.authorize("member", "1", now=now)
    assert held.allowed, held
    async with b.db.tenant(b.tid) as s:
        import sqlalchemy as sa

        settlement = (await s.scalars(sa.select(Settlement.id))).one()
    return {"reservation": held.reservation.id, "settlement": settlement}
