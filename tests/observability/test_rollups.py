"""Daily usage rollups against PostgreSQL: the write path adds exactly the fresh events of a batch (replays
add nothing), and rollups rebuilt from the raw events equal the incremental ones — on random batches with
replays, late events, several days, and users moving teams mid-way (Hypothesis; one tenant per example,
the example database off, see tests/budgets/test_properties.py for how it runs on the session loop)."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit_graphql.db.tables import UsageDaily, UsageDailyModel, UsageDailyTag, UsageDailyTeam, UsageEvent
from cockpit_graphql.domain.budgets.metering import UsageInput
from cockpit_graphql.domain.observability.rollups import rebuild_rollups
from cockpit_graphql.workers import observability as jobs
from tests.support.budget_scenarios import move_user, record, tree
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import World

USERS = ("u1", "u2", "u3", "u4")
TEAMS = ("t1", "t2", "t3")
# Oct 30 predates the plan's first cycle (Nov 1): those events are recorded late, in the open cycle.
DAYS = [date(2026, 10, 30), *(date(2026, 11, d) for d in range(16, 21))]
FIRST, LAST = DAYS[0], DAYS[-1]


def random_usage(b: Budget, rng: random.Random, n: int, keys: list[str]) -> list[UsageInput]:
    """`n` events on random days, users, agents, models, connections and guardrails; about one in six
    replays an earlier key (of this batch or a previous one)."""
    out = []
    for _ in range(n):
        if keys and rng.random() < 0.17:
            key = rng.choice(keys)
        else:
            key = uuid.uuid4().hex
            keys.append(key)
        day = rng.choice(DAYS)
        at = datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60), tzinfo=NOW.tzinfo)
        out.append(
            UsageInput(
                idempotency_key=key,
                user_id=b.ids[rng.choice(USERS)],
                cost_usd=Decimal(rng.randrange(0, 400_000)) / Decimal(1_000_000),
                occurred_at=min(at, NOW),
                agent_id=rng.choice([None, "agent-a", "agent-b"]),
                model_id=rng.choice([None, "gpt-x", "claude-y", "m3"]),
                connection_ids=tuple(rng.sample(["c1", "c2", "c3"], rng.randrange(3)) + rng.choice([[], ["c1"]])),
                guardrails=tuple(rng.sample(["pii", "toxicity"], rng.randrange(3))),
            )
        )
    return out


Sums = dict[tuple[Any, ...], tuple[int, Decimal, Decimal]]
NO_ROLLUPS: tuple[Sums, ...] = ({}, {}, {}, {})


async def rollups(b: Budget) -> tuple[Sums, ...]:
    """The rollup tables (full grain, tags, teams, agent×model), rows with events only (a rebuild leaves
    zeros where a group vanished)."""
    async with b.db.tenant(b.tid) as s:
        daily = (await s.scalars(sa.select(UsageDaily).where(UsageDaily.events > 0))).all()
        tags = (await s.scalars(sa.select(UsageDailyTag).where(UsageDailyTag.events > 0))).all()
        teams = (await s.scalars(sa.select(UsageDailyTeam).where(UsageDailyTeam.events > 0))).all()
        models = (await s.scalars(sa.select(UsageDailyModel).where(UsageDailyModel.events > 0))).all()
    return (
        {(r.day, r.organization_id, r.team_id, r.user_id, r.agent_key, r.model_key): _sums(r) for r in daily},
        {(r.day, r.kind, r.tag): _sums(r) for r in tags},
        {(r.day, r.organization_id, r.team_id): _sums(r) for r in teams},
        {(r.day, r.agent_key, r.model_key): _sums(r) for r in models},
    )


def _sums(row: Any) -> tuple[int, Decimal, Decimal]:
    return (row.events, row.credits, row.cost_usd)


async def from_events(b: Budget) -> tuple[Sums, ...]:
    """The rollups computed in Python from the raw events (the rule, independently of the SQL)."""
    async with b.db.tenant(b.tid) as s:
        events = (await s.scalars(sa.select(UsageEvent))).all()
    tables: tuple[dict[tuple[Any, ...], list[Any]], ...] = tuple(
        defaultdict(lambda: [0, Decimal(0), Decimal(0)]) for _ in NO_ROLLUPS
    )
    daily, tags, teams, models = tables
    for e in events:
        day = e.occurred_at.astimezone(NOW.tzinfo).date()
        agent, model = e.agent_id or "", e.model_id or ""
        for target, key in [
            (daily, (day, e.organization_id, e.team_id, e.user_id, agent, model)),
            (teams, (day, e.organization_id, e.team_id)),
            (models, (day, agent, model)),
        ] + [
            (tags, (day, kind, tag))
            for kind, values in (("CONNECTION", e.connection_ids), ("GUARDRAIL", e.guardrails))
            for tag in set(values)
        ]:
            acc = target[key]
            acc[0] += 1
            acc[1] += e.credits
            acc[2] += e.cost_usd
    return tuple({k: (v[0], v[1], v[2]) for k, v in t.items()} for t in tables)


async def rebuild(b: Budget, a: date = FIRST, z: date = LAST) -> None:
    async with b.db.tenant(b.tid) as s:
        await rebuild_rollups(s, b.tid, a, z)


async def populate(b: Budget, seed: int, batches: int = 3, size: int = 25) -> None:
    """Random batches, with a random user moving to a random team between batches."""
    rng = random.Random(seed)
    keys: list[str] = []
    teams = {"u1": "t1", "u2": "t1", "u3": "t2", "u4": "t3"}  # as tree() places them
    for i in range(batches):
        await record(b, random_usage(b, rng, size, keys))
        if i < batches - 1:
            user = rng.choice(USERS)
            teams[user] = rng.choice([t for t in TEAMS if t != teams[user]])
            await move_user(b, user, teams[user])


@settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32), batches=st.integers(1, 4), size=st.integers(1, 30))
async def test_incremental_rollups_equal_the_raw_events_and_a_rebuild(
    world: World, seed: int, batches: int, size: int
) -> None:
    b = await tree(await new_budget(world), "50")  # a small pool: events overflow, the rollups do not care
    await populate(b, seed, batches, size)
    incremental = await rollups(b)
    assert incremental == await from_events(b)
    await rebuild(b)
    assert await rollups(b) == incremental
    await rebuild(b)  # idempotent
    assert await rollups(b) == incremental


async def test_rollups_written_under_the_mutex_after_the_events_equal_the_raw_events(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write-ahead path (metering._record_ahead) writes events before the budget mutex and their
    rollups under it, reading those events back by id (usage_write.add_rollups): the same sums as the raw events
    and a rebuild, tags included. Every batch here lies in the open cycle, inside a large pool."""
    from cockpit_graphql.domain.budgets import metering

    locked = [0]
    record_locked = metering._record_locked

    async def counting(*args: Any, **kwargs: Any) -> Any:
        locked[0] += 1
        return await record_locked(*args, **kwargs)

    monkeypatch.setattr(metering, "_record_locked", counting)
    b = await tree(await new_budget(world), "1000000")
    rng = random.Random(23)
    keys: list[str] = []
    for size in (1, 30, 30):  # one event (its own statement text), then batches with replays
        batch = [
            dataclasses.replace(u, occurred_at=max(u.occurred_at, datetime(2026, 11, 16, tzinfo=NOW.tzinfo)))
            for u in random_usage(b, rng, size, keys)
        ]
        await record(b, batch)
    assert locked[0] == 0
    incremental = await rollups(b)
    assert incremental == await from_events(b)
    assert incremental[1]  # tags were written
    await rebuild(b)
    assert await rollups(b) == incremental


async def test_replays_add_nothing(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    rng = random.Random(7)
    batch = random_usage(b, rng, 40, [])
    await record(b, batch)
    before = await rollups(b)
    assert sum(v[0] for v in before[0].values()) == len({u.idempotency_key for u in batch})
    await record(b, batch)  # every key replays
    assert await rollups(b) == before


async def test_late_events_land_on_the_day_they_happened(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    at = datetime(2026, 10, 30, 8, tzinfo=NOW.tzinfo)
    (outcome,) = await record(b, [UsageInput("late-1", b.ids["u1"], Decimal("0.002"), at, connection_ids=("c1",))])
    assert outcome.event.late
    daily, tags, teams, models = await rollups(b)
    assert [k[0] for k in daily] == [k[0] for k in teams] == [k[0] for k in models] == [date(2026, 10, 30)]
    assert tags == {(date(2026, 10, 30), "CONNECTION", "c1"): (1, Decimal("2.000000"), Decimal("0.002"))}


async def test_a_rebuild_repairs_drift_and_only_touches_its_range(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    await populate(b, 11)
    good = await rollups(b)
    from tests.support.budget_scenarios import owner_execute

    await owner_execute(b, "UPDATE usage_daily SET credits = credits + 1 WHERE account_id = $1", b.tenant.account_id)
    await owner_execute(b, "DELETE FROM usage_daily_tags WHERE account_id = $1", b.tenant.account_id)
    drift = "UPDATE usage_daily_models SET events = events + 5 WHERE account_id = $1"
    await owner_execute(b, drift, b.tenant.account_id)
    await rebuild(b, DAYS[1], DAYS[2])  # only two days repaired
    daily, tags, teams, models = await rollups(b)
    assert teams == good[2]  # untouched
    assert {k: v for k, v in models.items() if DAYS[1] <= k[0] <= DAYS[2]} == {
        k: v for k, v in good[3].items() if DAYS[1] <= k[0] <= DAYS[2]
    }
    assert all(v[0] == good[3][k][0] + 5 for k, v in models.items() if not DAYS[1] <= k[0] <= DAYS[2])
    assert {k: v for k, v in daily.items() if DAYS[1] <= k[0] <= DAYS[2]} == {
        k: v for k, v in good[0].items() if DAYS[1] <= k[0] <= DAYS[2]
    }
    assert all(v[1] == good[0][k][1] + 1 for k, v in daily.items() if not DAYS[1] <= k[0] <= DAYS[2])
    assert tags == {k: v for k, v in good[1].items() if DAYS[1] <= k[0] <= DAYS[2]}
    result = await jobs.rebuild_rollups({"db": b.db}, str(b.tenant.account_id), FIRST.isoformat(), LAST.isoformat())
    assert result["from"] == FIRST.isoformat()
    assert await rollups(b) == good
    assert jobs.rebuild_job_id(b.tenant.account_id, FIRST, LAST).startswith("observability.rebuild_rollups:")


async def test_rollups_are_isolated_per_account(world: World) -> None:
    a = await tree(await new_budget(world), "1000")
    other = await tree(await new_budget(world), "1000")
    await populate(a, 3, batches=1)
    assert await rollups(other) == NO_ROLLUPS
    await rebuild(other)
    full, _, teams, models = await rollups(a)
    assert full and teams and models
    assert await rollups(other) == NO_ROLLUPS


def test_days_cover_more_than_one_cycle() -> None:
    assert FIRST < date(2026, 11, 1) <= LAST
    assert NOW.date() == LAST
    assert timedelta(days=7) < LAST - FIRST
