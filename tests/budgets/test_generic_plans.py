"""The budget's hot reads stay on their indexes on PostgreSQL's generic plan, however long the history.

asyncpg prepares every statement, and after its fifth execution PostgreSQL may run one on its generic
plan, made without the parameters' values. Checked here on that plan (plan_cache_mode =
force_generic_plan), over a long history:

- every read of a cycle's pool (pool_of under the budget mutex of every authorization and usage
  write, the budget snapshot, effectiveAccess's one read), over a cycle with 20,000 usage entries:
  the kinds were parameters (a sequential scan of the ledger, 17 ms at 62,000 entries) or the cycle
  was joined instead of named (an index range over every entry of the account);
- the expiry of due holds (every authorization, under the budget mutex), over 20,000 settled
  reservations: `status = $1` cannot use the partial index of held reservations (a sequential scan
  of every reservation the account ever made)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg

from cockpit_graphql.db.tables import BudgetCycle, Reservation
from cockpit_graphql.domain.budgets.metering import expiry
from cockpit_graphql.domain.budgets.repository import POOL, SNAPSHOT, pool_of
from cockpit_graphql.domain.policies.access_read import ACCESS_READ
from tests.support.budget_scenarios import NOW, cycle_id, expire_due, owner_execute, record, tree, usage
from tests.support.budgets import Budget, new_budget
from tests.support.world import World

USAGE_ENTRIES = 20_000
RESERVATIONS = 20_000


@pytest.fixture
async def long_ledger(world: World) -> tuple[Budget, uuid.UUID]:
    b = await tree(await new_budget(world), "1000")
    await record(b, [usage(b, "u1", "0.001")])  # opens the cycle: its GRANT and one USAGE entry
    cid = await cycle_id(b)
    await owner_execute(
        b,
        "INSERT INTO ledger_entries (account_id, id, cycle_id, kind, amount) "
        "SELECT $1, gen_random_uuid(), $2, 'USAGE', -0.000001 FROM generate_series(1, $3)",
        b.tenant.account_id,
        cid,
        USAGE_ENTRIES,
    )
    await owner_execute(b, "ANALYZE ledger_entries")
    return b, cid


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "'{" + ",".join(str(v) for v in value) + "}'"
    return f"'{value.isoformat() if isinstance(value, datetime) else value}'"


async def _generic_plan(b: Budget, statement: sa.Executable, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """EXPLAIN of `statement`'s generic plan, run as the app role in the tenant (row-level security on).
    `values` for the parameters the statement does not carry itself (a text statement's)."""
    compiled = statement.compile(dialect=asyncpg.dialect())  # type: ignore[attr-defined]
    given = {**compiled.params, **(values or {})}
    arguments = ", ".join(_literal(given[name]) for name in compiled.positiontup or ())
    async with b.db.tenant(b.tid) as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await driver.execute(f"PREPARE plan_probe AS {compiled.string}")
        try:
            explained = await driver.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE plan_probe({arguments})")
        finally:
            await driver.execute("DEALLOCATE plan_probe")
    document = json.loads(explained) if isinstance(explained, str) else explained  # the app decodes json itself
    return document[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _reads(plan: dict[str, Any], table: str, index_prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The plan's nodes that read `table`: the table itself, or one of its indexes."""
    return [
        node
        for node in _nodes(plan)
        if node.get("Relation Name") == table or node.get("Index Name", "").startswith(index_prefixes)
    ]


def assert_reads_only_the_cycles_pool_entries(plan: dict[str, Any]) -> None:
    reads = _reads(plan, "ledger_entries", ("ix_ledger_", "uq_ledger_", "ledger_entries_"))
    assert reads, plan
    assert not [n for n in reads if n["Node Type"] == "Seq Scan"], reads
    conditions = [n["Index Cond"] for n in reads if "Index Cond" in n]
    assert conditions, reads
    for condition in conditions:
        assert "cycle_id" in condition and "kind" in condition, condition


async def test_pool_of_reads_the_pool_entries_through_the_index(long_ledger: tuple[Budget, uuid.UUID]) -> None:
    b, cid = long_ledger
    assert_reads_only_the_cycles_pool_entries(await _generic_plan(b, POOL, {"cycle_id": cid}))
    async with b.db.tenant(b.tid) as session:
        assert await pool_of(session, cid) == 1000  # the GRANT; the 20,001 usage entries are not the pool


async def test_the_snapshot_and_effective_access_read_the_pool_through_the_index(
    long_ledger: tuple[Budget, uuid.UUID],
) -> None:
    b, cid = long_ledger
    async with b.db.tenant(b.tid) as session:
        start = await session.scalar(sa.select(BudgetCycle.starts_at).where(BudgetCycle.id == cid))
    user = b.ids["u1"]
    snapshot = await _generic_plan(
        b, SNAPSHOT, {"levels": ["USER"], "ids": [user], "account_id": b.tenant.account_id, "start": start}
    )
    assert_reads_only_the_cycles_pool_entries(snapshot)
    access = await _generic_plan(b, ACCESS_READ, {"account_id": b.tenant.account_id, "users": [user], "start": start})
    assert_reads_only_the_cycles_pool_entries(access)


@pytest.fixture
async def long_history_of_holds(world: World) -> tuple[Budget, uuid.UUID]:
    b = await tree(await new_budget(world), "1000")
    await record(b, [usage(b, "u1", "0.001")])  # opens the cycle
    cid = await cycle_id(b)
    await owner_execute(
        b,
        "INSERT INTO budget_reservations "
        "(account_id, id, cycle_id, user_id, organization_id, team_id, credits, status, expires_at, resolved_at) "
        "SELECT $1, gen_random_uuid(), $2, $3, $4, $5, 1, 'SETTLED', $6, $6 FROM generate_series(1, $7)",
        b.tenant.account_id,
        cid,
        b.ids["u1"],
        b.ids["o1"],
        b.ids["t1"],
        NOW - timedelta(hours=1),
        RESERVATIONS,
    )
    await owner_execute(b, "ANALYZE budget_reservations")
    return b, cid


async def test_expiring_due_holds_reads_only_held_ones(long_history_of_holds: tuple[Budget, uuid.UUID]) -> None:
    b, cid = long_history_of_holds
    plan = await _generic_plan(b, expiry(cid, NOW))
    reads = _reads(plan, "budget_reservations", ("ix_budget_reservations_", "budget_reservations_"))
    assert reads and not [n for n in reads if n["Node Type"] == "Seq Scan"], reads
    assert {n.get("Index Name") for n in reads} & {"ix_budget_reservations_held"}, reads
    held = await b.authorize("u1", "5", ttl=60)  # and it still expires what is due, and only that
    assert await expire_due(b, NOW + timedelta(seconds=61)) == 1
    async with b.db.tenant(b.tid) as session:
        statuses = dict(
            (await session.execute(sa.select(Reservation.status, sa.func.count()).group_by(Reservation.status))).all()
        )
    assert statuses == {"EXPIRED": 1, "SETTLED": RESERVATIONS}, (held, statuses)
