"""Recorded cost anomalies: the daily job records a planted spike once however often (or by however many
workers) it runs, flat usage records nothing; admins list (filter, keyset pages) and acknowledge them
(audited, once; other accounts' anomalies are not found; members are forbidden)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Worker

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import AuditEvent, CostAnomaly, User
from cockpit_graphql.domain.observability.anomaly_records import record_anomalies, record_range
from cockpit_graphql.settings import Settings
from cockpit_graphql.types.ids import encode_id
from cockpit_graphql.workers import observability as jobs
from cockpit_graphql.workers.settings import WorkerSettings
from tests.observability.test_costs_anomalies import DAY, history, spend
from tests.support.budget_scenarios import tree
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.workers import queue_pool, run_burst_worker
from tests.support.world import World

QUEUE = f"cockpit:test:anomalies:{uuid.uuid4().hex}"
LIST = (
    "query($a: ID, $f: CostAnomalyFilter, $first: Int, $after: String) {"
    " recordedAnomalies(accountId: $a, filter: $f, first: $first, after: $after) {"
    " totalCount edges { cursor node { id kind day key { dimension id value } scope { level id } observed baseline"
    " deviation details detectedAt acknowledged acknowledgedAt acknowledgedBy note } }"
    " pageInfo { hasNextPage endCursor } } }"
)
ACK = (
    "mutation($i: AcknowledgeAnomalyInput!) { acknowledgeAnomaly(input: $i) {"
    " anomaly { id acknowledged acknowledgedBy note } userErrors { field code } } }"
)


@pytest.fixture
async def b(world: World) -> Budget:
    return await tree(await new_budget(world), "1000000")


async def plant_spike(b: Budget) -> None:
    await history(b, "u1", ["10", "12", "8", "11", "9", "10", "10", "13", "7", "10", "11", "9", "10", "10"])
    await spend(b, "u1", "500", DAY)


async def rows(b: Budget) -> list[CostAnomaly]:
    async with b.db.tenant(b.tid) as s:
        return list((await s.scalars(sa.select(CostAnomaly).order_by(CostAnomaly.dimension))).all())


async def record(b: Budget, day: date = DAY) -> int:
    async with b.db.tenant(b.tid) as s:
        return await record_anomalies(s, b.tid, day, NOW)


async def test_a_planted_spike_is_recorded_once_by_two_runs(b: Budget) -> None:
    await plant_spike(b)
    first = await record(b)
    found = await rows(b)
    assert first == len(found) == 5  # the user, its team, its organization, and "no agent" / "no model"
    assert {(r.kind, r.dimension, r.dimension_key) for r in found} == {
        ("SPIKE", "USER", str(b.ids["u1"])),
        ("SPIKE", "TEAM", str(b.ids["t1"])),
        ("SPIKE", "ORGANIZATION", str(b.ids["o1"])),
        ("SPIKE", "AGENT", ""),
        ("SPIKE", "MODEL", ""),
    }
    user = next(r for r in found if r.dimension == "USER")
    assert (user.day, user.observed, user.baseline) == (DAY, Decimal(500), Decimal(10))
    assert user.deviation is not None and user.deviation > 3
    assert await record(b) == 0  # again: nothing new
    results = await asyncio.gather(record(b), record(b))  # two workers racing: still once
    assert results == [0, 0] and len(await rows(b)) == 5


async def test_flat_usage_records_nothing_and_a_catch_up_covers_a_range(b: Budget) -> None:
    await history(b, "u2", ["200"] * 14)
    await spend(b, "u2", "200", DAY)
    assert await record(b) == 0
    await spend(b, "u3", "400", DAY - timedelta(days=2))  # no history: a spike two days earlier
    async with b.db.tenant(b.tid) as s:
        assert await record_range(s, b.tid, DAY - timedelta(days=3), DAY, NOW) == 5
    assert {(r.day, r.dimension) for r in await rows(b)} == {
        (DAY - timedelta(days=2), d) for d in ("USER", "TEAM", "ORGANIZATION", "AGENT", "MODEL")
    }


async def test_pace_is_recorded_for_yesterday_only(b: Budget) -> None:
    await b.cap("u1", "1000")
    await spend(b, "u1", "800", date(2026, 11, 10))  # on pace to pass 1000 before Dec 1 (NOW is Nov 20)
    assert await record(b, DAY - timedelta(days=1)) == 0  # not yesterday: pace is not judged for the past
    assert await record(b) == 1
    (pace,) = [r for r in await rows(b) if r.kind == "PACE"]
    assert (pace.scope_level, pace.scope_id, pace.observed, pace.baseline) == (
        "USER",
        b.ids["u1"],
        Decimal(800),
        Decimal(1000),
    )
    assert await record(b) == 0


async def _list(world: World, token: str, **variables: Any) -> Any:
    return await world.gql(LIST, variables, token=token)


async def member_token(world: World, b: Budget) -> str:
    """A member of the budget tenant (u2, by its email)."""
    async with b.db.tenant(b.tid) as s:
        email = await s.scalar(sa.select(User.email).where(User.id == b.ids["u2"]))  # type: ignore[arg-type]
    return world.token(b.tenant, str(email))


async def test_list_filter_paginate_and_acknowledge(world: World, b: Budget) -> None:
    await plant_spike(b)
    await b.cap("u4", "1000")
    await spend(b, "u4", "800", date(2026, 11, 10))  # on pace to pass its cap
    assert await record(b) >= 4
    spike_rows = [r for r in await rows(b) if r.kind == "SPIKE"]
    admin = world.admin(b.tenant)
    r = await _list(world, admin)
    conn = r.data["recordedAnomalies"]
    kinds = sorted(e["node"]["kind"] for e in conn["edges"])
    assert (
        conn["totalCount"] == len(kinds) and kinds.count("SPIKE") == len(spike_rows) >= 3 and kinds.count("PACE") == 1
    )
    spike = next(e["node"] for e in conn["edges"] if e["node"]["key"] and e["node"]["key"]["dimension"] == "USER")
    assert spike["key"]["id"] == encode_id("User", b.tenant.account_id, b.ids["u1"])
    assert spike["observed"] == "500.000000" and spike["acknowledged"] is False

    spikes = (await _list(world, admin, f={"kind": "SPIKE"})).data["recordedAnomalies"]
    assert spikes["totalCount"] == len(spike_rows)
    none = (await _list(world, admin, f={"from": str(DAY + timedelta(days=1))})).data["recordedAnomalies"]
    assert none["totalCount"] == 0

    seen, after = [], None
    while True:  # pages of 2, newest first, every anomaly once
        page = (await _list(world, admin, first=2, after=after)).data["recordedAnomalies"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(e["node"]["id"] for e in conn["edges"])

    member_ = await member_token(world, b)
    member = await world.gql(ACK, {"i": {"id": spike["id"]}}, token=member_)
    assert member.codes == ["FORBIDDEN"]
    r = await world.gql(ACK, {"i": {"id": spike["id"], "note": "a batch job"}}, token=admin)
    payload = r.data["acknowledgeAnomaly"]
    assert payload["userErrors"] == [] and payload["anomaly"]["acknowledged"] is True
    assert payload["anomaly"]["note"] == "a batch job" and payload["anomaly"]["acknowledgedBy"]
    async with b.db.tenant(mint_for_system(b.tenant.account_id)) as s:
        events = (
            await s.scalars(sa.select(AuditEvent).where(AuditEvent.action == "observability.anomaly.acknowledged"))
        ).all()
    assert [(e.target_type, e.request_id) for e in events] == [("CostAnomaly", r.headers["x-request-id"])]
    again = await world.gql(ACK, {"i": {"id": spike["id"]}}, token=admin)
    assert again.data["acknowledgeAnomaly"]["userErrors"] == [{"field": ["input", "id"], "code": "NOTHING_TO_CHANGE"}]

    done = (await _list(world, admin, f={"acknowledged": True})).data["recordedAnomalies"]
    assert [e["node"]["id"] for e in done["edges"]] == [spike["id"]]
    open_ = (await _list(world, admin, f={"acknowledged": False})).data["recordedAnomalies"]
    assert open_["totalCount"] == conn["totalCount"] - 1

    other = await world.tenant()
    foreign = await world.gql(ACK, {"i": {"id": spike["id"]}}, token=world.admin(other))
    assert foreign.data["acknowledgeAnomaly"]["userErrors"] == [{"field": ["input", "id"], "code": "NOT_FOUND"}]
    theirs = (await _list(world, world.admin(other), a=b.tenant.account_gid)).data["recordedAnomalies"]
    assert theirs["totalCount"] == 0 and theirs["edges"] == []
    assert (await _list(world, member_)).codes == ["FORBIDDEN"]


@pytest.fixture
async def queue(settings: Settings) -> AsyncIterator[ArqRedis]:
    async for pool in queue_pool(settings, QUEUE):
        yield pool


async def run_worker(settings: Settings) -> Worker:
    return await run_burst_worker(settings, QUEUE, jobs.FUNCTIONS)


def test_the_job_is_registered_daily() -> None:
    names = {getattr(f, "name", None) for f in WorkerSettings.functions}
    assert jobs.RECORD_ANOMALIES in names
    (daily,) = [c for c in WorkerSettings.cron_jobs if c.name == jobs.RECORD_ANOMALIES]
    assert (daily.hour, daily.minute, daily.second) == (0, 20, 0)


async def test_a_burst_worker_records_the_spike_once(b: Budget, settings: Settings, queue: ArqRedis) -> None:
    await plant_spike(b)
    account = str(b.tenant.account_id)
    jobs_ = [
        await queue.enqueue_job(jobs.RECORD_ANOMALIES, now=NOW, account_id=account, _job_id=f"{QUEUE}:{i}")
        for i in range(2)
    ]
    worker = await run_worker(settings)
    assert (worker.jobs_complete, worker.jobs_failed) == (2, 0)
    results = [await j.result(timeout=5) for j in jobs_ if j is not None]
    assert sorted(r["recorded"] for r in results) == [0, 5]
    assert results[0]["to"] == DAY.isoformat() and results[0]["from"] == (DAY - timedelta(days=6)).isoformat()
    assert len(await rows(b)) == 5

    day = date(1900, 1, 1) + timedelta(days=random.randrange(36500))  # a job id no other run has used
    first = await jobs.enqueue_record_anomalies(queue, day)
    assert isinstance(first, Job) and first.job_id == jobs.record_job_id(day)
    try:
        assert await jobs.enqueue_record_anomalies(queue, day) is None  # the same day is queued once
    finally:
        await queue.delete(f"arq:job:{first.job_id}")
        await queue.zrem(QUEUE, first.job_id)
