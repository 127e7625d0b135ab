"""`repository.bump_counters_watching` answers, besides the account, only the scopes whose spent went from
below their cap to at least 80 % of it, and every scope a notice threshold (`notices.crossings`) can have
been crossed at is among them: the notices look at nothing else (async Hypothesis examples run on the
session's loop, see test_properties.py)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.notices import WARN, crossings
from cockpit_graphql.domain.budgets.repository import CounterDelta
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from tests.support.budget_scenarios import cycle_id, tree
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import World

AMOUNTS = st.decimals(min_value=0, max_value=200, places=6)  # credits: NUMERIC(20, 6)
CAPS = st.decimals(min_value=0, max_value=100, places=6)  # 80 % of a cap may have 7 decimals
ROUND_CAPS = st.decimals(min_value=0, max_value=100, places=5)  # 80 % of these has 6: a spent can sit on it
Case = tuple[Decimal, Decimal, Decimal | None]  # spent before, the delta, the cap (None: uncapped)


@pytest.fixture
async def budget(world: World) -> tuple[Budget, uuid.UUID]:
    b = await tree(await new_budget(world), "1000")
    return b, await cycle_id(b, NOW)


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cases=st.lists(
        st.one_of(
            st.tuples(AMOUNTS, AMOUNTS, st.none() | CAPS),
            # on the thresholds exactly: spent before or after at 80 % or 100 % of the cap
            ROUND_CAPS.flatmap(lambda cap: st.tuples(st.sampled_from([cap * WARN, cap]), AMOUNTS, st.just(cap))),
            ROUND_CAPS.flatmap(
                lambda cap: st.tuples(st.just(Decimal(0)), st.sampled_from([cap * WARN, cap]), st.just(cap))
            ),
        ),
        min_size=1,
        max_size=12,
    )
)
async def test_the_bump_answers_every_scope_that_may_have_crossed_a_threshold_and_no_other(
    budget: tuple[Budget, uuid.UUID], cases: list[Case]
) -> None:
    b, cycle = budget
    scopes = [Scope(ScopeLevel.TEAM, uuid.uuid4()) for _ in cases]  # new scopes: examples never share one
    account = Scope(ScopeLevel.ACCOUNT, b.tid.value)
    deltas = {scope: CounterDelta(spent=delta) for scope, (_, delta, _) in zip(scopes, cases, strict=True)}
    deltas[account] = CounterDelta(spent=sum((delta for _, delta, _ in cases), Decimal(0)))
    caps = {scope: cap for scope, (_, _, cap) in zip(scopes, cases, strict=True) if cap is not None and cap > 0}
    async with b.db.tenant(b.tid) as s:
        befores = {scope: CounterDelta(spent=before) for scope, (before, _, _) in zip(scopes, cases, strict=True)}
        await repo.bump_counters(s, b.tid, cycle, befores)
        after = await repo.bump_counters_watching(s, b.tid, cycle, deltas, caps, account)

    assert account in after
    answered = {i for i, scope in enumerate(scopes) if scope in after}
    crossed = {i for i, (before, delta, cap) in enumerate(cases) if cap and crossings(cap, before, before + delta)}
    assert crossed <= answered
    assert answered == {
        i for i, (before, delta, cap) in enumerate(cases) if cap and before < cap and before + delta >= cap * WARN
    }
    for i in answered:
        assert after[scopes[i]].spent == cases[i][0] + cases[i][1]
