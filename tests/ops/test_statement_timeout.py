"""A statement past the API's statement timeout (`DB_STATEMENT_TIMEOUT_SECONDS`) ends the request with
code TIMEOUT, rolls its transaction back, and frees the connection: no runaway query keeps a core and a
connection after its client gave up (one did, for 25 minutes, before the limit existed)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cockpit_graphql.db.engine import Database
from cockpit_graphql.ops.database import owner_connection
from tests.budgets.test_api import PLAN, RECORD
from tests.ops.helpers import app_client, gql, own_settings
from tests.support.world import World

TIMEOUT_S = 1.0  # every statement of the test app: sign-in's too


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


async def test_signing_in_past_the_timeout_is_a_503_with_code_timeout(world: World, settings: Any) -> None:
    t = await world.tenant()
    email = f"newcomer@{t.domain}"  # a first sign-in: it waits on that identity's sign-in lock
    limited = own_settings(settings, db_statement_timeout_seconds=TIMEOUT_S)
    db = Database.from_settings(limited)
    holder = await owner_connection(settings.database_url)
    try:
        async with holder.transaction():
            await holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('cockpit.sign-in:' || $1 || '#' || $2, 0))",
                t.issuer,
                f"sub|{email}",
            )
            async with app_client(limited, db) as (_, client):
                r = await gql(client, "{ viewer { role } }", token=world.token(t, email))
    finally:
        await holder.close()
        await db.dispose()
    assert r.status == 503 and [e["extensions"]["code"] for e in r.errors] == ["TIMEOUT"], r.body


async def _no_heartbeat(ctx: dict[str, Any]) -> float:
    return 0.0


async def _statement_timeout(db: Database) -> str:
    try:
        async with db.engine.connect() as conn:
            return str((await conn.exec_driver_sql("SHOW statement_timeout")).scalar_one())
    finally:
        await db.dispose()


async def test_the_api_the_worker_and_the_operator_commands_get_their_limits(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cockpit_graphql.workers import settings as worker_settings

    limits = own_settings(settings, db_statement_timeout_seconds=2.5, worker_statement_timeout_seconds=7)
    assert await _statement_timeout(Database.from_settings(limits)) == "2500ms"
    assert await _statement_timeout(Database.for_jobs(limits)) == "7s"
    assert await _statement_timeout(Database.from_settings(limits, statement_timeout_seconds=0)) == "0"
    monkeypatch.setattr(worker_settings, "get_settings", lambda: limits)
    monkeypatch.setattr(worker_settings, "heartbeat", _no_heartbeat)  # not under test: no shared Redis key
    ctx: dict[str, Any] = {}
    await worker_settings.startup(ctx)
    assert await _statement_timeout(ctx["db"]) == "7s"


class _Canceled(Exception):
    sqlstate = "57014"  # what asyncpg's QueryCanceledError carries


def test_scim_answers_a_timeout_with_503() -> None:
    from sqlalchemy.exc import DBAPIError

    from cockpit_graphql.scim.responses import response_for

    response = response_for(DBAPIError("SELECT 1", {}, _Canceled("canceling statement due to statement timeout")), "r1")
    assert response.status_code == 503 and b"took too long" in response.body
