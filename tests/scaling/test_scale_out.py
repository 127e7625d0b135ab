"""Scale-out (issue #7): two API processes (`cockpit serve`) and two arq workers (`cockpit worker`), separate OS
processes, against one PostgreSQL and one Redis, configured only through the environment as deployed. The
processes share nothing but the database and Redis, and the results are still exact:

- a due budget cycle renewed by both workers at the same time is renewed exactly once (one close, one GRANT
  of the next cycle, one ROLLOVER pair, one EXPIRY, its hold released once);
- concurrent authorizeUsage calls split over both API processes never hold more than the user's cap.

The workers consume a queue of this module's own (WORKER_QUEUE_NAME), so parallel test runs sharing the Redis
never pick up each other's jobs. Their cron jobs (renewal sweep, expiry, at the real time) cannot touch the
renewal case: its account's cycles are in 2027, never due at the real time.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus

from cockpit_graphql.db.tables import BudgetCounter, BudgetCycle, LedgerEntry, Reservation
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.ops.database import owner_connection
from cockpit_graphql.settings import Settings
from cockpit_graphql.types.ids import decode_id, encode_id
from cockpit_graphql.workers import budgets as jobs
from tests.scaling.fleet import Fleet, Process, start_fleet
from tests.support.budgets import Budget, new_budget
from tests.support.workers import queue_pool
from tests.support.world import World

QUEUE = f"cockpit:test:scaling:{uuid.uuid4().hex}"
JAN, FEB, MAR = (datetime(2027, m, 1, tzinfo=UTC) for m in (1, 2, 3))
CREATED = datetime(2027, 1, 10, tzinfo=UTC)
MID_JAN = datetime(2027, 1, 15, tzinfo=UTC)
HELD_AT = datetime(2027, 1, 31, 20, 0, tzinfo=UTC)
RENEW_AT = FEB + timedelta(hours=2)  # past the 1 h grace of January
WAIT_S = 120.0  # a worker may still be importing the app on a busy machine
CAP = 10
CALLS = 48  # 24 per API process, each holding 1 credit: exactly CAP of them can be granted

AUTHORIZE = """mutation($i: AuthorizeUsageInput!) { authorizeUsage(input: $i) {
  authorization { allowed reason bindingScope { level } reservation { id credits status } }
  userErrors { field code message } } }"""
ALLOCATION = """query($id: ID!) { node(id: $id) { ... on User { effectiveAllocation {
  cap remaining reserved bindingScope { level } } } } }"""


@pytest.fixture(scope="module")
def fleet(settings: Settings, database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    started = time.monotonic()
    fleet = start_fleet(settings, tmp_path_factory.mktemp("fleet"), apis=2, workers=2, queue_name=QUEUE)
    print(f"fleet of {len(fleet.all)} processes up in {time.monotonic() - started:.1f} s")
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
async def queue(settings: Settings) -> AsyncIterator[ArqRedis]:
    async for pool in queue_pool(settings, QUEUE):
        yield pool


async def until(what: str, check: Any, fleet: Fleet) -> Any:
    """Poll the async `check` until it returns something truthy."""
    deadline = time.monotonic() + WAIT_S
    while not (found := await check()):
        assert time.monotonic() < deadline, f"timed out waiting until {what}\n{fleet.output()}"
        await asyncio.sleep(0.05)
    return found


# --- renewal exactly once ---------------------------------------------------------------------------------


async def cycle_rows(b: Budget) -> list[BudgetCycle]:
    async with b.db.tenant(b.tid) as s:
        return list((await s.scalars(sa.select(BudgetCycle).order_by(BudgetCycle.starts_at))).all())


async def ledger(b: Budget, cycle_id: uuid.UUID) -> dict[str, list[Decimal]]:
    async with b.db.tenant(b.tid) as s:
        rows = (
            await s.execute(
                sa.select(LedgerEntry.kind, LedgerEntry.amount)
                .where(LedgerEntry.cycle_id == cycle_id)
                .order_by(LedgerEntry.created_at, LedgerEntry.kind)
            )
        ).all()
    out: dict[str, list[Decimal]] = {}
    for kind, amount in rows:
        out.setdefault(kind, []).append(amount)
    return out


async def account_reserved(b: Budget, cycle_id: uuid.UUID) -> Decimal:
    async with b.db.tenant(b.tid) as s:
        stmt = sa.select(BudgetCounter.reserved).where(
            BudgetCounter.cycle_id == cycle_id, BudgetCounter.scope_level == "ACCOUNT"
        )
        return Decimal(await s.scalar(stmt))


async def in_progress(job: Job) -> bool:
    return await job.status() is JobStatus.in_progress


async def advisory_waiters(owner: Any) -> int:
    """Backends of the test database waiting for an advisory lock (the account's budget mutex)."""
    return int(
        await owner.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()"
        )
    )


async def enqueue_on(fleet: Fleet, worker: Process, queue: ArqRedis, b: Budget, tag: str) -> Job:
    """Queue one renewal of the account while every other worker is paused (SIGSTOP): only `worker` polls,
    so only it can take the job. Returns once the job is in progress there."""
    others = [w for w in fleet.workers if w is not worker]
    for other in others:
        other.pause()
    try:
        job = await queue.enqueue_job(
            jobs.RENEW_ACCOUNT, str(b.tenant.account_id), now=RENEW_AT, _job_id=f"{QUEUE}:{tag}"
        )
        assert job is not None
        await until(f"{worker.name} runs {job.job_id}", lambda: in_progress(job), fleet)
        return job
    finally:
        for other in others:
            other.resume()


async def test_two_workers_renew_a_due_cycle_exactly_once(
    world: World, settings: Settings, fleet: Fleet, queue: ArqRedis
) -> None:
    b = await new_budget(world)
    await b.org("o")
    await b.team("t", "o")
    await b.user("u", "t")
    await b.plan("1000", now=CREATED, rollover_percent=Decimal("50"))
    await b.spend("u", "300", at=MID_JAN)
    held = await b.authorize("u", "10", now=HELD_AT, ttl=300)  # expired by RENEW_AT: the renewal releases it
    assert held.allowed
    [jan] = await cycle_rows(b)
    assert await account_reserved(b, jan.id) == 10

    first, second = fleet.workers
    owner = await owner_connection(settings.database_url)
    try:
        # The test holds the account's budget mutex (the advisory lock every renewal and metering write takes
        # first), so each renewal job blocks at its start. Job A is queued while worker-1 is paused and job B
        # while worker-0 is paused: A runs in worker-0, B in worker-1, both in progress at the same time.
        async with b.db.tenant(b.tid) as barrier:
            await repo.lock_account_budget(barrier, b.tid)
            job_a = await enqueue_on(fleet, first, queue, b, "a")
            job_b = await enqueue_on(fleet, second, queue, b, "b")
            # (A cron job of a worker that reaches the account meanwhile waits there too; it changes nothing.)
            await until("both jobs wait for the lock", lambda: _at_least(owner, 2), fleet)
            assert await in_progress(job_a) and await in_progress(job_b)
        # The barrier's transaction ended: the two renewals now race for the account.
        results = [await job.result(timeout=WAIT_S, poll_delay=0.1) for job in (job_a, job_b)]
    finally:
        await owner.close()

    assert sorted(results) == [0, 1], results  # one worker renewed, the other found nothing due
    cycles = await cycle_rows(b)
    assert [(c.starts_at, c.ends_at, c.status) for c in cycles] == [(JAN, FEB, "CLOSED"), (FEB, MAR, "OPEN")]
    assert cycles[0].closed_at == RENEW_AT
    assert await ledger(b, cycles[0].id) == {
        "GRANT": [Decimal("1000")],
        "USAGE": [Decimal("-300")],
        "ROLLOVER": [Decimal("-350")],  # 50 % of the unused 700 (the expired hold no longer counts)
        "EXPIRY": [Decimal("-350")],
    }
    assert await ledger(b, cycles[1].id) == {"GRANT": [Decimal("1000")], "ROLLOVER": [Decimal("350")]}
    async with b.db.tenant(b.tid) as s:
        hold = await s.get(Reservation, (b.tid.value, held.reservation.id))
    assert hold is not None and (hold.status, hold.resolved_at) == ("EXPIRED", RENEW_AT)
    assert await account_reserved(b, jan.id) == 0  # released once, not twice


async def _at_least(owner: Any, n: int) -> bool:
    return await advisory_waiters(owner) >= n


# --- no overshoot ---------------------------------------------------------------------------------------------


async def test_concurrent_authorizations_over_two_api_processes_never_pass_the_cap(world: World, fleet: Fleet) -> None:
    b = await new_budget(world)
    await b.org("o")
    await b.team("t", "o")
    await b.user("u", "t")
    await b.plan("1000", now=datetime.now(UTC))
    await b.cap("u", str(CAP))
    token = world.admin(b.tenant)
    user = encode_id("User", b.tenant.account_id, b.ids["u"])
    apis = [api.base_url for api in fleet.apis]
    assert len(apis) == 2 and len({api.pid for api in fleet.apis}) == 2

    async def authorize(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
        body = {"query": AUTHORIZE, "variables": {"i": {"userId": user, "estimatedCredits": "1", "ttlSeconds": 600}}}
        response = await client.post("/graphql", json=body)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert "errors" not in payload and payload["data"]["authorizeUsage"]["userErrors"] == [], payload
        return str(client.base_url), payload["data"]["authorizeUsage"]["authorization"]

    headers = {"Authorization": f"Bearer {token}"}
    clients = [
        httpx.AsyncClient(base_url=url, headers=headers, timeout=WAIT_S, limits=httpx.Limits(max_connections=CALLS))
        for url in apis
    ]
    try:
        for client in clients:  # the first request of a token links its identity: not part of the race
            response = await client.post("/graphql", json={"query": "{ account { name } }"})
            assert response.status_code == 200, response.text
        started = time.monotonic()
        answers = await asyncio.gather(*(authorize(clients[i % 2]) for i in range(CALLS)))
        took = time.monotonic() - started
    finally:
        for client in clients:
            await client.aclose()

    served = Counter(url for url, _ in answers)
    assert sorted(served.values()) == [CALLS // 2, CALLS // 2]
    granted = [a for _, a in answers if a["allowed"]]
    denied = [a for _, a in answers if not a["allowed"]]
    held = sum(Decimal(a["reservation"]["credits"]) for a in granted)
    assert held <= CAP, f"{held} credits held against a cap of {CAP}"
    assert len(granted) == CAP, f"{len(granted)} granted in {took:.1f} s; {Counter(url for url, a in answers)}"
    assert {(a["reason"], a["bindingScope"]["level"]) for a in denied} == {("CAP_EXCEEDED", "USER")}
    assert all(a["reservation"]["status"] == "HELD" for a in granted)

    # The database agrees: the holds, and the counters every later decision reads.
    async with b.db.tenant(b.tid) as s:
        holds = (await s.scalars(sa.select(Reservation).where(Reservation.user_id == b.ids["u"]))).all()
        counters = (await s.execute(sa.select(BudgetCounter.scope_level, BudgetCounter.reserved))).all()
    assert sorted(str(r.id) for r in holds if r.status == "HELD") == sorted(
        _uuid_of(a["reservation"]["id"]) for a in granted
    )
    assert {level: Decimal(reserved) for level, reserved in counters} == {
        level: Decimal(CAP) for level in ("ACCOUNT", "ORGANIZATION", "TEAM", "USER")
    }
    async with httpx.AsyncClient(base_url=apis[1], headers=headers, timeout=WAIT_S) as client:
        response = await client.post("/graphql", json={"query": ALLOCATION, "variables": {"id": user}})
    allocation = response.json()["data"]["node"]["effectiveAllocation"]
    assert (Decimal(allocation["reserved"]), Decimal(allocation["remaining"])) == (Decimal(CAP), Decimal(0))


def _uuid_of(global_id: str) -> str:
    decoded = decode_id(global_id)
    assert decoded is not None
    return str(decoded.id)
