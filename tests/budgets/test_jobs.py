"""Budget jobs: called with a ctx dict, and run by name by a burst arq worker against real Redis
(a queue of this test run's own, so parallel runs never pick up each other's jobs)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Worker

from cockpit_graphql.db.tables import BudgetCounter, LedgerEntry, Reservation
from cockpit_graphql.settings import Settings
from cockpit_graphql.workers import budgets as jobs
from cockpit_graphql.workers.settings import WorkerSettings
from tests.budgets.test_renewal import FEB, JAN, MID_JAN, RENEW_FEB, balance, budget, cycles, entries
from tests.support.budgets import Budget
from tests.support.workers import queue_pool, run_burst_worker
from tests.support.world import World

QUEUE = f"cockpit:test:budgets:{uuid.uuid4().hex}"
HELD_AT = datetime(2026, 1, 31, 20, 0, tzinfo=UTC)


@pytest.fixture
async def queue(settings: Settings) -> AsyncIterator[ArqRedis]:
    async for pool in queue_pool(settings, QUEUE):
        yield pool


async def run_worker(settings: Settings) -> Worker:
    return await run_burst_worker(settings, QUEUE, jobs.FUNCTIONS)


async def reservation(b: Budget, rid: uuid.UUID) -> Reservation:
    async with b.db.tenant(b.tid) as s:
        found = await s.get(Reservation, (b.tid.value, rid))
        assert found is not None
        return found


async def account_reserved(b: Budget, start: datetime) -> Decimal:
    cid = next(c.id for c in await cycles(b) if c.starts_at == start)
    async with b.db.tenant(b.tid) as s:
        stmt = sa.select(BudgetCounter.reserved).where(
            BudgetCounter.cycle_id == cid, BudgetCounter.scope_level == "ACCOUNT"
        )
        return Decimal(await s.scalar(stmt))


def test_the_jobs_are_registered_with_their_schedules() -> None:
    names = {getattr(f, "name", getattr(f, "__name__", None)) for f in WorkerSettings.functions}
    assert {jobs.RENEW_SWEEP, jobs.RENEW_ACCOUNT, jobs.EXPIRE_RESERVATIONS} <= names
    crons = {c.name: c for c in WorkerSettings.cron_jobs}
    assert crons[jobs.RENEW_SWEEP].minute == set(range(0, 60, 5)) and crons[jobs.RENEW_SWEEP].second == 0
    assert crons[jobs.EXPIRE_RESERVATIONS].minute is None and crons[jobs.EXPIRE_RESERVATIONS].second == 30
    assert jobs.renewal_job_id(uuid.UUID(int=1), FEB) == (
        "budgets.renew:00000000-0000-0000-0000-000000000001:2026-02-01T00:00:00+00:00"
    )


async def test_the_jobs_called_with_a_ctx(world: World, db: Any) -> None:
    b = await budget(world, rollover_percent=Decimal("50"))
    await b.spend("u", "300", at=MID_JAN)
    held = await b.authorize("u", "10", now=HELD_AT, ttl=300)
    ctx = {"db": db}
    expired = await jobs.expire_reservations(ctx, now=HELD_AT + timedelta(hours=1))
    assert expired["expired"] >= 1 and expired["accounts"] >= 1
    assert (await reservation(b, held.reservation.id)).status == "EXPIRED"
    assert (await jobs.expire_reservations(ctx, now=HELD_AT + timedelta(hours=1)))["expired"] == 0
    assert await jobs.renew_account(ctx, str(b.tenant.account_id), now=RENEW_FEB) == 1
    assert await jobs.renew_account(ctx, str(b.tenant.account_id), now=RENEW_FEB) == 0
    assert (await jobs.renew_sweep(ctx, now=RENEW_FEB))["renewed"] == 0  # everything due is done
    assert await balance(b, JAN) == 0
    assert (await entries(b, FEB))["ROLLOVER"] == [Decimal("350")]


async def test_a_burst_worker_runs_the_sweep_and_the_expiry_by_name(
    world: World, settings: Settings, queue: ArqRedis
) -> None:
    b = await budget(world, rollover_percent=Decimal("50"))
    await b.spend("u", "300", at=MID_JAN)
    held = await b.authorize("u", "10", now=HELD_AT, ttl=300)
    assert await account_reserved(b, JAN) == 10

    expiry = await queue.enqueue_job(jobs.EXPIRE_RESERVATIONS, now=HELD_AT + timedelta(hours=1))
    assert expiry is not None
    worker = await run_worker(settings)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert (await expiry.result(timeout=5))["expired"] >= 1
    found = await reservation(b, held.reservation.id)
    assert (found.status, found.resolved_at) == ("EXPIRED", HELD_AT + timedelta(hours=1))
    assert await account_reserved(b, JAN) == 0

    sweep = await queue.enqueue_job(jobs.RENEW_SWEEP, now=RENEW_FEB)
    assert sweep is not None
    worker = await run_worker(settings)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert (await sweep.result(timeout=5))["renewed"] >= 1
    jan, feb = await cycles(b)
    assert (jan.status, feb.status) == ("CLOSED", "OPEN")
    assert await entries(b, JAN) == {
        "GRANT": [Decimal("1000")],
        "USAGE": [Decimal("-300")],
        "ROLLOVER": [Decimal("-350")],
        "EXPIRY": [Decimal("-350")],
    }
    assert await entries(b, FEB) == {"GRANT": [Decimal("1000")], "ROLLOVER": [Decimal("350")]}


async def test_the_same_renewal_job_id_runs_once(world: World, settings: Settings, queue: ArqRedis) -> None:
    b = await budget(world, rollover_percent=Decimal("50"))
    await b.spend("u", "300", at=MID_JAN)
    account = b.tenant.account_id
    first = await jobs.enqueue_renewal(queue, account, JAN)
    assert isinstance(first, Job) and first.job_id == jobs.renewal_job_id(account, JAN)
    assert await jobs.enqueue_renewal(queue, account, JAN) is None  # already queued
    worker = await run_worker(settings)
    assert (worker.jobs_complete, worker.jobs_failed) == (1, 0)
    assert await jobs.enqueue_renewal(queue, account, JAN) is None  # done: its result is kept

    # The job renewed with the real clock: every cycle since January that is due, once, in order.
    renewed = await first.result(timeout=5)
    now = datetime.now(UTC)
    all_cycles = await cycles(b)
    closed = [c for c in all_cycles if c.status == "CLOSED"]
    assert renewed == len(closed) >= 1 and closed[0].starts_at == JAN
    grace = timedelta(seconds=settings.usage_grace_seconds)
    assert all(c.ends_at + grace > now for c in all_cycles if c.status == "OPEN")
    assert all(a.ends_at == later.starts_at for a, later in itertools.pairwise(all_cycles))  # contiguous
    async with b.db.tenant(b.tid) as s:
        stmt = sa.select(LedgerEntry.cycle_id, sa.func.count()).where(LedgerEntry.kind == "GRANT")
        grants = (await s.execute(stmt.group_by(LedgerEntry.cycle_id))).all()
    assert sorted(n for _, n in grants) == [1] * len(all_cycles)
    for c in closed:
        assert await balance(b, c.starts_at) == 0
