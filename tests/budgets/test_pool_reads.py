"""Every read of a cycle's pool (pool_of under the budget mutex, the budget snapshot, effectiveAccess's one
read) reaches the cycle's few pool entries through the (account, cycle, kind) index, however long the
ledger. They run on every authorization, usage write and effectiveAccess call, and asyncpg prepares
them, so after its fifth execution PostgreSQL may run a statement on its generic plan, planned without
the parameters' values. Checked here on that plan (plan_cache_mode = force_generic_plan), over a cycle
with 20,000 usage entries: the pool reads passed the kinds as parameters (a sequential scan of the
ledger on the generic plan, 17 ms at 62,000 entries) or joined the cycle instead of naming it (an
index range over every entry of the account)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg

from cockpit_graphql.db.tables import BudgetCycle
from cockpit_graphql.domain.budgets.repository import POOL, SNAPSHOT, pool_of
from cockpit_graphql.domain.policies.access_read import ACCESS_READ
from tests.support.budget_scenarios import cycle_id, owner_execute, record, tree, usage
from tests.support.budgets import Budget, new_budget
from tests.support.world import World

USAGE_ENTRIES = 20_000


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


async def _generic_plan(b: Budget, statement: sa.TextClause, values: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN of `statement`'s generic plan, run as the app role in the tenant (row-level security on)."""
    compiled = statement.compile(dialect=asyncpg.dialect())
    arguments = ", ".join(_literal(values[name]) for name in compiled.positiontup or ())
    async with b.db.tenant(b.tid) as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        assert driver is not None
        await driver.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await driver.execute(f"PREPARE pool_probe AS {compiled.string}")
        try:
            explained = await driver.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE pool_probe({arguments})")
        finally:
            await driver.execute("DEALLOCATE pool_probe")
    document = json.loads(explained) if isinstance(explained, str) else explained  # the app decodes json itself
    return document[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _ledger_reads(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan's nodes that read ledger_entries: its table, or one of its indexes."""
    return [
        node
        for node in _nodes(plan)
        if node.get("Relation Name") == "ledger_entries"
        or node.get("Index Name", "").startswith(("ix_ledger_", "uq_ledger_", "ledger_entries_"))
    ]


def assert_reads_only_the_cycles_pool_entries(plan: dict[str, Any]) -> None:
    reads = _ledger_reads(plan)
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
