"""Metering under concurrency, against the real database: 64 calls at once (asyncio.gather), each in its
own tenant transaction. They queue for the app pool's 20 connections and serialize on the account's
budget mutex (usage calls after writing their events ahead of it, and redoing them under it when their
prediction fails: docs/budgets.md), so caps hold exactly, the pool split is exact, and replays return
one event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from cockpit_graphql.domain.budgets import metering
from cockpit_graphql.domain.budgets.metering import AuthorizationRequest, UsageInput
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.scopes import ScopeLevel
from cockpit_graphql.domain.errors import UserInputError
from tests.support.budget_scenarios import (
    counters,
    events,
    expire_due,
    notices,
    only_cycle,
    record,
    reservation,
    tree,
    usage,
)
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import World

N = 64
USERS = ["u1", "u2", "u3", "u4"]


async def at_once(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Start every call together; fail on the first exception after all have finished."""
    results = await asyncio.gather(*(c() for c in calls), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    return results


async def authorize_at_once(
    b: Budget,
    users: list[str],
    estimate: Decimal,
    *,
    ttl: Callable[[int], int] = lambda _: 300,
    count: int = N,
) -> list[metering.AuthorizationResult]:
    async def one(i: int) -> metering.AuthorizationResult:
        request = AuthorizationRequest(b.ids[users[i % len(users)]], estimate, ttl(i))
        async with b.db.tenant(b.tid) as s:
            return await metering.authorize(s, b.tid, request, NOW)

    return await at_once([lambda i=i: one(i) for i in range(count)])


# (name, plan terms, caps, users, estimate, binding scope key, denial reason)
AUTHORIZE_CASES = {
    "user cap": ("100000", {}, {"u1": "1000"}, ["u1"], "100", "u1", "CAP_EXCEEDED"),
    "org cap across users": ("100000", {}, {"o1": "1000"}, ["u1", "u2", "u3"], "83.333334", "o1", "CAP_EXCEEDED"),
    "team cap under a looser org": (
        "100000",
        {},
        {"o1": "5000", "t1": "700.000001"},
        ["u1", "u2"],
        "70",
        "t1",
        "CAP_EXCEEDED",
    ),
    "BLOCK pool": ("1000", {}, {}, ["u1", "u2", "u3", "u4"], "125", "account", "POOL_EXHAUSTED"),
    "ALLOW overflow cap": (
        "900",
        {"overflow_policy": OverflowPolicy.ALLOW, "overflow_cap_credits": Decimal("100.5")},
        {},
        ["u1", "u4"],
        "33.5",
        "account",
        "OVERFLOW_CAP_REACHED",
    ),
}


@pytest.mark.parametrize("case", list(AUTHORIZE_CASES))
async def test_concurrent_authorizations_admit_exactly_what_fits(world: World, case: str) -> None:
    credits, terms, caps, users, estimate, binding, reason = AUTHORIZE_CASES[case]
    b = await tree(await new_budget(world), credits, **terms)
    for key, cap in caps.items():
        await b.cap(key, cap)
    limit = Decimal(caps[binding]) if binding in caps else Decimal(credits) + terms.get("overflow_cap_credits", 0)
    k = int(limit // Decimal(estimate))
    assert 1 < k < N

    results = await authorize_at_once(b, users, Decimal(estimate))

    allowed = [r for r in results if r.allowed]
    assert len(allowed) == k
    scope = b.account if binding == "account" else b.scope(binding)
    assert {(r.reason.value, r.binding) for r in results if not r.allowed} == {(reason, scope)}
    held = Decimal(estimate) * k
    totals = await counters(b)
    assert totals[b.account].reserved == held and totals[scope].reserved == held
    per_user = {u: sum(r.reservation.credits for r in allowed if r.reservation.user_id == b.ids[u]) for u in users}
    for u in users:
        assert totals[b.scope(u)].reserved == per_user[u]
    assert sum(per_user.values()) == held <= limit < held + Decimal(estimate)
    c = await only_cycle(b)
    assert c.clean and c.included == 0


async def test_concurrent_usage_fills_the_pool_exactly(world: World) -> None:
    """64 events of 47.123457 credits against a pool of 1000.5: exactly one event straddles the pool,
    the included part equals the pool to the last decimal, and the rest is overflow."""
    b = await tree(await new_budget(world), "1000.5", overflow_policy=OverflowPolicy.ALLOW)
    users = ["u1", "u2", "u3", "u4"]
    cost = Decimal("0.047123457")
    credits = Decimal("47.123457")

    async def one(i: int) -> list[metering.UsageOutcome]:
        return await record(b, [usage(b, users[i % 4], cost, key=f"call-{i}")])

    outcomes = [o[0] for o in await at_once([lambda i=i: one(i) for i in range(N)])]

    found = await events(b)
    assert len(found) == N and all(e.credits == credits for e in found)
    assert sum(e.included_credits for e in found) == Decimal("1000.5")
    assert sum(e.overflow_credits for e in found) == credits * N - Decimal("1000.5") == Decimal("2015.401248")
    straddling = [e for e in found if e.included_credits and e.overflow_credits]
    assert len(straddling) == 1
    assert straddling[0].included_credits == Decimal("1000.5") - credits * 21  # 21 whole events fit first
    assert sorted(e.included_credits for e in found).count(credits) == 21
    assert {o.event.id for o in outcomes} == {e.id for e in found} and not any(o.replayed for o in outcomes)
    account = (await counters(b))[b.account]
    pool = Decimal("1000.5")
    assert (account.spent, account.included, account.overflow) == (credits * N, pool, credits * N - pool)
    assert [n[2] for n in await notices(b) if n[0] == ScopeLevel.ACCOUNT.value] == sorted(
        ["CAP_80_PERCENT", "CAP_100_PERCENT", "OVERFLOW_ENTERED"]
    )
    c = await only_cycle(b)
    assert c.clean and (c.included, c.overflow) == (Decimal("1000.5"), Decimal("2015.401248"))


async def test_concurrent_replays_of_one_key_store_one_event(world: World) -> None:
    b = await tree(await new_budget(world), "1000")

    async def one(i: int) -> list[metering.UsageOutcome]:  # every replay claims a different cost and user
        return await record(b, [usage(b, ["u1", "u2"][i % 2], Decimal(i + 1) / 1000, key="the-call")])

    outcomes = [o[0] for o in await at_once([lambda i=i: one(i) for i in range(N)])]

    assert len({o.event.id for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    first = next(o.event for o in outcomes if not o.replayed)
    assert all((o.event.credits, o.event.user_id) == (first.credits, first.user_id) for o in outcomes)
    stored = await events(b)
    assert [e.id for e in stored] == [first.id]
    totals = await counters(b)
    who = b.scope("u1" if first.user_id == b.ids["u1"] else "u2")
    assert totals[b.account].spent == totals[who].spent == first.credits
    assert sum(c.spent for s, c in totals.items() if s.level is ScopeLevel.USER) == first.credits
    assert (await only_cycle(b)).clean


async def test_a_batch_of_1000_events_has_exact_totals(world: World) -> None:
    b = await tree(await new_budget(world), "5000.123456")
    users = ["u1", "u2", "u3", "u4"]
    # every cost ends in …5 at the 7th decimal of its credits: each event is a half-up tie
    costs = [Decimal(i * 7919 % 10007) / Decimal(500_000) + Decimal("0.0000000005") for i in range(1000)]
    batch = [UsageInput(f"batch-{i}", b.ids[users[i % 4]], cost, NOW) for i, cost in enumerate(costs)]
    outcomes = await record(b, batch)

    expected = [(c * 1000).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP) for c in costs]
    assert [o.event.credits for o in outcomes] == expected
    total = sum(expected)
    pool = Decimal("5000.123456")
    assert total > pool
    included, running = [], Decimal(0)
    for credits in expected:  # the split in batch order, as one would do it by hand
        part = min(credits, max(pool - running, Decimal(0)))
        running += part
        included.append(part)
    assert [o.event.included_credits for o in outcomes] == included
    assert sum(o.event.overflow_credits for o in outcomes) == total - pool
    totals = await counters(b)
    assert (totals[b.account].spent, totals[b.account].included, totals[b.account].overflow) == (
        total,
        pool,
        total - pool,
    )
    for n, user in enumerate(users):
        assert totals[b.scope(user)].spent == sum(expected[n::4])
    assert totals[b.scope("o1")].spent == sum(expected[i] for i in range(1000) if i % 4 < 3)
    c = await only_cycle(b)
    assert c.clean and (c.included, c.overflow, c.ledger_balance) == (pool, total - pool, pool - total)


async def test_concurrent_settles_releases_and_expiry_leave_clean_totals(world: World) -> None:
    """32 holds, then at once: 16 settles, 8 releases, 8 more authorizations and the expiry worker
    (which races the settles and releases for the holds whose TTL passed). Whatever the interleaving,
    each hold ends in exactly one state and the running totals match the events and holds."""
    b = await tree(await new_budget(world), "100000")
    later = NOW + timedelta(seconds=90)
    first = await authorize_at_once(b, USERS, Decimal("10.5"), ttl=lambda i: 60 if i % 2 else 600, count=32)
    holds = [r.reservation for r in first]
    assert len(holds) == 32

    async def settle(i: int) -> Any:
        r = holds[i]
        return await record(b, [usage(b, "u1", "0.0075", key=f"s-{i}", reservation=r.id)], now=later)

    async def give_back(i: int) -> Any:
        async with b.db.tenant(b.tid) as s:
            try:
                return await metering.release(s, b.tid, holds[i].id, later)
            except UserInputError as err:  # the worker expired it first (returned, not raised)
                return err.errors[0].message

    async def worker() -> int:
        return await expire_due(b, later)

    async def more(i: int) -> Any:
        return await b.authorize(USERS[i % 4], "1", now=later)

    calls: list[Callable[[], Awaitable[Any]]] = [lambda i=i: settle(i) for i in range(16)]
    calls += [lambda i=i: give_back(i) for i in range(16, 24)]
    calls += [worker] + [lambda i=i: more(i) for i in range(8)]
    results = await at_once(calls)

    statuses = {h.id: (await reservation(b, h.id)).status for h in holds}
    assert all(statuses[h.id] == "SETTLED" for h in holds[:16])  # an expired hold is still settled
    for h, outcome in zip(holds[16:24], results[16:24], strict=True):
        expected = "EXPIRED" if outcome == "The reservation is already EXPIRED." else "RELEASED"
        assert statuses[h.id] == expected
        if expected == "EXPIRED":  # only a hold whose TTL passed can lose the race to the worker
            assert h.expires_at <= later
    assert {statuses[h.id] for h in holds[24:]} <= {"HELD", "EXPIRED"}
    assert all(statuses[h.id] == ("EXPIRED" if h.expires_at <= later else "HELD") for h in holds[24:])
    assert all(r.allowed for r in results[25:])
    still_held = sum(h.credits for h in holds if statuses[h.id] == "HELD") + 8
    totals = await counters(b)
    assert totals[b.account].reserved == still_held
    assert totals[b.account].spent == Decimal("7.5") * 16
    assert (await only_cycle(b)).clean
