"""A statement past the API's statement timeout (`DB_STATEMENT_TIMEOUT_SECONDS`) ends the request with
code TIMEOUT, rolls its transaction back, and frees the connection: no runaway query keeps a core and a
connection after its client gave up (one did, for 25 minutes, before the limit existed)."""

from __future__ import annotations

import uuid
from typing import Any

from cockpit_graphql.db.engine import Database
from cockpit_graphql.ops.database import owner_connection
from tests.budgets.test_api import PLAN, RECORD
from tests.ops.helpers import app_client, gql, own_settings
from tests.support.world import World

TIMEOUT_S = 0.3


async def test_a_statement_past_the_timeout_is_a_typed_error_and_writes_nothing(world: World, settings: Any) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    assert (await world.gql(PLAN, {"i": {"creditsPerCycle": "1000", "renewalDay": 1}}, token=admin)).data
    usage = {"idempotencyKey": uuid.uuid4().hex, "userId": t.gid("User", "member"), "costUsd": "0.01"}
    limited = own_settings(settings, db_statement_timeout_seconds=TIMEOUT_S)
    db = Database.from_settings(limited)
    holder = await owner_connection(settings.database_url)  # holds the account's budget mutex meanwhile
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('cockpit.budget:' || $1, 0))", str(t.account_id)
            )
            async with app_client(limited, db) as (_, client):
                r = await gql(client, RECORD, {"i": usage}, token=admin)  # without a limit: waits forever
    finally:
        await holder.close()
        await db.dispose()
    assert [e["extensions"]["code"] for e in r.errors] == ["TIMEOUT"], r.body
    assert "rolled back" in r.errors[0]["message"] and r.errors[0]["extensions"]["requestId"]
    # nothing of the call was kept (its events were written ahead of the mutex, in the same transaction)
    again = await world.gql(RECORD, {"i": usage}, token=admin)
    assert again.data["recordUsage"]["result"]["replayed"] is False, again.body


async def test_the_worker_and_the_api_get_their_own_limits(settings: Any) -> None:
    api = Database.from_settings(own_settings(settings, db_statement_timeout_seconds=2.5))
    worker = Database.from_settings(settings, statement_timeout_seconds=0)
    try:
        async with api.engine.connect() as conn:
            assert (await conn.exec_driver_sql("SHOW statement_timeout")).scalar_one() == "2500ms"
        async with worker.engine.connect() as conn:
            assert (await conn.exec_driver_sql("SHOW statement_timeout")).scalar_one() == "0"
    finally:
        await api.dispose()
        await worker.dispose()


class _Canceled(Exception):
    sqlstate = "57014"  # what asyncpg's QueryCanceledError carries


def test_scim_answers_a_timeout_with_503() -> None:
    from sqlalchemy.exc import DBAPIError

    from cockpit_graphql.scim.responses import response_for

    response = response_for(DBAPIError("SELECT 1", {}, _Canceled("canceling statement due to statement timeout")), "r1")
    assert response.status_code == 503 and b"took too long" in response.body
