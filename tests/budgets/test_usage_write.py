"""The one statement that writes a call's new events derives, for each event, the ledger entries of
domain.md §2 (USAGE −included, OVERFLOW_USAGE −overflow, only the parts that are not zero) and its rollups."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from cockpit_graphql.db.tables import UsageEvent
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.usage_write import (
    COLUMNS,
    RecordedEvent,
    encode_events,
    new_event_ids,
    write_events,
)
from tests.support.budget_scenarios import cycle_id, only_cycle, record, tree, usage
from tests.support.budgets import NOW, new_budget
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


def _event(ids: list[uuid.UUID], **changes: Any) -> RecordedEvent:
    """An event of account ids[0] in cycle ids[1], with every optional column at its default."""
    plain = RecordedEvent(
        account_id=ids[0],
        id=uuid.uuid4(),
        idempotency_key=uuid.uuid4().hex,
        cycle_id=ids[1],
        occurred_at=AT,
        recorded_at=AT,
        late=False,
        user_id=ids[2],
        organization_id=ids[3],
        team_id=ids[4],
        agent_id=None,
        model_id=None,
        connection_ids=[],
        guardrails=[],
        tokens_in=0,
        tokens_out=0,
        cost_usd=Decimal("1E-10"),
        credits_per_usd=Decimal(1000),
        credits=Decimal("1.5E+3"),
        included_credits=Decimal("1500.000000"),
        overflow_credits=Decimal(0),
        reservation_id=None,
    )
    return dataclasses.replace(plain, **changes)


AT = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)
EVERY_OPTION: dict[str, Any] = {
    "late": True,
    "agent_id": "agent",
    "model_id": "model",
    "connection_ids": ["c,1"],
    "guardrails": ["g"],
    "tokens_in": 3,
    "tokens_out": 4,
    "credits_per_usd": Decimal("999.5"),
    "included_credits": Decimal(1000),
    "overflow_credits": Decimal(500),
    "reservation_id": uuid.UUID(int=7),
}


def test_an_event_object_carries_only_what_differs_from_the_call_and_decimals_exactly() -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    other_cycle = uuid.uuid4()
    plain, varied = _event(ids), _event(ids, cycle_id=other_cycle, **EVERY_OPTION)
    document, parameters = encode_events([plain, varied])
    first, second = orjson.loads(document)
    assert parameters == {"account_id": ids[0], "recorded_at": AT, "cycle_id": ids[1], "credits_per_usd": "1000"}
    assert first == {
        "id": str(plain.id),
        "idempotency_key": plain.idempotency_key,
        "occurred_at": "2026-11-28T02:30:00+00:00",
        "user_id": str(ids[2]),
        "organization_id": str(ids[3]),
        "team_id": str(ids[4]),
        "cost_usd": "1E-10",
        "credits": "1.5E+3",
        "included_credits": "1500.000000",
    }
    assert set(second) == set(first) | {"cycle_id"} | (set(EVERY_OPTION) - {"included_credits"})
    assert (second["cycle_id"], second["credits_per_usd"], second["overflow_credits"], second["reservation_id"]) == (
        str(other_cycle),
        "999.5",
        "500",
        str(uuid.UUID(int=7)),
    )


def test_the_call_takes_its_cycle_and_factor_from_the_first_event_and_the_others_name_their_own() -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    other_cycle = uuid.uuid4()
    varied, plain = _event(ids, cycle_id=other_cycle, **EVERY_OPTION), _event(ids)
    document, parameters = encode_events([varied, plain])
    first, second = orjson.loads(document)
    assert (parameters["cycle_id"], parameters["credits_per_usd"]) == (other_cycle, "999.5")
    assert "cycle_id" not in first and "credits_per_usd" not in first
    assert (second["cycle_id"], second["credits_per_usd"]) == (str(ids[1]), "1000")
    assert set(second) - {"cycle_id", "credits_per_usd"} == {
        "id", "idempotency_key", "occurred_at", "user_id", "organization_id", "team_id", "cost_usd", "credits",
        "included_credits",
    }  # fmt: skip


@pytest.mark.parametrize(
    "changes", [{"account_id": uuid.uuid4()}, {"recorded_at": AT.replace(minute=31)}], ids=["account", "recorded at"]
)
def test_events_a_call_cannot_write_together_are_refused(changes: dict[str, Any]) -> None:
    ids = [uuid.uuid4() for _ in range(5)]
    with pytest.raises(ValueError, match="share their account"):
        encode_events([_event(ids), _event(ids, **changes)])


@pytest.mark.parametrize("varied_first", [False, True], ids=["plain first", "varied first"])
async def test_every_column_comes_back_as_written_whether_defaulted_or_sent(world: World, varied_first: bool) -> None:
    b = await tree(await new_budget(world), "1000")
    await record(b, [usage(b, "u1", "0.001", key="opens-the-cycle")])
    cycle = await cycle_id(b, NOW)
    ids = [b.tid.value, cycle, b.ids["u1"], b.ids["o1"], b.ids["t1"]]
    held = (await b.authorize("u1", "1")).reservation.id
    events = [_event(ids), _event(ids, **{**EVERY_OPTION, "reservation_id": held})]
    if varied_first:
        events.reverse()
    async with b.db.tenant(b.tid) as s:
        assert await write_events(s, events, with_rollups=False) == {"usage_events": 2, "ledger_entries": 3}
    wanted = sa.select(UsageEvent.__table__).where(UsageEvent.id.in_([e.id for e in events]))
    async with b.db.tenant(b.tid) as s:
        stored = {row.id: row for row in (await s.execute(wanted)).all()}
    for event in events:
        assert {name: getattr(stored[event.id], name) for name in COLUMNS} == dataclasses.asdict(event)


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


def test_event_ids_are_distinct_random_version_4_uuids() -> None:
    ids = new_event_ids(2000)
    assert len(set(ids)) == 2000
    assert {(i.version, i.variant) for i in ids} == {(4, uuid.RFC_4122)}
    assert new_event_ids(0) == []
