"""Recording usage through metering against the real database: credits and their rounding, the factor in
force, the pool split, idempotent replays, placement snapshots, settling and releasing reservations,
validation, and billing notices (once per scope, kind and cycle)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from cockpit_graphql.db.tables import LedgerEntry
from cockpit_graphql.domain.budgets.adjustments import adjust_credits
from cockpit_graphql.domain.budgets.metering import MAX_BATCH
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from tests.support.budget_scenarios import (
    counters,
    events,
    expire_due,
    move_user,
    notices,
    only_cycle,
    record,
    release,
    reservation,
    set_factor,
    tree,
    usage,
)
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import OP, World


@pytest.fixture
async def b(world: World) -> Budget:
    return await tree(await new_budget(world), "1000000")


async def ledger(b: Budget) -> list[tuple[str, Decimal]]:
    async with b.db.tenant(b.tid) as s:
        rows = (await s.execute(sa.select(LedgerEntry.kind, LedgerEntry.amount).order_by(LedgerEntry.kind))).all()
    return [(k, a) for k, a in rows]


async def spent(b: Budget) -> dict[str, Decimal]:
    """Running `spent` per scope key of the fixture (missing rows are absent)."""
    found = await counters(b)
    keys = {Scope(b.levels[k], v): k for k, v in b.ids.items()} | {b.account: "account"}
    return {keys[s]: c.spent for s, c in found.items() if s in keys}


# --- credits ----------------------------------------------------------------------------------

# (factor, costUsd, credits). Each row proves something about "× factor, half-up to 6 decimals, once":
ROUNDING = [
    ("1000", "0.0000005", "0.000500"),  # tiny costs keep their credits
    ("3", "0.1234565", "0.370370"),  # 0.3703695 -> up (half-even agrees here: the kept digit 9 is odd)
    ("3", "0.1234555", "0.370367"),  # 0.3703665 -> up; half-even and float round() both give 0.370366
    ("3", "0.1666665", "0.500000"),  # 0.4999995 -> up; float round() gives 0.499999
    ("3", "0.3333335", "1.000001"),  # 1.0000005 -> up; half-even gives 1.000000
    ("1", "0.0000025", "0.000003"),  # half-up, not half-even (0.000002)
    ("2.5", "0.0000003", "0.000001"),  # 0.00000075 -> up
    ("1", "0.0000024999", "0.000002"),  # no double rounding (via 7 decimals: 0.0000025 -> 0.000003)
    ("3", "0.33333333", "1.000000"),  # from the unrounded cost: rounding the cost first gives 0.999999
    ("1000.123456", "1.5", "1500.185184"),  # a factor with 6 decimals, exact
    ("7", "0.0000000714", "0.000000"),  # 0.0000004998 -> down to zero: stored, no ledger entries
]


async def test_credits_are_cost_times_the_factor_in_force_rounded_half_up_once(b: Budget) -> None:
    assert (round(0.1234555 * 3, 6), round(0.1666665 * 3, 6)) == (0.370366, 0.499999)  # what floats would do
    recorded = []
    for factor, cost, _ in ROUNDING:
        await set_factor(b, factor)
        recorded.append((await record(b, [usage(b, "u1", cost)]))[0].event)
    for event, (factor, cost, credits) in zip(recorded, ROUNDING, strict=True):
        assert (event.credits_per_usd, event.cost_usd) == (Decimal(factor), Decimal(cost))
        assert event.credits == Decimal(credits)
        assert str(event.credits) == credits  # six decimals, as stored
    stored = {e.id: e for e in await events(b)}
    for event, (factor, _, credits) in zip(recorded, ROUNDING, strict=True):  # later factor changes left them alone
        assert (stored[event.id].credits_per_usd, stored[event.id].credits) == (Decimal(factor), Decimal(credits))
    total = sum(Decimal(c) for _, _, c in ROUNDING)
    assert (await spent(b))["u1"] == total
    c = await only_cycle(b)
    assert c.clean and c.included == total and c.overflow == 0
    assert len([k for k, _ in await ledger(b) if k == "USAGE"]) == len(ROUNDING) - 1  # not for the zero event


async def test_an_event_is_priced_with_the_factor_in_force_when_it_happened(b: Budget) -> None:
    """domain.md §2: the factor in force when the event happened, stored on it. The factor goes 1000 → 2000
    (at NOW − 2 h) → 3000 (at NOW − 1 h); events recorded afterwards, at NOW, in one batch and on both usage
    paths, take the factor of their occurredAt (a change applies from its instant on)."""
    await set_factor(b, "1000", at=NOW - timedelta(hours=3))  # no change: nothing recorded
    await set_factor(b, "2000", at=NOW - timedelta(hours=2))
    await set_factor(b, "3000", at=NOW - timedelta(hours=1))
    instants = {
        "1000": NOW - timedelta(hours=2, seconds=1),
        "2000": NOW - timedelta(hours=2),
        "2000 later": NOW - timedelta(hours=1, microseconds=1),
        "3000": NOW - timedelta(minutes=1),
    }
    batch = [usage(b, "u1", "0.001", at=at) for at in instants.values()]
    recorded = [o.event for o in await record(b, batch)]  # all in the open cycle: the write-ahead path
    assert [e.credits_per_usd for e in recorded] == [1000, 2000, 2000, 3000]
    assert [e.credits for e in recorded] == [1, 2, 2, 3]
    held = await b.authorize("u2", "5")
    settle = usage(b, "u2", "0.001", at=NOW - timedelta(minutes=90), reservation=held.reservation.id)
    [settled] = [o.event for o in await record(b, [settle])]  # a settle: the locked path
    assert (settled.credits_per_usd, settled.credits) == (2000, 2)
    assert (await only_cycle(b)).clean


async def test_an_event_crossing_the_pool_is_split_exactly(world: World) -> None:
    b = await tree(await new_budget(world), "1000")  # BLOCK: overflow only from calls past the pool
    first = (await record(b, [usage(b, "u1", "0.999999999")]))[0].event  # 999.999999
    crossing, after = [
        o.event for o in await record(b, [usage(b, "u2", "0.000000002"), usage(b, "u3", "0.0123456789")])
    ]
    assert (first.included_credits, first.overflow_credits) == (Decimal("999.999999"), 0)
    assert (crossing.credits, crossing.included_credits, crossing.overflow_credits) == (
        Decimal("0.000002"),
        Decimal("0.000001"),
        Decimal("0.000001"),
    )
    assert (after.credits, after.included_credits, after.overflow_credits) == (
        Decimal("12.345679"),
        0,
        Decimal("12.345679"),
    )
    assert sorted(await ledger(b)) == sorted(
        [
            ("GRANT", Decimal(1000)),
            ("USAGE", Decimal("-999.999999")),
            ("USAGE", Decimal("-0.000001")),
            ("OVERFLOW_USAGE", Decimal("-0.000001")),
            ("OVERFLOW_USAGE", Decimal("-12.345679")),
        ]
    )
    account = (await counters(b))[b.account]
    assert (account.spent, account.included, account.overflow) == (
        Decimal("1012.345680"),
        Decimal(1000),
        Decimal("12.345680"),
    )
    c = await only_cycle(b)
    assert c.clean and (c.included, c.overflow, c.ledger_balance) == (1000, Decimal("12.345680"), Decimal("-12.345680"))


async def test_a_replay_returns_the_first_result_and_changes_nothing(b: Budget) -> None:
    first = (await record(b, [usage(b, "u1", "0.1", key="call-1")]))[0]
    assert not first.replayed and first.event.credits == 100
    before = (await spent(b), await ledger(b))
    again = await record(b, [usage(b, "u2", "0.9", key="call-1"), usage(b, "u3", "0.2", key="call-2")])
    assert again[0].replayed and again[0].event.id == first.event.id
    assert (again[0].event.credits, again[0].event.user_id) == (Decimal(100), b.ids["u1"])
    assert not again[1].replayed
    same_batch = await record(b, [usage(b, "u4", "0.3", key="call-3"), usage(b, "u4", "0.4", key=" call-3 ")])
    assert [o.replayed for o in same_batch] == [False, True] and same_batch[0].event.id == same_batch[1].event.id
    totals = await spent(b)
    assert (totals["u1"], totals.get("u2"), totals["u3"], totals["u4"]) == (100, None, 200, 300)
    assert totals["account"] == 600 and len(await events(b)) == 3
    assert before[0]["u1"] == 100 and len(await ledger(b)) == len(before[1]) + 2
    assert (await only_cycle(b)).clean


async def test_a_user_who_moves_team_mid_cycle(b: Budget) -> None:
    """u1 spends 100 in t1 (o1), moves to t3 (o2), spends 30: u1 keeps 130, t1/o1 keep 100, t3/o2 count 30."""
    await record(b, [usage(b, "u1", "0.1")])
    await move_user(b, "u1", "t3")
    await record(b, [usage(b, "u1", "0.03")], now=NOW + timedelta(minutes=1))
    totals = await spent(b)
    assert (totals["u1"], totals["t1"], totals["o1"], totals["t3"], totals["o2"]) == (130, 100, 100, 30, 30)
    assert "t2" not in totals and totals["account"] == 130
    first, second = await events(b)
    assert (first.team_id, first.organization_id) == (b.ids["t1"], b.ids["o1"])
    assert (second.team_id, second.organization_id) == (b.ids["t3"], b.ids["o2"])
    now = await b.allocation("u1")
    assert [lvl.scope for lvl in now.levels] == [b.account, b.scope("o2"), b.scope("t3"), b.scope("u1")]
    assert [lvl.spent for lvl in now.levels] == [130, 30, 30, 130]
    assert (await only_cycle(b)).clean


async def test_a_settle_after_a_move_counts_where_the_call_was_authorized(b: Budget) -> None:
    """u1 is authorized in t1 (o1), moves to t3 (o2), then the runtime settles that call (100) and records
    another one (30): the settled usage stays with t1/o1, where its hold was counted; the new one goes to
    t3/o2. The hold leaves t1/o1's reserved, and nothing is counted twice."""
    held = await b.authorize("u1", "150")
    assert held.allowed
    assert (await counters(b))[b.scope("o1")].reserved == 150
    await move_user(b, "u1", "t3")
    settle = usage(b, "u1", "0.1", reservation=held.reservation.id)
    [settled, fresh] = await record(b, [settle, usage(b, "u1", "0.03")], now=NOW + timedelta(minutes=1))
    assert (settled.event.team_id, settled.event.organization_id) == (b.ids["t1"], b.ids["o1"])
    assert (fresh.event.team_id, fresh.event.organization_id) == (b.ids["t3"], b.ids["o2"])
    totals = await spent(b)
    assert (totals["u1"], totals["t1"], totals["o1"], totals["t3"], totals["o2"], totals["account"]) == (
        130,
        100,
        100,
        30,
        30,
        130,
    )
    found = await counters(b)
    assert found[b.scope("o1")].reserved == found[b.scope("t1")].reserved == found[b.scope("u1")].reserved == 0
    assert (await only_cycle(b)).clean


async def test_a_settle_after_a_move_raises_the_notice_of_the_users_default_cap_now(b: Budget) -> None:
    """u1 authorizes in t1 (no default), moves to t2 (defaultUserCap 100) and settles 90 credits: its cap
    is now 100 (DEFAULT from t2), so 80 % is crossed, although the usage is counted along t1's chain."""
    await b.default_cap("t2", "100")
    held = await b.authorize("u1", "90")
    assert held.allowed
    await move_user(b, "u1", "t2")
    await record(b, [usage(b, "u1", "0.09", reservation=held.reservation.id)])  # 90 credits
    user_level = (await b.allocation("u1")).levels[-1]
    assert (user_level.cap, user_level.spent) == (Decimal(100), Decimal(90))
    assert ("USER", b.ids["u1"], "CAP_80_PERCENT") in await notices(b)


# --- reservations -----------------------------------------------------------------------------


async def test_settling_an_expired_reservation_still_stores_the_usage(b: Budget) -> None:
    await b.cap("u1", "10")
    held = await b.authorize("u1", "10", ttl=60)
    assert held.allowed
    assert await expire_due(b, NOW + timedelta(seconds=59)) == 0
    assert await expire_due(b, NOW + timedelta(seconds=60)) == 1
    assert (await reservation(b, held.reservation.id)).status == "EXPIRED"
    assert (await counters(b))[b.scope("u1")].reserved == 0
    late = NOW + timedelta(minutes=5)
    out = await record(b, [usage(b, "u1", "0.025", reservation=held.reservation.id)], now=late)  # 25: past the cap
    assert out[0].event.reservation_id == held.reservation.id and out[0].event.credits == 25
    r = await reservation(b, held.reservation.id)
    assert r.status == "SETTLED"
    mine = (await counters(b))[b.scope("u1")]
    assert (mine.spent, mine.reserved) == (25, 0)
    assert (await b.allocation("u1")).remaining == 0
    assert (await only_cycle(b)).clean


async def test_settling_a_held_reservation_releases_its_hold(b: Budget) -> None:
    held = await b.authorize("u2", "40.5")
    assert held.allowed
    chain = [b.account, b.scope("o1"), b.scope("t1"), b.scope("u2")]
    assert [(await counters(b))[s].reserved for s in chain] == [Decimal("40.5")] * 4
    out = await record(b, [usage(b, "u2", "0.0355", reservation=held.reservation.id)], now=NOW + timedelta(seconds=5))
    assert out[0].event.credits == Decimal("35.5")
    now = await counters(b)
    assert [(now[s].spent, now[s].reserved) for s in chain] == [(Decimal("35.5"), 0)] * 4
    r = await reservation(b, held.reservation.id)
    assert (r.status, r.resolved_at) == ("SETTLED", NOW + timedelta(seconds=5))
    with pytest.raises(UserInputError) as twice:
        await record(b, [usage(b, "u2", "0.001", reservation=held.reservation.id)])
    assert [(e.field, e.code) for e in twice.value.errors] == [
        (("events", "0", "reservationId"), UserErrorCode.ILLEGAL_TRANSITION)
    ]
    assert len(await events(b)) == 1 and (await only_cycle(b)).clean


async def test_releasing_twice_is_a_user_error(b: Budget) -> None:
    held = await b.authorize("u3", "7.25")
    released = await release(b, held.reservation.id, NOW + timedelta(seconds=1))
    assert (released.status, released.resolved_at) == ("RELEASED", NOW + timedelta(seconds=1))
    assert (await counters(b))[b.scope("u3")].reserved == 0
    with pytest.raises(UserInputError) as twice:
        await release(b, held.reservation.id)
    assert [(e.field, e.code) for e in twice.value.errors] == [(("reservationId",), UserErrorCode.ILLEGAL_TRANSITION)]
    with pytest.raises(UserInputError) as settled:  # nor can a released hold be settled
        await record(b, [usage(b, "u3", "0.001", reservation=held.reservation.id)])
    assert settled.value.errors[0].code is UserErrorCode.ILLEGAL_TRANSITION
    with pytest.raises(UserInputError) as unknown:
        await release(b, uuid.uuid4())
    assert [(e.field, e.code) for e in unknown.value.errors] == [(("reservationId",), UserErrorCode.NOT_FOUND)]
    assert (await counters(b))[b.account].reserved == 0 and (await only_cycle(b)).clean


# --- validation -------------------------------------------------------------------------------


def _too_many(b: Budget) -> list:
    return [usage(b, "u1", "0.001") for _ in range(MAX_BATCH + 1)]


INVALID = {
    "negative cost": (lambda b: [usage(b, "u1", "0.1"), usage(b, "u1", "-0.000001")], ("events", "1", "costUsd")),
    "cost with 11 decimals": (lambda b: [usage(b, "u1", "0.00000000001")], ("events", "0", "costUsd")),
    "future occurredAt": (
        lambda b: [usage(b, "u1", "0.1", at=NOW + timedelta(minutes=5, seconds=1))],
        ("events", "0", "occurredAt"),
    ),
    "more than 1,000 events": (_too_many, ("events",)),
    "no events": (lambda b: [], ("events",)),
    "empty key": (lambda b: [usage(b, "u1", "0.1", key="  ")], ("events", "0", "idempotencyKey")),
    "key too long": (lambda b: [usage(b, "u1", "0.1", key="k" * 201)], ("events", "0", "idempotencyKey")),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_invalid_usage_is_a_user_error_with_a_path(b: Budget, case: str) -> None:
    build, path = INVALID[case]
    with pytest.raises(UserInputError) as err:
        await record(b, build(b))
    assert [e.field for e in err.value.errors] == [path]
    assert await events(b) == []


async def test_an_unknown_user_and_several_problems_are_all_reported(b: Budget) -> None:
    stranger = dataclasses.replace(usage(b, "u1", "0.1"), user_id=uuid.uuid4())
    with pytest.raises(UserInputError) as unknown:
        await record(b, [usage(b, "u1", "0.1"), stranger])
    assert [(e.field, e.code) for e in unknown.value.errors] == [(("events", "1", "userId"), UserErrorCode.NOT_FOUND)]
    with pytest.raises(UserInputError) as many:
        tomorrow = NOW + timedelta(days=1)
        await record(b, [usage(b, "u1", "-1", key=""), usage(b, "u1", "0.1"), usage(b, "u2", "0.1", at=tomorrow)])
    assert [e.field for e in many.value.errors] == [
        ("events", "0", "idempotencyKey"),
        ("events", "0", "costUsd"),
        ("events", "2", "occurredAt"),
    ]
    assert await events(b) == [] and (await counters(b)) == {}


# --- notices ----------------------------------------------------------------------------------


async def test_user_cap_notices_from_a_team_default_are_created_once(b: Budget) -> None:
    await b.default_cap("t1", "100")
    u1 = ("USER", b.ids["u1"])
    await record(b, [usage(b, "u1", "0.079999999")])  # 79.999999
    assert await notices(b) == []
    await record(b, [usage(b, "u1", "0.000000001")])  # 80.000000: exactly 80 % crosses it
    assert await notices(b) == [(*u1, "CAP_80_PERCENT")]
    await record(b, [usage(b, "u1", "0.001"), usage(b, "u1", "0.025")])  # 81, then 106
    assert await notices(b) == sorted([(*u1, "CAP_80_PERCENT"), (*u1, "CAP_100_PERCENT")])
    await b.default_cap("t1", "1000")  # far below 80 % again: crossing both thresholds again adds nothing
    await record(b, [usage(b, "u1", "0.9")])  # 1006
    assert await notices(b) == sorted([(*u1, "CAP_80_PERCENT"), (*u1, "CAP_100_PERCENT")])
    await record(b, [usage(b, "u2", "0.8")])  # u2 (same default, now 1000) has its own notices
    await record(b, [usage(b, "u2", "0.2")])
    assert len(await notices(b)) == 4 and (await notices(b)).count(("USER", b.ids["u2"], "CAP_100_PERCENT")) == 1


async def test_each_user_cap_notice_judges_by_the_users_own_cap_rule(b: Budget) -> None:
    """One batch, three users under three rules: u3's own cap overrides its organization's default, u1
    takes the organization's default (nearer than the account's), u4 only the account's default."""
    await b.default_cap("account", "1000")
    await b.default_cap("o1", "50")
    await b.cap("u3", "20")
    await record(b, [usage(b, "u3", "0.016"), usage(b, "u1", "0.04"), usage(b, "u4", "0.8")])  # 16, 40, 800
    crossed = [("USER", b.ids[u], "CAP_80_PERCENT") for u in ("u3", "u1", "u4")]  # 80 % of 20, 50 and 1000
    assert await notices(b) == sorted(crossed)


async def test_pool_and_overflow_notices_are_created_once(world: World) -> None:
    terms = {"overflow_policy": OverflowPolicy.ALLOW, "overflow_cap_credits": Decimal(50)}
    b = await tree(await new_budget(world), "1000", **terms)
    account = ("ACCOUNT", b.tenant.account_id)
    await record(b, [usage(b, "u1", "0.7999999994")])  # 799.9999994 -> 799.999999
    assert await notices(b) == []
    await record(b, [usage(b, "u2", "0.2000000011")])  # +200.000001 = 1000: 80 % and 100 % at once, no overflow
    assert await notices(b) == sorted([(*account, "CAP_80_PERCENT"), (*account, "CAP_100_PERCENT")])
    await record(b, [usage(b, "u3", "0.000001")])  # 0.001 overflow
    assert (*account, "OVERFLOW_ENTERED") in await notices(b) and len(await notices(b)) == 3
    await record(b, [usage(b, "u4", "0.049999")])  # overflow 50.000: the overflow cap is reached
    assert sorted(await notices(b)) == sorted(
        [(*account, k) for k in ("CAP_80_PERCENT", "CAP_100_PERCENT", "OVERFLOW_ENTERED", "OVERFLOW_CAP_REACHED")]
    )
    async with b.db.tenant(b.tid) as s:  # a top-up puts the pool far above the spend again
        await adjust_credits(s, b.tid, OP, Decimal(2000), "top-up", NOW)
    await record(b, [usage(b, "u1", "2.5")])  # spend 3550 crosses 80 % and 100 % of 3000 again
    assert len(await notices(b)) == 4
    c = await only_cycle(b)
    assert c.clean and c.pool == 3000 and c.included == 3000 and c.overflow == 550


async def test_notice_rows_are_unique_per_scope_kind_and_cycle(b: Budget) -> None:
    """An explicit team cap: one batch crossing 80 % and 100 % at once writes both; crossing both again
    under a raised cap writes nothing (the database's unique key makes the repeat a no-op)."""
    await b.cap("t2", "10")
    team = ("TEAM", b.ids["t2"])
    await record(b, [usage(b, "u3", "0.009"), usage(b, "u3", "0.002")])  # 9 (80 %), then 11 (100 %)
    assert await notices(b) == sorted([(*team, "CAP_80_PERCENT"), (*team, "CAP_100_PERCENT")])
    await b.cap("t2", "100")
    await record(b, [usage(b, "u3", "0.1")])  # 111: crosses 80 and 100 of the new cap
    assert await notices(b) == sorted([(*team, "CAP_80_PERCENT"), (*team, "CAP_100_PERCENT")])
