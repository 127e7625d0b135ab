"""The metering's rows name their account through their cycle: usage events, ledger entries, billing
notices and reservations have one foreign key, (account_id, cycle_id) → budget_cycles, whose account
references accounts (migration 0014 dropped the separate account key, which that one implies). The
database still refuses a row whose (account, cycle) pair does not exist: a cycle of another account,
or an account that does not exist. Inserted as the owner, so that row-level security is not what
refuses them."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

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
