"""ledgerReconciliation reads each usage event a bounded number of times, even before PostgreSQL has
statistics on the tables (just filled, autovacuum not yet run).

It joined each usage ledger entry to its event by primary key AND cycle; without statistics the
planner took the (account, cycle) index for that join and filtered every event of the cycle for every
entry: quadratic (the bench's reconciliation after 125,000 events ran over two minutes). The plan is
checked by its work, not its time: EXPLAIN ANALYZE's rows read from usage_events, per event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.domain.budgets import reconciliation
from tests.support.budget_scenarios import owner_execute, record, tree, usage
from tests.support.budgets import new_budget
from tests.support.world import World

EVENTS = 1000
SCANS = 3  # the statement reads usage_events three times (entries' events, per cycle, per scope)
TABLES = ("usage_events", "ledger_entries")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _rows_read(plan: dict[str, Any], table: str) -> float:
    """Rows the plan's scans of `table` produced or filtered away, over all their loops."""
    total = 0.0
    for node in _nodes(plan):
        if node.get("Relation Name") == table:
            seen = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            total += (seen + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    return total


async def test_reconciliation_reads_each_event_a_bounded_number_of_times_without_statistics(world: World) -> None:
    b = await tree(await new_budget(world), "1000000")
    users = ("u1", "u2", "u3", "u4")
    await record(b, [usage(b, users[i % 4], "0.001") for i in range(EVENTS)])
    statement = reconciliation._statement(None)
    explain = sa.text("EXPLAIN (ANALYZE, FORMAT JSON) " + statement.text)
    regclasses = ", ".join(f"'{t}'::regclass" for t in TABLES)
    try:  # as if never analyzed (the owner is a superuser: the statistics catalog is its to clear)
        await owner_execute(b, f"DELETE FROM pg_statistic WHERE starelid IN ({regclasses})")
        await owner_execute(b, f"UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid IN ({regclasses})")
        async with b.db.tenant(b.tid) as session:  # as the app role, row-level security on
            explained = (await session.execute(explain, {"account": b.tenant.account_id})).scalar_one()
    finally:
        await owner_execute(b, f"ANALYZE {', '.join(TABLES)}")
    plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]["Plan"]
    read = _rows_read(plan, "usage_events")
    # a sequential scan also reads (and filters away) other tests' accounts: the bound allows a full scan
    # of the shared table per read, and must stay far below the quadratic plan's EVENTS² to mean anything
    everyone = int((await owner_execute(b, "SELECT 1 FROM usage_events")).split()[-1])
    bound = SCANS * (2 * EVENTS + everyone)
    assert bound < EVENTS * EVENTS / 2, f"the shared usage_events has {everyone:,} rows: too many for this check"
    assert EVENTS <= read <= bound, f"{read:,.0f} rows of usage_events read for {EVENTS} events"
    async with b.db.tenant(b.tid) as session:
        (cycle,) = await reconciliation.reconcile(session, b.tid)
    assert cycle.clean, cycle.differences
