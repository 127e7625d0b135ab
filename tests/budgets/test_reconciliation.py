"""Reconciliation: a clean cycle reports nothing; every kind of tampering (done as the database owner,
which bypasses row-level security) is reported as the precise difference, to the last decimal; and
the app role itself cannot rewrite the ledger or the usage events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from cockpit_graphql.db.statements import count_statements
from cockpit_graphql.domain.budgets import settlements
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.reconciliation import Difference, reconcile
from cockpit_graphql.domain.budgets.renewal import renew_due
from cockpit_graphql.domain.budgets.scopes import ScopeLevel
from tests.support.budget_scenarios import (
    cycle_id,
    events,
    only_cycle,
    owner_execute,
    owner_ledger_entry,
    reconciled,
    record,
    release,
    tree,
    usage,
)
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import OP, World

E = Decimal("0.000001")


@pytest.fixture
async def busy(world: World) -> Budget:
    """Pool 1000 (ALLOW), a user cap, usage that runs into overflow, a held, a released and a settled
    reservation: every writer of the ledger and the counters has run."""
    b = await tree(await new_budget(world), "1000", overflow_policy=OverflowPolicy.ALLOW)
    await b.cap("u1", "600")
    await b.default_cap("t2", "300.5")
    await record(b, [usage(b, "u1", "0.4000004"), usage(b, "u3", "0.250123456")])  # 400.0004, 250.123456
    held = await b.authorize("u2", "12.5")
    released = await b.authorize("u4", "7")
    settled = await b.authorize("u4", "30")
    assert held.allowed and released.allowed and settled.allowed
    await release(b, released.reservation.id)
    await record(b, [usage(b, "u4", "0.3999996", reservation=settled.reservation.id)])  # 399.9996: 349.876144 in
    await record(b, [usage(b, "u2", "0.0155555555"), usage(b, "u1", "0")])  # 15.5555556 -> 15.555556 overflow
    return b


async def test_a_busy_cycle_is_clean_and_its_totals_are_exact(busy: Budget) -> None:
    c = await only_cycle(busy)
    assert c.differences == [] and c.clean
    assert c.cycle_id == await cycle_id(busy)
    bounds = (NOW.replace(day=1, hour=0), NOW.replace(month=12, day=1, hour=0))
    assert (c.status, c.starts_at, c.ends_at) == ("OPEN", *bounds)
    credits = Decimal("400.000400") + Decimal("250.123456") + Decimal("399.999600") + Decimal("15.555556")
    assert c.pool == Decimal(1000)
    assert c.included == Decimal(1000)
    assert c.overflow == credits - 1000 == Decimal("65.679012")
    assert c.ledger_balance == 1000 - credits == Decimal("-65.679012")
    found = await events(busy)
    assert sum(e.credits for e in found) == credits


async def test_cycle_selection_and_one_statement_for_all_cycles(busy: Budget) -> None:
    later = [NOW + timedelta(days=15), NOW + timedelta(days=45)]  # opens December and January
    for at in later:
        await record(busy, [usage(busy, "u1", "0.000001", at=at)], now=at)
    ids = [await cycle_id(busy), *[await cycle_id(busy, at) for at in later]]
    async with busy.db.tenant(busy.tid) as s:
        with count_statements() as counter:
            found = await reconcile(s, busy.tid)
    assert counter.count == 1  # one statement, however many cycles
    assert [c.cycle_id for c in found] == ids and all(c.clean for c in found)
    assert [c.included for c in found[1:]] == [Decimal("0.001"), Decimal("0.001")]
    assert [c.cycle_id for c in await reconciled(busy, [ids[2], ids[0]])] == [ids[0], ids[2]]
    assert await reconciled(busy, []) == []
    other = await new_budget(busy.world)
    assert await reconciled(other, ids) == []  # another account's cycles do not exist here


async def test_a_stray_usage_entry_is_reported_exactly(busy: Budget) -> None:
    cid = await cycle_id(busy)
    await owner_ledger_entry(busy, cid, "USAGE", Decimal("-0.000001"))
    c = await only_cycle(busy)
    assert c.differences == [
        Difference("LEDGER_USAGE_VS_EVENTS", None, None, Decimal("-1000"), Decimal("-1000.000001")),
        Difference("LEDGER_USAGE_ENTRY_COUNT", None, None, Decimal(3), Decimal(4)),
        Difference("LEDGER_USAGE_WITHOUT_EVENT", None, None, Decimal(0), Decimal(1)),
    ]
    assert c.ledger_balance == Decimal("-65.679013") and not c.clean


async def test_a_bumped_counter_is_reported_exactly(busy: Budget) -> None:
    cid = await cycle_id(busy)
    team = busy.ids["t1"]  # u1 400.0004 + u2 15.555556; u2's 12.5 held
    await owner_execute(
        busy,
        "UPDATE budget_counters SET spent = spent + 0.000001 WHERE cycle_id = $1 AND scope_id = $2",
        cid,
        team,
    )
    c = await only_cycle(busy)
    assert c.differences == [
        Difference("COUNTER_SPENT_VS_EVENTS", "TEAM", team, Decimal("415.555956"), Decimal("415.555957"))
    ]
    await owner_execute(
        busy,
        "UPDATE budget_counters SET reserved = reserved - 12.5, included = included + 1 "
        "WHERE cycle_id = $1 AND scope_level IN ('USER', 'ACCOUNT') AND scope_id = ANY($2::uuid[])",
        cid,
        [busy.ids["u2"], busy.tenant.account_id],
    )
    c = await only_cycle(busy)
    account = busy.tenant.account_id
    assert c.differences == [
        Difference("COUNTER_RESERVED_VS_HOLDS", "ACCOUNT", account, Decimal("12.5"), Decimal(0)),
        Difference("COUNTER_INCLUDED_VS_EVENTS", "ACCOUNT", account, Decimal(1000), Decimal(1001)),
        Difference("COUNTER_SPENT_VS_EVENTS", "TEAM", team, Decimal("415.555956"), Decimal("415.555957")),
        Difference("COUNTER_RESERVED_VS_HOLDS", "USER", busy.ids["u2"], Decimal("12.5"), Decimal(0)),
    ]  # a user's `included` is not a running total metering keeps (only the account's is): not compared


async def test_a_missing_counter_row_counts_as_zero(busy: Budget) -> None:
    cid = await cycle_id(busy)
    await owner_execute(busy, "DELETE FROM budget_counters WHERE cycle_id = $1 AND scope_id = $2", cid, busy.ids["o2"])
    c = await only_cycle(busy)
    assert c.differences == [
        Difference("COUNTER_SPENT_VS_EVENTS", "ORGANIZATION", busy.ids["o2"], Decimal("399.9996"), Decimal(0))
    ]


async def test_entries_moved_between_events_are_caught_even_when_the_sums_agree(busy: Budget) -> None:
    """Shift 0.000001 from one event's USAGE entry to another's: per-kind sums and counts still match,
    only the per-event check sees it."""
    first, second = [e for e in await events(busy) if e.included_credits][:2]
    for event, delta in ((first, E), (second, -E)):
        await owner_execute(
            busy,
            "UPDATE ledger_entries SET amount = amount + $1 WHERE usage_event_id = $2 AND kind = 'USAGE'",
            delta,
            event.id,
        )
    c = await only_cycle(busy)
    assert c.differences == [Difference("EVENTS_WITHOUT_EXACT_ENTRIES", None, None, Decimal(0), Decimal(2))]


async def test_an_overflow_entry_in_the_wrong_cycle(busy: Budget) -> None:
    """Move one event's OVERFLOW_USAGE entry into the next cycle: both cycles report it."""
    later = NOW + timedelta(days=15)
    december = await cycle_id(busy, later)
    over = next(e for e in await events(busy) if e.overflow_credits)
    await owner_execute(
        busy,
        "UPDATE ledger_entries SET cycle_id = $1 WHERE usage_event_id = $2 AND kind = 'OVERFLOW_USAGE'",
        december,
        over.id,
    )
    november, dec = await reconciled(busy)
    amount = over.overflow_credits
    assert november.differences == [
        Difference("LEDGER_OVERFLOW_VS_EVENTS", None, None, Decimal("-65.679012"), -Decimal("65.679012") + amount),
        Difference("LEDGER_OVERFLOW_ENTRY_COUNT", None, None, Decimal(2), Decimal(1)),
        Difference("EVENTS_WITHOUT_EXACT_ENTRIES", None, None, Decimal(0), Decimal(1)),
    ]
    assert dec.differences == [
        Difference("LEDGER_OVERFLOW_VS_EVENTS", None, None, Decimal(0), -amount),
        Difference("LEDGER_OVERFLOW_ENTRY_COUNT", None, None, Decimal(0), Decimal(1)),
        Difference("LEDGER_USAGE_WITHOUT_EVENT", None, None, Decimal(0), Decimal(1)),
    ]


async def test_included_above_the_pool_is_reported(busy: Budget) -> None:
    """A negative adjustment after the usage (the split is frozen at recording) leaves included above
    the pool: reported with the pool as the expected ceiling."""
    await owner_ledger_entry(busy, await cycle_id(busy), "ADJUSTMENT", Decimal("-0.5"), reason="correction")
    c = await only_cycle(busy)
    assert c.pool == Decimal("999.5")
    assert c.differences == [Difference("INCLUDED_ABOVE_POOL", None, None, Decimal("999.5"), Decimal(1000))]


async def test_a_closed_cycle_balances_to_minus_its_unsettled_overflow(busy: Budget) -> None:
    """Closing is simulated as the renewal writes it (status CLOSED and an EXPIRY of the unused pool,
    here zero: the pool is fully used); a SETTLEMENT then brings the balance to zero."""
    cid = await cycle_id(busy)
    await owner_execute(busy, "UPDATE budget_cycles SET status = 'CLOSED', closed_at = now() WHERE id = $1", cid)
    c = await only_cycle(busy)
    assert c.clean and c.ledger_balance == Decimal("-65.679012")
    await owner_ledger_entry(busy, cid, "SETTLEMENT", Decimal("65.679012"))
    c = await only_cycle(busy)
    assert c.clean and c.ledger_balance == 0
    await owner_ledger_entry(busy, cid, "EXPIRY", Decimal("-0.000001"))  # a wrong expiry: nothing was unused
    c = await only_cycle(busy)
    assert c.differences == [
        Difference("CLOSED_BALANCE_VS_UNSETTLED_OVERFLOW", None, None, Decimal(0), Decimal("-0.000001"))
    ]


async def test_a_closed_cycle_with_unused_pool_and_rollover(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    await record(b, [usage(b, "u1", "0.1234567")])  # 123.4567
    nov = await cycle_id(b)
    dec = await cycle_id(b, NOW + timedelta(days=15))
    unused = Decimal(1000) - Decimal("123.4567")
    carried = Decimal("100.25")
    await owner_execute(b, "UPDATE budget_cycles SET status = 'CLOSED' WHERE id = $1", nov)
    await owner_ledger_entry(b, nov, "ROLLOVER", -carried)
    await owner_ledger_entry(b, dec, "ROLLOVER", carried)
    await owner_ledger_entry(b, nov, "EXPIRY", -(unused - carried))
    closed, opened = await reconciled(b)
    assert closed.clean and closed.ledger_balance == 0 and closed.pool == 1000
    assert opened.clean and opened.pool == Decimal("1100.25") and opened.ledger_balance == Decimal("1100.25")


async def test_a_renewed_then_settled_cycle_reconciles_clean(busy: Budget) -> None:
    """Through the real renewal and settlement services: −overflow after the close, 0 once settled."""
    async with busy.db.tenant(busy.tid) as s:
        renewals = await renew_due(s, busy.tid, datetime(2026, 12, 1, 2, tzinfo=UTC), timedelta(hours=1))
    assert len(renewals) == 1 and renewals[0].settlement_id is not None
    nov, dec = await reconciled(busy)
    assert (nov.status, nov.clean, nov.ledger_balance) == ("CLOSED", True, Decimal("-65.679012"))
    assert dec.clean and dec.status == "OPEN"
    async with busy.db.tenant(busy.tid) as s:
        await settlements.settle(s, busy.tid, OP, renewals[0].settlement_id, "INV-2026-11")
    nov, dec = await reconciled(busy)
    assert (nov.clean, nov.ledger_balance) == (True, 0) and dec.clean


@pytest.mark.parametrize("table", ["ledger_entries", "usage_events"])
@pytest.mark.parametrize("verb", ["UPDATE {t} SET account_id = account_id", "DELETE FROM {t}"])
async def test_the_app_role_cannot_rewrite_history(busy: Budget, table: str, verb: str) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
        async with busy.db.tenant(busy.tid) as s:
            await s.execute(sa.text(verb.format(t=table)))
    assert (await only_cycle(busy)).clean


async def test_differences_carry_scopes_only_for_running_totals(busy: Budget) -> None:
    await owner_ledger_entry(busy, await cycle_id(busy), "OVERFLOW_USAGE", Decimal("-1"))
    await owner_execute(
        busy,
        "UPDATE budget_counters SET overflow = overflow + 1 WHERE scope_level = 'ACCOUNT' AND account_id = $1",
        busy.tenant.account_id,
    )
    c = await only_cycle(busy)
    assert [(d.check, d.scope_level) for d in c.differences] == [
        ("LEDGER_OVERFLOW_VS_EVENTS", None),
        ("LEDGER_OVERFLOW_ENTRY_COUNT", None),
        ("LEDGER_USAGE_WITHOUT_EVENT", None),
        ("COUNTER_OVERFLOW_VS_EVENTS", ScopeLevel.ACCOUNT.value),
    ]
    assert c.differences[-1].expected == Decimal("65.679012") and c.differences[-1].actual == Decimal("66.679012")
