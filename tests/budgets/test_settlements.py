"""Settlements: created by the renewal only for overflow, billed in cents half-up, moved through
PENDING → INVOICED → SETTLED or WRITTEN_OFF with the ledger entry, history row and audit event of
each step; illegal transitions are userErrors and change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
import sqlalchemy as sa

from cockpit_graphql.db.tables import AuditEvent, Settlement, SettlementTransition
from cockpit_graphql.domain.budgets import settlements
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from tests.budgets.test_renewal import JAN, MID_JAN, balance, budget, entries, renew, snapshot
from tests.support.budgets import Budget
from tests.support.world import OP, World

Step = Callable[[Budget, uuid.UUID], Awaitable[Settlement]]


async def overflowing(world: World, rate: str = "0.01", spent: str = "1100.5") -> tuple[Budget, uuid.UUID]:
    """January of an ALLOW plan (pool 1,000) with usage past the pool, renewed: a PENDING settlement."""
    b = await budget(world, overflow_policy=OverflowPolicy.ALLOW, overflow_usd_per_credit=Decimal(rate))
    await b.spend("u", spent, at=MID_JAN)
    [done] = await renew(b)
    assert done.settlement_id is not None
    return b, done.settlement_id


async def invoice(b: Budget, sid: uuid.UUID, ref: str | None = "INV-2026-01") -> Settlement:
    async with b.db.tenant(b.tid) as s:
        return await settlements.invoice(s, b.tid, OP, sid, ref)


async def settle(b: Budget, sid: uuid.UUID, ref: str = "PAY-778") -> Settlement:
    async with b.db.tenant(b.tid) as s:
        return await settlements.settle(s, b.tid, OP, sid, ref)


async def write_off(b: Budget, sid: uuid.UUID, reason: str = "goodwill after an outage") -> Settlement:
    async with b.db.tenant(b.tid) as s:
        return await settlements.write_off(s, b.tid, OP, sid, reason)


async def history(b: Budget, sid: uuid.UUID) -> list[tuple[str | None, str, str | None]]:
    async with b.db.tenant(b.tid) as s:
        stmt = (
            sa.select(SettlementTransition)
            .where(SettlementTransition.settlement_id == sid)
            .order_by(SettlementTransition.at)
        )
        return [(t.from_status, t.to_status, t.note) for t in (await s.scalars(stmt)).all()]


async def audits(b: Budget) -> list[AuditEvent]:
    async with b.db.tenant(b.tid) as s:
        stmt = sa.select(AuditEvent).where(AuditEvent.target_type == "Settlement").order_by(AuditEvent.occurred_at)
        return list((await s.scalars(stmt)).all())


async def test_a_cycle_without_overflow_gets_no_settlement(world: World) -> None:
    b = await budget(world, overflow_policy=OverflowPolicy.ALLOW, overflow_usd_per_credit=Decimal("0.01"))
    await b.spend("u", "1000", at=MID_JAN)  # exactly the pool
    [done] = await renew(b)
    assert (done.overflow, done.settlement_id) == (0, None)
    async with b.db.tenant(b.tid) as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(Settlement)) == 0


@pytest.mark.parametrize(
    ("rate", "spent", "overflow", "usd"),
    [
        ("0.01", "1100.5", "100.5", "1.01"),  # 1.005 rounds half-up (not to even)
        ("0.0123", "1100.5", "100.5", "1.24"),  # 1.23615
        ("0.0000001", "1000.000001", "0.000001", "0.00"),
        ("0", "1500", "500", "0.00"),
    ],
)
async def test_the_renewal_bills_overflow_in_cents_half_up(
    world: World, rate: str, spent: str, overflow: str, usd: str
) -> None:
    b, sid = await overflowing(world, rate, spent)
    async with b.db.tenant(b.tid) as s:
        row = await s.get(Settlement, (b.tid.value, sid))
    assert row is not None
    assert (row.status, row.overflow_credits, row.amount_usd) == ("PENDING", Decimal(overflow), Decimal(usd))
    assert await history(b, sid) == [(None, "PENDING", "cycle closed with overflow")]
    assert await balance(b, JAN) == -Decimal(overflow)


async def test_invoice_then_settle(world: World) -> None:
    b, sid = await overflowing(world)
    invoiced = await invoice(b, sid)
    assert (invoiced.status, invoiced.external_reference) == ("INVOICED", "INV-2026-01")
    assert "SETTLEMENT" not in await entries(b, JAN)  # an invoice moves no credits
    assert await balance(b, JAN) == Decimal("-100.5")
    settled = await settle(b, sid, "  PAY-778 ")
    assert (settled.status, settled.external_reference) == ("SETTLED", "PAY-778")
    assert (await entries(b, JAN))["SETTLEMENT"] == [Decimal("100.5")]
    assert await balance(b, JAN) == 0
    assert await history(b, sid) == [
        (None, "PENDING", "cycle closed with overflow"),
        ("PENDING", "INVOICED", "INV-2026-01"),
        ("INVOICED", "SETTLED", "PAY-778"),
    ]
    events = await audits(b)
    assert [(e.action, e.target_id) for e in events] == [
        ("budgets.settlement.invoiced", str(sid)),
        ("budgets.settlement.settled", str(sid)),
    ]
    assert events[0].diff == {
        "before": {"status": "PENDING", "externalReference": None},
        "after": {"status": "INVOICED", "externalReference": "INV-2026-01"},
    }
    assert events[1].diff == {
        "before": {"status": "INVOICED", "externalReference": "INV-2026-01"},
        "after": {"status": "SETTLED", "externalReference": "PAY-778"},
    }


async def test_settle_straight_from_pending_and_invoice_without_reference(world: World) -> None:
    b, sid = await overflowing(world)
    assert (await settle(b, sid)).status == "SETTLED"
    assert await balance(b, JAN) == 0
    b2, sid2 = await overflowing(world)
    invoiced = await invoice(b2, sid2, "   ")
    assert (invoiced.status, invoiced.external_reference) == ("INVOICED", None)


@pytest.mark.parametrize("first", [None, "invoice"])
async def test_write_off(world: World, first: str | None) -> None:
    b, sid = await overflowing(world)
    if first:
        await invoice(b, sid)
    written = await write_off(b, sid, " goodwill after an outage ")
    assert (written.status, written.write_off_reason) == ("WRITTEN_OFF", "goodwill after an outage")
    assert (await entries(b, JAN))["WRITE_OFF"] == [Decimal("100.5")]
    assert "SETTLEMENT" not in await entries(b, JAN)
    assert await balance(b, JAN) == 0
    came_from = "INVOICED" if first else "PENDING"
    assert (await history(b, sid))[-1] == (came_from, "WRITTEN_OFF", "goodwill after an outage")
    events = await audits(b)
    assert events[-1].action == "budgets.settlement.written_off"
    assert len(events) == (2 if first else 1)


STEPS: dict[str, Step] = {"invoice": invoice, "settle": settle, "write_off": write_off}


@pytest.mark.parametrize(
    ("path", "illegal", "current"),
    [
        (["settle"], "invoice", "SETTLED"),
        (["write_off"], "settle", "WRITTEN_OFF"),
        (["invoice"], "invoice", "INVOICED"),
        (["invoice", "settle"], "write_off", "SETTLED"),
        (["write_off"], "write_off", "WRITTEN_OFF"),
        (["settle"], "settle", "SETTLED"),
    ],
)
async def test_illegal_transitions_are_user_errors_and_change_nothing(
    world: World, path: list[str], illegal: str, current: str
) -> None:
    b, sid = await overflowing(world)
    for name in path:
        await STEPS[name](b, sid)
    before = await snapshot(b)
    with pytest.raises(UserInputError) as err:
        await STEPS[illegal](b, sid)
    [problem] = err.value.errors
    assert (problem.field, problem.code) == (("id",), UserErrorCode.ILLEGAL_TRANSITION)
    assert current in problem.message
    assert await snapshot(b) == before  # no ledger entry, history row or audit event either


async def test_unknown_settlements_and_bad_input(world: World) -> None:
    b, sid = await overflowing(world)
    before = await snapshot(b)
    cases: list[tuple[Callable[[], Awaitable[Settlement]], tuple[str, ...], UserErrorCode]] = [
        (lambda: settle(b, uuid.uuid4()), ("id",), UserErrorCode.NOT_FOUND),
        (lambda: invoice(b, uuid.uuid4()), ("id",), UserErrorCode.NOT_FOUND),
        (lambda: write_off(b, uuid.uuid4()), ("id",), UserErrorCode.NOT_FOUND),
        (lambda: settle(b, sid, "  "), ("externalReference",), UserErrorCode.REQUIRED),
        (lambda: settle(b, sid, "x" * 201), ("externalReference",), UserErrorCode.TOO_LONG),
        (lambda: invoice(b, sid, "x" * 201), ("externalReference",), UserErrorCode.TOO_LONG),
        (lambda: write_off(b, sid, ""), ("reason",), UserErrorCode.REQUIRED),
        (lambda: write_off(b, sid, "x" * 501), ("reason",), UserErrorCode.TOO_LONG),
    ]
    for call, field, code in cases:
        with pytest.raises(UserInputError) as err:
            await call()
        assert [(e.field, e.code) for e in err.value.errors] == [(field, code)]
    assert await snapshot(b) == before
    other, other_sid = await overflowing(world)
    with pytest.raises(UserInputError) as foreign:  # another account's settlement does not exist here
        await settle(b, other_sid)
    assert foreign.value.errors[0].code is UserErrorCode.NOT_FOUND
    assert (await settle(b, sid, "x" * 200)).status == "SETTLED"
    assert (await settle(other, other_sid)).status == "SETTLED"
