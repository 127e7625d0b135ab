"""The metering's rows name their account through their cycle, whose account references accounts
(migration 0014 dropped the separate account key, which that implies): billing notices and reservations
by a foreign key, (account_id, cycle_id) → budget_cycles; usage events and ledger entries by a check
once per statement (migration 0017: a trigger over the statement's new rows, raising the same
foreign-key SQLSTATE). The database refuses a row whose (account, cycle) pair does not exist: a cycle
of another account, or an account that does not exist. Inserted as the owner, so that row-level
security is not what refuses them."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tests.support.budget_scenarios import NOW, cycle_id, owner_execute, record, tree, usage
from tests.support.budgets import Budget, new_budget
from tests.support.world import World

INSERTS = {
    "usage_events": (
        "INSERT INTO usage_events (account_id, id, idempotency_key, cycle_id, occurred_at, user_id, organization_id, "
        "team_id, cost_usd, credits_per_usd, credits, included_credits, overflow_credits) "
        "VALUES ($1, gen_random_uuid(), gen_random_uuid()::text, $2, $3, $4, $4, $4, 1, 1, 1, 1, 0)"
    ),
    "ledger_entries": "INSERT INTO ledger_entries (account_id, id, cycle_id, kind, amount) "
    "VALUES ($1, gen_random_uuid(), $2, 'USAGE', -1)",
    "billing_notices": "INSERT INTO billing_notices (account_id, id, cycle_id, scope_level, scope_id, kind) "
    "VALUES ($1, gen_random_uuid(), $2, 'USER', gen_random_uuid(), 'CAP_80_PERCENT')",
    "budget_reservations": (
        "INSERT INTO budget_reservations (account_id, id, cycle_id, user_id, organization_id, team_id, credits, "
        "expires_at) VALUES ($1, gen_random_uuid(), $2, $4, $4, $4, 1, $3)"
    ),
}


async def _budget_with_a_cycle(world: World) -> tuple[Budget, uuid.UUID]:
    b = await tree(await new_budget(world), "1000")
    await record(b, [usage(b, "u1", "0.001")])  # opens the cycle
    return b, await cycle_id(b)


async def _insert(b: Budget, table: str, account: uuid.UUID, cycle: uuid.UUID) -> Any:
    sql = INSERTS[table]
    args: list[Any] = [account, cycle]
    if "$3" in sql:
        args.append(NOW)
    if "$4" in sql:
        args.append(b.ids["u1"])
    return await owner_execute(b, sql, *args)


@pytest.mark.parametrize("table", sorted(INSERTS))
async def test_a_row_must_name_a_cycle_of_its_own_account(world: World, table: str) -> None:
    b, mine = await _budget_with_a_cycle(world)
    _, theirs = await _budget_with_a_cycle(world)
    assert await _insert(b, table, b.tenant.account_id, mine) == "INSERT 0 1"  # the statement itself is valid
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await _insert(b, table, b.tenant.account_id, theirs)  # another account's cycle
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await _insert(b, table, uuid.uuid4(), mine)  # an account that does not exist


@pytest.mark.parametrize("table", ["usage_events", "ledger_entries"])
async def test_one_bad_row_refuses_the_whole_statement_for_the_app_role_too(world: World, table: str) -> None:
    """The per-statement check (migration 0017) as the app role, under row-level security: a statement
    whose rows are all good but one is refused whole, with the foreign-key SQLSTATE; nothing stays."""
    b, mine = await _budget_with_a_cycle(world)
    values = {
        "usage_events": "(SELECT :a, gen_random_uuid(), gen_random_uuid()::text, c, :at, :u, :u, :u, 1, 1, 1, 1, 0 "
        "FROM unnest(CAST(:cycles AS uuid[])) AS c)",
        "ledger_entries": "(SELECT :a, gen_random_uuid(), c, 'USAGE', -1 FROM unnest(CAST(:cycles AS uuid[])) AS c)",
    }[table]
    columns = INSERTS[table].split(") VALUES")[0].split("(", 1)[1]
    sql = sa.text(f"INSERT INTO {table} ({columns}) {values[1:-1]}")
    params = {"a": b.tenant.account_id, "at": NOW, "u": b.ids["u1"], "cycles": [mine, mine, uuid.uuid4(), mine]}
    async with b.db.tenant(b.tid) as s:
        before = (await s.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one()
    with pytest.raises(IntegrityError) as refused:
        async with b.db.tenant(b.tid) as s:
            await s.execute(sql, params)
    assert getattr(refused.value.orig, "sqlstate", None) == "23503"
    async with b.db.tenant(b.tid) as s:
        assert (await s.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one() == before
        await s.execute(sql, {**params, "cycles": [mine, mine]})  # the same statement with good rows passes
