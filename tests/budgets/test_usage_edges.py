"""Edges found in review: replays that must not be re-judged, holds settled twice in one batch,
lagging renewals, naive times, huge values, exact products, and no deadlock with a catch-up renewal."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from cockpit_graphql.db.tables import BudgetCycle
from cockpit_graphql.domain.budgets.money import credits_of
from cockpit_graphql.domain.budgets.renewal import renew_due
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.errors import UserInputError
from tests.support.budget_scenarios import NOW, expire_due, record, reservation, tree, usage
from tests.support.budgets import Budget, new_budget
from tests.support.world import OP, World


def test_credits_are_rounded_once_from_the_exact_product() -> None:
    # exact product 10000000499990.0004994999999995: half-up to 6 decimals is ...000499, while a
    # 28-digit context would first round the product to ...0005 and then give ...000500.
    assert credits_of(Decimal("10000000.5000000005"), Decimal("999999.999999")) == Decimal("10000000499990.000499")


async def test_a_replay_is_answered_even_after_the_user_left(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    [first] = await record(b, [usage(b, "u1", "0.002", key="once")])
    async with b.db.tenant(b.tid) as s:
        await directory.delete_user(s, b.tid, OP, b.ids["u1"])
    [again] = await record(b, [usage(b, "u1", "-5", key="once")])  # invalid now, and the user is gone
    assert again.replayed and again.event.id == first.event.id and again.event.credits == first.event.credits


async def test_a_batch_with_a_replay_that_is_invalid_now_still_writes_its_new_events(world: World) -> None:
    """Only the events a call writes are checked: a replay whose user left, sent again with a negative
    cost, is answered as it was beside a new event that is written; a new event of that user is refused."""
    b = await tree(await new_budget(world), "1000")
    [first] = await record(b, [usage(b, "u1", "0.002", key="once")])
    async with b.db.tenant(b.tid) as s:
        await directory.delete_user(s, b.tid, OP, b.ids["u1"])
    again, new = await record(b, [usage(b, "u1", "-5", key="once"), usage(b, "u2", "0.001", key="next")])
    assert again.replayed and again.event.id == first.event.id
    assert not new.replayed and new.event.user_id == b.ids["u2"] and new.event.cost_usd == Decimal("0.001")
    with pytest.raises(UserInputError) as refused:  # a new event of that user is refused
        await record(b, [usage(b, "u1", "0.001", key="after"), usage(b, "u2", "0.001", key="fine")])
    assert [e.field for e in refused.value.errors] == [("events", "0", "userId")]


async def test_one_expired_hold_cannot_be_settled_twice_in_a_batch(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    held = await b.authorize("u1", "5", ttl=1)
    rid = held.reservation.id
    await expire_due(b, NOW + timedelta(seconds=5))
    with pytest.raises(UserInputError, match="already SETTLED"):
        await record(b, [usage(b, "u1", "0.001", reservation=rid), usage(b, "u1", "0.001", reservation=rid)])
    assert (await reservation(b, rid)).status == "EXPIRED"


async def test_an_old_open_cycle_past_its_grace_takes_no_more_events(world: World) -> None:
    b = await tree(await new_budget(world), None)
    await b.plan("1000", now=NOW - timedelta(days=95))  # opens a cycle three months back; no renewal ran
    [event] = await record(b, [usage(b, "u1", "0.001", at=NOW - timedelta(days=94))])
    async with b.db.tenant(b.tid) as s:
        cycles = list((await s.scalars(sa.select(BudgetCycle).order_by(BudgetCycle.starts_at))).all())
    assert cycles[0].status == "OPEN" and event.event.late is True and event.event.cycle_id == cycles[-1].id


async def test_catch_up_renewal_and_metering_do_not_deadlock(world: World) -> None:
    for _ in range(5):
        b = await tree(await new_budget(world), None)
        await b.plan("1000", now=NOW - timedelta(days=95))
        await record(b, [usage(b, "u1", "0.001", at=NOW)])

        async def meter(b: Budget = b) -> object:
            return await record(b, [usage(b, "u1", "0.001", key=uuid.uuid4().hex, at=NOW)])

        async def renew(b: Budget = b) -> object:
            async with b.db.tenant(b.tid) as s:
                return await renew_due(s, b.tid, NOW, timedelta(hours=1))

        results = await asyncio.gather(meter(), renew(), meter(), return_exceptions=True)
        assert not [r for r in results if isinstance(r, BaseException)], results


async def test_api_edges_are_user_errors(world: World) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    plan = """mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) { userErrors { field code } } }"""
    r = await world.gql(
        plan,
        {
            "i": {
                "creditsPerCycle": "10",
                "renewalDay": 1,
                "overflowPolicy": "ALLOW",
                "overflowUsdPerCredit": "100000000000",
            }
        },
        token=admin,
    )
    assert r.data["setBudgetPlan"]["userErrors"] == [{"field": ["input", "overflowUsdPerCredit"], "code": "INVALID"}]
    r = await world.gql(plan, {"i": {"creditsPerCycle": "10", "renewalDay": 1}}, token=admin)
    assert r.data["setBudgetPlan"]["userErrors"] == []
    record_q = """mutation($i: UsageEventInput!) { recordUsage(input: $i) {
      result { event { occurredAt } } userErrors { field code } } }"""
    naive = await world.gql(
        record_q,
        {
            "i": {
                "idempotencyKey": "n",
                "userId": t.gid("User", "member"),
                "costUsd": "0.1",
                "occurredAt": "2026-11-20T10:00:00",
            }
        },
        token=admin,
    )
    assert naive.errors == [] and naive.data["recordUsage"]["result"]["event"]["occurredAt"].startswith(
        "2026-11-20T10:00:00"
    )
    huge = await world.gql(
        record_q,
        {"i": {"idempotencyKey": "h", "userId": t.gid("User", "member"), "costUsd": "100000.0000000001"}},
        token=admin,
    )
    assert huge.data["recordUsage"]["userErrors"] == [{"field": ["input", "costUsd"], "code": "INVALID"}]
    ttl = await world.gql(
        """mutation($i: AuthorizeUsageInput!) { authorizeUsage(input: $i) { userErrors { code } } }""",
        {"i": {"userId": t.gid("User", "member"), "estimatedCredits": "1", "ttlSeconds": 0}},
        token=admin,
    )
    assert ttl.data["authorizeUsage"]["userErrors"] == [{"code": "INVALID"}]


def test_settlement_and_rollover_amounts_round_half_up_once() -> None:
    from cockpit_graphql.domain.budgets.money import share_of, usd_of

    # a 34-significant-digit product (beyond the default 28-digit context), then cents half-up
    assert usd_of(Decimal("12345678901234.123456"), Decimal("0.1234567891")) == Decimal("1524157876405.98")
    assert usd_of(Decimal("1"), Decimal("0.005")) == Decimal("0.01")  # a tie rounds up
    assert share_of(Decimal("0.000001"), Decimal("50")) == Decimal("0.000001")  # 0.0000005 rounds up
