"""Usage recording's write-ahead path (metering._record_ahead): which calls take it, and the races it
must lose cleanly. A race is injected deterministically: a competing call runs and commits, in its own
transaction, exactly when the write-ahead call has written its events and is about to take the
account's budget mutex; the call must then roll back to its savepoint and record exactly as the
locked path does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.budgets import metering
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.adjustments import adjust_credits
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from tests.support.budget_scenarios import counters, events, only_cycle, record, tree, usage
from tests.support.budgets import NOW, new_budget
from tests.support.world import World

OP = Operation(SYSTEM_ACTOR, "test")


@pytest.fixture
def locked_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-element list counting the calls that took the locked path."""
    calls = [0]
    locked = metering._record_locked

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return await locked(*args, **kwargs)

    monkeypatch.setattr(metering, "_record_locked", counting)
    return calls


def before_the_mutex(monkeypatch: pytest.MonkeyPatch, competitor: Callable[[], Awaitable[Any]]) -> list[int]:
    """Run `competitor` (in its own transaction, committed) the first time a call is about to take the
    budget mutex after writing ahead; answers a one-element list counting those runs."""
    ran = [0]
    take = repo.lock_account_budget

    async def racing(session: Any, tenant: Any) -> None:
        if ran[0] == 0 and session.in_nested_transaction():  # the write-ahead path, events written
            ran[0] += 1
            await competitor()
        await take(session, tenant)

    monkeypatch.setattr(repo, "lock_account_budget", racing)
    return ran


async def test_calls_write_ahead_unless_the_locked_path_must_decide(world: World, locked_calls: list[int]) -> None:
    b = await tree(await new_budget(world), "100", overflow_policy=OverflowPolicy.ALLOW)
    await record(b, [usage(b, "u1", "0.010")])  # the plan opened the cycle
    await record(b, [usage(b, "u1", "0.020"), usage(b, "u2", "0.030")])  # 60 of 100: wholly included
    assert locked_calls[0] == 0
    crossing = await record(b, [usage(b, "u3", "0.030"), usage(b, "u4", "0.030")])  # 120 of 100: split
    assert locked_calls[0] == 1
    assert [(o.event.included_credits, o.event.overflow_credits) for o in crossing] == [
        (Decimal("30"), Decimal("0")),
        (Decimal("10"), Decimal("20")),
    ]
    beyond = await record(b, [usage(b, "u1", "0.005")])  # the pool is used up: wholly overflow
    assert locked_calls[0] == 1
    assert (beyond[0].event.included_credits, beyond[0].event.overflow_credits) == (Decimal("0"), Decimal("5"))
    replay = await record(b, [usage(b, "u1", "0.005", key=beyond[0].event.idempotency_key)])
    assert replay[0].replayed and locked_calls[0] == 1
    await record(
        b, [usage(b, "u2", "0.001", at=NOW - timedelta(days=40))]
    )  # a never-opened cycle: late, in the open one; locked
    assert locked_calls[0] == 2
    account = (await counters(b))[b.account]
    assert (account.spent, account.included, account.overflow) == (Decimal("126"), Decimal("100"), Decimal("26"))
    assert (await only_cycle(b)).clean


async def test_a_competitor_that_fills_the_pool_first_makes_the_call_redo_its_split(
    world: World, monkeypatch: pytest.MonkeyPatch, locked_calls: list[int]
) -> None:
    b = await tree(await new_budget(world), "100", overflow_policy=OverflowPolicy.ALLOW)
    await record(b, [usage(b, "u1", "0.001")])  # 1 of 100 used
    ran = before_the_mutex(monkeypatch, lambda: record(b, [usage(b, "u2", "0.050", key="competitor")]))

    outcomes = await record(b, [usage(b, "u3", "0.030", key="late-1"), usage(b, "u4", "0.030", key="late-2")])

    assert ran == [1]
    assert locked_calls[0] == 1  # the call that predicted 'wholly included'
    # the competitor committed 50 first (written ahead itself): 51 used, so 49 fit, the rest is overflow
    assert [(o.event.included_credits, o.event.overflow_credits) for o in outcomes] == [
        (Decimal("30"), Decimal("0")),
        (Decimal("19"), Decimal("11")),
    ]
    found = await events(b)
    assert len(found) == 4 and len({e.idempotency_key for e in found}) == 4  # nothing written twice
    account = (await counters(b))[b.account]
    assert (account.spent, account.included, account.overflow) == (Decimal("111"), Decimal("100"), Decimal("11"))
    c = await only_cycle(b)
    assert c.clean and (c.included, c.overflow) == (Decimal("100"), Decimal("11"))


async def test_a_pool_changed_meanwhile_makes_the_call_redo_its_split(
    world: World, monkeypatch: pytest.MonkeyPatch, locked_calls: list[int]
) -> None:
    b = await tree(await new_budget(world), "100", overflow_policy=OverflowPolicy.ALLOW)
    await record(b, [usage(b, "u1", "0.001")])

    async def shrink() -> None:
        async with b.db.tenant(b.tid) as s:
            await adjust_credits(s, b.tid, OP, Decimal("-90"), "correction", NOW)

    ran = before_the_mutex(monkeypatch, shrink)
    outcomes = await record(b, [usage(b, "u2", "0.020")])  # predicted inside 100; the pool is now 10

    assert ran == [1] and locked_calls[0] == 1
    assert (outcomes[0].event.included_credits, outcomes[0].event.overflow_credits) == (Decimal("9"), Decimal("11"))
    c = await only_cycle(b)
    assert c.clean and (c.included, c.overflow) == (Decimal("10"), Decimal("11"))


async def test_a_locked_call_of_the_same_key_deadlocks_once_and_both_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one wait-for cycle the write-ahead path allows: a call writes key K ahead of the mutex; a call
    settling a reservation (locked path) with the same K takes the mutex, then waits on the first call's
    uncommitted K, which waits for the mutex. PostgreSQL aborts one as the deadlock victim; the mutation
    runner (resolvers/mutation.py) runs it again; one call records K, the other replays it."""
    from tests.budgets.test_api import AUTHORIZE, RECORD, _setup

    t, admin = await _setup(world)
    user = t.gid("User", "member")
    held = await world.gql(AUTHORIZE, {"i": {"userId": user, "estimatedCredits": "5"}}, token=admin)
    reservation = held.data["authorizeUsage"]["authorization"]["reservation"]["id"]
    competitor: list[asyncio.Task[Any]] = []

    async def locked_call_of_the_same_key() -> None:
        event = {"idempotencyKey": "K", "userId": user, "costUsd": "0.002", "reservationId": reservation}
        competitor.append(asyncio.create_task(world.gql(RECORD, {"i": event}, token=admin)))
        await asyncio.sleep(0.5)  # it takes the mutex and waits on this call's uncommitted K

    ran = before_the_mutex(monkeypatch, locked_call_of_the_same_key)
    ahead = await world.gql(RECORD, {"i": {"idempotencyKey": "K", "userId": user, "costUsd": "0.001"}}, token=admin)
    locked = await competitor[0]

    assert ran == [1]
    results = [r.data["recordUsage"] for r in (ahead, locked)]
    assert all(r["userErrors"] == [] for r in results), results
    assert sorted(r["result"]["replayed"] for r in results) == [False, True]
    assert len({r["result"]["event"]["id"] for r in results}) == 1
