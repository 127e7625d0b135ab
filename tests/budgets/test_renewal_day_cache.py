"""The per-process renewal-day memo (repository.renewal_day) only learns committed facts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.domain.budgets import plans
from cockpit_graphql.domain.budgets import repository as repo
from tests.support.budgets import NOW
from tests.support.world import OP, World


class Abort(Exception):
    pass


async def test_a_rolled_back_first_plan_is_not_remembered(world: World) -> None:
    t = await world.tenant()
    tid = mint_for_system(t.account_id)
    with pytest.raises(Abort):
        async with world.db.tenant(tid) as s:
            await plans.set_plan(s, tid, OP, plans.PlanTerms(Decimal(10), 5), NOW)
            assert await repo.renewal_day(s) == 5  # seen inside the transaction …
            raise Abort
    async with world.db.tenant(tid) as s:
        assert await repo.renewal_day(s) is None  # … and forgotten with it
        await plans.set_plan(s, tid, OP, plans.PlanTerms(Decimal(10), 12), NOW)
    async with world.db.tenant(tid) as s:
        assert await repo.renewal_day(s) == 12
        cycle, plan = await repo.current_cycle(s, NOW)
        assert plan is not None and plan.renewal_day == 12
        assert cycle is not None and cycle.starts_at.day == 12
