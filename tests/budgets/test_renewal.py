"""Renewal and adjustments against the real database: exactly one renewal per (account, cycle start),
whatever happens (reruns, concurrent workers, a fault between any two steps, a worker down for
several cycles); rollover percent, cap and rounding; late events; the pool moved by adjustments."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from cockpit_graphql.db.tables import AuditEvent, BudgetCycle, LedgerEntry, UsageEvent
from cockpit_graphql.domain.budgets import metering, usage_write
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.adjustments import adjust_credits
from cockpit_graphql.domain.budgets.metering import UsageInput
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.renewal import RENEWAL_STEPS, Renewal, renew_due
from cockpit_graphql.domain.budgets.validation import MAX_POOL, MAX_ROLLOVER
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from tests.support.budgets import Budget, new_budget
from tests.support.world import OP, World

GRACE = timedelta(hours=1)
CREATED = datetime(2026, 1, 10, tzinfo=UTC)
JAN, FEB, MAR, APR = (datetime(2026, m, 1, tzinfo=UTC) for m in (1, 2, 3, 4))
MID_JAN = datetime(2026, 1, 15, tzinfo=UTC)
RENEW_FEB = FEB + timedelta(hours=2)
SNAPSHOT_TABLES = (
    "budget_cycles",
    "ledger_entries",
    "settlements",
    "settlement_transitions",
    "budget_counters",
    "budget_reservations",
    "usage_events",
    "audit_events",
)


# --- helpers (also used by test_settlements and test_jobs) -------------------------------------


async def budget(world: World, credits: str = "1000", **terms: Any) -> Budget:
    """An account with one user `u`, a plan created on 2026-01-10 (cycles renew on the 1st)."""
    b = await new_budget(world)
    await b.org("o")
    await b.team("t", "o")
    await b.user("u", "t")
    await b.plan(credits, now=CREATED, **terms)
    return b


async def renew(b: Budget, now: datetime = RENEW_FEB, fault: Callable[[str], None] | None = None) -> list[Renewal]:
    async with b.db.tenant(b.tid) as s:
        return await renew_due(s, b.tid, now, GRACE, fault=fault)


async def record(b: Budget, credits: str, occurred_at: datetime, now: datetime) -> UsageEvent:
    """Usage worth `credits` (the factor is 1000 credits per USD) recorded at `now`."""
    usage = UsageInput(uuid.uuid4().hex, b.ids["u"], Decimal(credits) / 1000, occurred_at)
    async with b.db.tenant(b.tid) as s:
        return (await metering.record_usage(s, b.tid, [usage], now))[0].event


async def cycles(b: Budget) -> list[BudgetCycle]:
    async with b.db.tenant(b.tid) as s:
        return list((await s.scalars(sa.select(BudgetCycle).order_by(BudgetCycle.starts_at))).all())


async def cycle(b: Budget, start: datetime) -> BudgetCycle:
    found = [c for c in await cycles(b) if c.starts_at == start]
    assert found, f"no cycle starts at {start}"
    return found[0]


async def entries(b: Budget, start: datetime) -> dict[str, list[Decimal]]:
    """The ledger of the cycle starting at `start`, by kind, in the order the entries were written."""
    cid = (await cycle(b, start)).id
    async with b.db.tenant(b.tid) as s:
        stmt = sa.select(LedgerEntry).where(LedgerEntry.cycle_id == cid).order_by(LedgerEntry.created_at)
        rows = (await s.scalars(stmt)).all()
    out: dict[str, list[Decimal]] = {}
    for row in rows:
        out.setdefault(row.kind, []).append(row.amount)
    return out


async def balance(b: Budget, start: datetime) -> Decimal:
    return sum((sum(v, Decimal(0)) for v in (await entries(b, start)).values()), Decimal(0))


async def pool(b: Budget, start: datetime) -> Decimal:
    cid = (await cycle(b, start)).id
    async with b.db.tenant(b.tid) as s:
        return await repo.pool_of(s, cid)


async def snapshot(b: Budget) -> dict[str, list[str]]:
    """Every row of the account's budget tables (and audit trail), to prove that nothing changed."""
    out = {}
    async with b.db.tenant(b.tid) as s:
        for table in SNAPSHOT_TABLES:
            rows = (await s.execute(sa.text(f"SELECT * FROM {table}"))).all()
            out[table] = sorted(repr(tuple(r)) for r in rows)
    return out


def d(value: str) -> Decimal:
    return Decimal(value)


# --- exactly once ---------------------------------------------------------------------------------


async def test_running_the_renewal_twice_renews_once(world: World) -> None:
    b = await budget(world, rollover_percent=d("50"))
    await b.spend("u", "300", at=MID_JAN)
    assert await renew(b, now=FEB + timedelta(minutes=30)) == []  # still inside the grace window
    [done] = await renew(b)
    assert await renew(b) == []
    assert await renew(b, now=RENEW_FEB + timedelta(days=3)) == []

    jan, feb = await cycles(b)
    assert (jan.starts_at, jan.status, jan.closed_at) == (JAN, "CLOSED", RENEW_FEB)
    assert (feb.starts_at, feb.ends_at, feb.status) == (FEB, MAR, "OPEN")
    assert (done.closed_cycle_id, done.opened_cycle_id) == (jan.id, feb.id)
    assert (done.carried, done.expired, done.overflow, done.settlement_id) == (d("350"), d("350"), 0, None)
    assert await entries(b, JAN) == {
        "GRANT": [d("1000")],
        "USAGE": [d("-300")],
        "ROLLOVER": [d("-350")],
        "EXPIRY": [d("-350")],
    }
    assert await entries(b, FEB) == {"GRANT": [d("1000")], "ROLLOVER": [d("350")]}
    assert await balance(b, JAN) == 0  # −(overflow), and there was none
    assert await pool(b, FEB) == d("1350")


@pytest.mark.parametrize(
    ("percent", "cap", "spent", "carried", "expired"),
    [
        ("50", None, "300", "350", "350"),
        ("33.33", None, "299.999999", "233.310000", "466.690001"),  # 233.3100003333 rounds to 6 decimals
        ("33.33", "200", "299.999999", "200", "500.000001"),  # capped
        ("50", None, "999.999999", "0.000001", "0"),  # 0.0000005 rounds half-up
        ("0", None, "300", "0", "700"),  # nothing carried: the ROLLOVER pair is written with 0
        ("100", None, "1000", "0", "0"),  # nothing unused
    ],
)
async def test_rollover_percent_cap_and_rounding(
    world: World, percent: str, cap: str | None, spent: str, carried: str, expired: str
) -> None:
    b = await budget(world, rollover_percent=d(percent), rollover_cap=d(cap) if cap else None)
    await b.spend("u", spent, at=MID_JAN)
    [done] = await renew(b)
    assert (done.carried, done.expired) == (d(carried), d(expired))
    jan = await entries(b, JAN)
    assert jan["ROLLOVER"] == [-d(carried)] and jan["EXPIRY"] == [-d(expired)]
    assert (await entries(b, FEB))["ROLLOVER"] == [d(carried)]
    assert await balance(b, JAN) == 0
    assert await pool(b, FEB) == d("1000") + d(carried)


async def test_a_plan_edit_applies_to_the_next_cycle_only(world: World) -> None:
    b = await budget(world, rollover_percent=d("50"))
    await b.spend("u", "600", at=MID_JAN)
    await b.plan("2000", now=datetime(2026, 1, 20, tzinfo=UTC), rollover_percent=d("10"))
    [done] = await renew(b)
    assert done.carried == d("200")  # January's own terms: 50 % of 400
    assert (await entries(b, JAN))["GRANT"] == [d("1000")]
    assert (await entries(b, FEB))["GRANT"] == [d("2000")]
    assert await pool(b, FEB) == d("2200")
    jan, feb = await cycles(b)
    assert jan.plan_id != feb.plan_id
    [march] = await renew(b, now=MAR + timedelta(hours=2))
    assert march.carried == d("220")  # February's terms: 10 % of 2,200


async def test_concurrent_renewals_renew_once(world: World) -> None:
    b = await budget(world, rollover_percent=d("50"), overflow_policy=OverflowPolicy.ALLOW)
    await b.spend("u", "1200", at=MID_JAN)
    results = await asyncio.gather(*(renew(b) for _ in range(3)))
    assert sorted(len(r) for r in results) == [0, 0, 1]
    [done] = [r for rs in results for r in rs]
    assert done.overflow == d("200") and done.settlement_id is not None
    jan, feb = await cycles(b)
    assert (jan.status, feb.status) == ("CLOSED", "OPEN")
    assert await entries(b, JAN) == {
        "GRANT": [d("1000")],
        "USAGE": [d("-1000")],
        "OVERFLOW_USAGE": [d("-200")],
        "ROLLOVER": [d("0")],
        "EXPIRY": [d("0")],
    }
    assert await entries(b, FEB) == {"GRANT": [d("1000")], "ROLLOVER": [d("0")]}
    assert await balance(b, JAN) == d("-200")
    async with b.db.tenant(b.tid) as s:
        assert await s.scalar(sa.text("SELECT count(*) FROM settlements")) == 1


class Boom(Exception):
    pass


async def test_a_fault_between_any_two_steps_changes_nothing(world: World) -> None:
    b = await budget(
        world,
        rollover_percent=d("50"),
        rollover_cap=d("100"),
        overflow_policy=OverflowPolicy.ALLOW,
        overflow_usd_per_credit=d("0.01"),
    )
    await b.spend("u", "700", at=MID_JAN)
    held = await b.authorize("u", "10", now=datetime(2026, 1, 31, 23, 55, tzinfo=UTC), ttl=300)
    async with b.db.tenant(b.tid) as s:
        await adjust_credits(s, b.tid, OP, d("-250"), "correction", MID_JAN)
    await record(b, "100.5", MID_JAN + timedelta(days=1), MID_JAN + timedelta(days=1))  # pool 750: 50 included
    before = await snapshot(b)

    reported: list[str] = []  # a dry run: the steps renew_due reports, then a rollback
    with pytest.raises(Boom):
        async with b.db.tenant(b.tid) as s:
            await renew_due(s, b.tid, RENEW_FEB, GRACE, fault=reported.append)
            raise Boom("roll back")
    assert reported == list(RENEWAL_STEPS)
    assert await snapshot(b) == before

    for step in reported:

        def fail(name: str, at: str = step) -> None:
            if name == at:
                raise Boom(at)

        with pytest.raises(Boom):
            await renew(b, fault=fail)
        assert await snapshot(b) == before, step

    [done] = await renew(b)
    assert await renew(b) == []
    assert (done.carried, done.expired, done.overflow) == (d("0"), d("0"), d("50.5"))
    assert await entries(b, JAN) == {
        "GRANT": [d("1000")],
        "ADJUSTMENT": [d("-250")],
        "USAGE": [d("-700"), d("-50")],
        "OVERFLOW_USAGE": [d("-50.5")],
        "ROLLOVER": [d("0")],
        "EXPIRY": [d("0")],
    }
    assert await balance(b, JAN) == d("-50.5")
    async with b.db.tenant(b.tid) as s:
        status = await s.scalar(
            sa.text("SELECT status FROM budget_reservations WHERE id = :i"), {"i": held.reservation.id}
        )
        amount = await s.scalar(sa.text("SELECT amount_usd FROM settlements"))
    assert status == "EXPIRED"  # the closing cycle's expired hold was released by the renewal
    assert amount == d("0.51")  # 50.5 × 0.01 = 0.505, half-up


async def test_a_worker_down_for_three_cycles_catches_up_in_order(world: World) -> None:
    b = await budget(world, rollover_percent=d("50"))
    await b.spend("u", "200", at=MID_JAN)
    # March's cycle is opened early by a usage write while January is still open (February is not)
    march_event = await record(b, "100", datetime(2026, 3, 15, tzinfo=UTC), datetime(2026, 3, 15, tzinfo=UTC))
    done = await renew(b, now=APR + timedelta(hours=2))
    jan, feb, mar, apr = await cycles(b)
    assert [c.starts_at for c in (jan, feb, mar, apr)] == [JAN, FEB, MAR, APR]
    assert [(r.closed_cycle_id, r.opened_cycle_id) for r in done] == [
        (jan.id, feb.id),
        (feb.id, mar.id),
        (mar.id, apr.id),
    ]
    assert [c.status for c in (jan, feb, mar, apr)] == ["CLOSED", "CLOSED", "CLOSED", "OPEN"]
    # Jan: 800 unused -> 400 carried; Feb: pool 1,400 -> 700; Mar: pool 1,700, 100 used -> 800; Apr: 1,800
    assert [(r.carried, r.expired) for r in done] == [(d("400"), d("400")), (d("700"), d("700")), (d("800"), d("800"))]
    assert march_event.cycle_id == mar.id and march_event.included_credits == d("100")
    for start, carried_in in ((FEB, "400"), (MAR, "700"), (APR, "800")):
        ledger = await entries(b, start)
        assert ledger["GRANT"] == [d("1000")]  # once per cycle, March's included
        assert [x for x in ledger["ROLLOVER"] if x > 0] == [d(carried_in)]  # chained from the previous close
    for start in (JAN, FEB, MAR):
        assert await balance(b, start) == 0
    assert await pool(b, APR) == d("1800")
    assert await renew(b, now=APR + timedelta(hours=2)) == []


async def test_a_late_event_lands_in_the_open_cycle(world: World) -> None:
    b = await budget(world)
    in_grace = await record(b, "100", datetime(2026, 1, 31, 23, 0, tzinfo=UTC), FEB + timedelta(minutes=30))
    jan_id = (await cycle(b, JAN)).id
    assert (in_grace.cycle_id, in_grace.late) == (jan_id, False)  # January is still open: it belongs there
    await renew(b)
    late = await record(b, "50", datetime(2026, 1, 31, 23, 30, tzinfo=UTC), RENEW_FEB + timedelta(minutes=1))
    feb = await cycle(b, FEB)
    assert (late.cycle_id, late.late) == (feb.id, True)
    assert await entries(b, JAN) == {
        "GRANT": [d("1000")],
        "USAGE": [d("-100")],
        "ROLLOVER": [d("0")],
        "EXPIRY": [d("-900")],
    }
    assert (await entries(b, FEB))["USAGE"] == [d("-50")]


async def test_one_batch_across_two_cycles_stores_each_event_as_answered(world: World) -> None:
    """In the hour of grace, one batch holds an event of February (the first: the call's cycle) and one
    of January, still open (its own cycle, named in its object of the write's document), then a late one
    after the renewal: every stored column is the answered event's."""
    b = await budget(world)
    in_feb = UsageInput("feb", b.ids["u"], Decimal("0.2"), FEB + timedelta(minutes=10), agent_id="a")
    in_jan = UsageInput("jan", b.ids["u"], Decimal("0.1"), datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    async with b.db.tenant(b.tid) as s:
        answered = [
            o.event for o in await metering.record_usage(s, b.tid, [in_feb, in_jan], FEB + timedelta(minutes=30))
        ]
    await renew(b)
    late = UsageInput("late", b.ids["u"], Decimal("0.05"), datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    async with b.db.tenant(b.tid) as s:
        answered += [o.event for o in await metering.record_usage(s, b.tid, [late], RENEW_FEB + timedelta(minutes=1))]
    jan, feb = await cycle(b, JAN), await cycle(b, FEB)
    assert [(e.cycle_id, e.late) for e in answered] == [(feb.id, False), (jan.id, False), (feb.id, True)]
    async with b.db.tenant(b.tid) as s:
        rows = (await s.execute(sa.select(UsageEvent.__table__))).all()
    stored = {row.id: {name: getattr(row, name) for name in usage_write.COLUMNS} for row in rows}
    assert stored == {e.id: dataclasses.asdict(e) for e in answered}


async def test_a_lock_sees_a_close_that_committed_meanwhile(world: World) -> None:
    """A transaction that read January as OPEN, then waits for its lock while the renewal commits,
    must see it CLOSED under the lock: its usage then goes to the open cycle, flagged late, never into it."""
    b = await budget(world)
    async with b.db.tenant(b.tid) as s:
        jan = await repo.cycle_at(s, JAN)
        assert jan is not None and jan.status == "OPEN"
        await renew(b)  # another transaction closes it and commits
        assert (await repo.lock_cycle(s, jan.id)).status == "CLOSED"
    async with b.db.tenant(b.tid) as s:
        assert (await repo.cycle_at(s, JAN)).status == "CLOSED"
    b2 = await budget(world)
    async with b2.db.tenant(b2.tid) as s:
        read_before = await repo.cycle_at(s, JAN)  # kept: the session's identity map holds it
        assert read_before is not None and read_before.status == "OPEN"
        await renew(b2)
        usage = UsageInput("k", b2.ids["u"], d("0.1"), datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
        [outcome] = await metering.record_usage(s, b2.tid, [usage], FEB + timedelta(minutes=59))
    feb = await cycle(b2, FEB)
    assert (outcome.event.cycle_id, outcome.event.late) == (feb.id, True)
    assert (await entries(b2, JAN)).get("USAGE") is None
    assert await balance(b2, JAN) == 0


# --- adjustments ------------------------------------------------------------------------------------


async def adjust(b: Budget, amount: str, reason: str = "top-up", at: datetime = MID_JAN) -> LedgerEntry:
    async with b.db.tenant(b.tid) as s:
        return await adjust_credits(s, b.tid, OP, d(amount), reason, at)


async def test_adjustments_change_the_pool_for_later_usage_only(world: World) -> None:
    b = await budget(world, overflow_policy=OverflowPolicy.ALLOW)
    first = await record(b, "900", MID_JAN, MID_JAN)
    entry = await adjust(b, "-50", "correction")
    assert (entry.kind, entry.amount, entry.reason) == ("ADJUSTMENT", d("-50"), "correction")
    assert entry.cycle_id == first.cycle_id
    assert await pool(b, JAN) == d("950")
    second = await record(b, "100", MID_JAN, MID_JAN)
    assert (second.included_credits, second.overflow_credits) == (d("50"), d("50"))
    await adjust(b, "200")
    third = await record(b, "100", MID_JAN, MID_JAN)
    assert (third.included_credits, third.overflow_credits) == (d("100"), d("0"))
    async with b.db.tenant(b.tid) as s:  # splits are frozen at recording
        stored = {
            e.id: (e.included_credits, e.overflow_credits) for e in (await s.scalars(sa.select(UsageEvent))).all()
        }
    assert stored == {first.id: (d("900"), d("0")), second.id: (d("50"), d("50")), third.id: (d("100"), d("0"))}
    [done] = await renew(b)
    assert (done.expired, done.overflow) == (d("100"), d("50"))  # pool 1,150 − included 1,050
    assert await balance(b, JAN) == d("-50")


async def test_adjustment_rules_and_audit(world: World) -> None:
    b = await budget(world)
    await b.spend("u", "900", at=MID_JAN)
    cases = [
        ("0", "x", "credits", UserErrorCode.INVALID),
        ("1.0000001", "x", "credits", UserErrorCode.INVALID),
        ("5", "  ", "reason", UserErrorCode.REQUIRED),
        ("5", "x" * 501, "reason", UserErrorCode.TOO_LONG),
        ("-100.000001", "x", "credits", UserErrorCode.INVALID),  # more than the unused pool
    ]
    before = await snapshot(b)
    for amount, reason, field, code in cases:
        with pytest.raises(UserInputError) as err:
            await adjust(b, amount, reason)
        assert [(e.field, e.code) for e in err.value.errors] == [((field,), code)], amount
    assert await snapshot(b) == before
    entry = await adjust(b, "-100", "  refund of a duplicate charge ")
    assert entry.reason == "refund of a duplicate charge" and await pool(b, JAN) == d("900")
    async with b.db.tenant(b.tid) as s:
        stmt = sa.select(AuditEvent).where(AuditEvent.action == "budgets.adjustment.created")
        [event] = (await s.scalars(stmt)).all()
    assert event.target_id == str(entry.id)
    assert event.diff == {
        "before": {"cyclePool": "1000.000000"},
        "after": {
            "cyclePool": "900.000000",
            "amount": "-100",
            "reason": "refund of a duplicate charge",
            "cycleId": str(entry.cycle_id),
        },
    }
    await renew(b)
    with pytest.raises(UserInputError) as closed:
        await adjust(b, "5", at=MID_JAN)  # January is closed now
    assert closed.value.errors[0].code is UserErrorCode.INVALID
    nobody = await new_budget(world)
    with pytest.raises(UserInputError) as no_plan:
        await adjust(nobody, "5")
    assert no_plan.value.errors[0].message == "The account has no budget plan."


async def test_a_pool_stays_within_max_pool_so_renewal_always_fits_the_ledger(world: World) -> None:
    """Every ledger entry of a cycle is at most its pool, and an entry must fit NUMERIC(20, 6) (< 1e14): a pool
    is at most MAX_POOL (1e13). Top-ups past it are INVALID; a 100 % rollover is capped so that the next pool
    stays within it; the renewal of a full pool then closes and opens cycles as usual (it used to fail on
    its EXPIRY entry, for ever, once accepted top-ups had brought the pool to 1e14)."""
    b = await budget(world, "1000000000000", rollover_percent=Decimal(100))  # 1e12 a cycle, all of it carried
    for _ in range(9):
        await adjust(b, "1000000000000")
    assert await pool(b, JAN) == MAX_POOL
    with pytest.raises(UserInputError) as refused:
        await adjust(b, "0.000001")
    assert [(e.field, e.code) for e in refused.value.errors] == [(("credits",), UserErrorCode.INVALID)]
    [done] = await renew(b)
    assert done.carried == MAX_ROLLOVER and done.expired == MAX_POOL - MAX_ROLLOVER
    assert await pool(b, FEB) == MAX_POOL  # the GRANT (1e12) and what was carried (9e12)
    jan, feb = await cycles(b)
    assert (jan.status, feb.status) == ("CLOSED", "OPEN")
    assert await balance(b, JAN) == 0
