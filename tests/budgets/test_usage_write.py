"""The one statement that writes a call's new events derives, for each event, the ledger entries of
domain.md §2 (USAGE −included, OVERFLOW_USAGE −overflow, only the parts that are not zero) and its rollups."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
import sqlalchemy as sa

from cockpit_graphql.db.tables import UsageEvent
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.usage_write import COLUMNS, RecordedEvent, encode_events
from tests.support.budget_scenarios import only_cycle, record, tree, usage
from tests.support.budgets import new_budget
from tests.support.world import World

LEDGER_OF_EVENTS = """SELECT e.idempotency_key, l.kind, l.amount
    FROM ledger_entries l JOIN usage_events e ON e.account_id = l.account_id AND e.id = l.usage_event_id
    ORDER BY e.idempotency_key, l.kind"""


async def test_each_part_of_each_event_gets_its_own_ledger_entry_and_the_rollups_add_up(world: World) -> None:
    # A pool of 10 credits (1,000 credits per USD), overflow allowed: 4 in, then 5 in + 3 over (the
    # boundary), then 2 over, then a free call (no entry at all).
    b = await tree(await new_budget(world), "10", overflow_policy=OverflowPolicy.ALLOW)
    batch = [
        usage(b, "u1", "0.004", key="in"),
        usage(b, "u2", "0.008", key="split"),
        usage(b, "u3", "0.002", key="over"),
        usage(b, "u4", "0", key="free"),
    ]
    outcomes = await record(b, batch)
    parts = {o.event.idempotency_key: (o.event.included_credits, o.event.overflow_credits) for o in outcomes}
    assert parts == {
        "in": (Decimal(4), Decimal(0)),
        "split": (Decimal(6), Decimal(2)),
        "over": (Decimal(0), Decimal(2)),
        "free": (Decimal(0), Decimal(0)),
    }
    async with b.db.tenant(b.tid) as s:
        entries = (await s.execute(sa.text(LEDGER_OF_EVENTS))).all()
        daily = (await s.execute(sa.text("SELECT sum(events), sum(credits) FROM usage_daily"))).one()
    assert [tuple(e) for e in entries] == [
        ("in", "USAGE", Decimal(-4)),
        ("over", "OVERFLOW_USAGE", Decimal(-2)),
        ("split", "OVERFLOW_USAGE", Decimal(-2)),
        ("split", "USAGE", Decimal(-6)),
    ]
    assert tuple(daily) == (4, Decimal(14))
    assert (await only_cycle(b)).clean


def test_a_recorded_event_is_written_with_every_column_of_the_table_in_order() -> None:
    assert tuple(UsageEvent.__table__.c.keys()) == COLUMNS


def test_the_document_names_every_column_in_order_with_decimals_exact() -> None:
    ids = [uuid.uuid4() for _ in range(6)]
    at = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)
    event = RecordedEvent(
        *ids[:2],
        "key",
        ids[2],
        at,
        at,
        False,
        *ids[3:6],
        "agent",
        None,
        ["c,1"],
        [],
        3,
        4,
        Decimal("1E-10"),
        Decimal(1000),
        Decimal("1.5E+3"),
        Decimal("1500.000000"),
        Decimal(0),
        None,
    )
    [row] = orjson.loads(encode_events([event]))
    assert tuple(row) == COLUMNS
    assert [row[name] for name in ("cost_usd", "credits_per_usd", "credits", "included_credits")] == [
        "1E-10",
        "1000",
        "1.5E+3",
        "1500.000000",
    ]
    assert row["id"] == str(ids[1]) and row["occurred_at"] == "2026-11-28T02:30:00+00:00"


@pytest.mark.parametrize("path", ["write-ahead", "locked"])
async def test_connection_ids_and_guardrails_are_stored_exactly_whatever_their_characters(
    world: World, path: str
) -> None:
    """Each event's arrays travel as the text of a PostgreSQL array (usage_write._array_text): quotes,
    backslashes, commas, braces, spaces, the word NULL and the empty string come back as sent, on both
    paths (a reservation sends a batch down the locked one), and the tag rollups count them."""
    b = await tree(await new_budget(world), "1000")
    tricky = ("a,b", 'q"uote', "back\\slash", "{brace}", "NULL", "", " spaced ", "ü→漢")
    held = (await b.authorize("u1", "1")).reservation.id if path == "locked" else None
    events = [
        dataclasses.replace(usage(b, "u1", "0.001", key="tricky", reservation=held), connection_ids=tricky),
        dataclasses.replace(usage(b, "u2", "0.001", key="guarded"), guardrails=tricky[::-1]),
        usage(b, "u3", "0.001", key="plain"),
    ]
    await record(b, events)
    async with b.db.tenant(b.tid) as s:
        stored = {
            key: (list(conns), list(guards))
            for key, conns, guards in (
                await s.execute(sa.text("SELECT idempotency_key, connection_ids, guardrails FROM usage_events"))
            ).all()
        }
        tags = (
            await s.execute(sa.text("SELECT kind, count(*) FROM usage_daily_tags GROUP BY kind ORDER BY kind"))
        ).all()
    assert stored == {
        "tricky": (list(tricky), []),
        "guarded": ([], list(tricky[::-1])),
        "plain": ([], []),
    }
    assert [tuple(t) for t in tags] == [("CONNECTION", len(tricky)), ("GUARDRAIL", len(tricky))]
