"""Cost anomalies against PostgreSQL: planted spikes are found (per user, team, organization, agent, model,
connection), flat usage and spikes under the minimum are not, a value without history spikes, and capped
scopes on pace to pass their cap before the cycle ends are reported with when they would cross it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from cockpit_graphql.domain.budgets.metering import UsageInput
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.observability.anomalies import Anomalies, anomalies
from cockpit_graphql.domain.observability.costs import CostDimension
from tests.support.budget_scenarios import record, tree
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import World

D = CostDimension
DAY = date(2026, 11, 19)  # judged; the 14 days before it are Nov 5..18, all in the cycle that starts Nov 1


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def spend(b: Budget, user: str, credits: str, day: date, **kw: object) -> None:
    usage = UsageInput(
        f"{user}-{day}-{credits}-{kw}",
        b.ids[user],
        Decimal(credits) / 1000,
        at(day),
        **kw,  # type: ignore[arg-type]
    )
    await record(b, [usage])


async def judge(b: Budget, **kw: object) -> Anomalies:
    async with b.db.tenant(b.tid) as s:
        return await anomalies(s, b.tid, NOW, DAY, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def b(world: World) -> Budget:
    return await tree(await new_budget(world), "1000000")


async def history(b: Budget, user: str, daily: list[str], **kw: object) -> None:
    for i, credits in enumerate(daily):
        await spend(b, user, credits, DAY - timedelta(days=14 - i), **kw)


async def test_a_planted_spike_is_found_in_every_dimension_it_touches(b: Budget) -> None:
    tags = {"agent_id": "agent-a", "model_id": "m1", "connection_ids": ("c1",), "guardrails": ("pii",)}
    await history(b, "u1", ["10", "12", "8", "11", "9", "10", "10", "13", "7", "10", "11", "9", "10", "10"], **tags)
    await history(b, "u2", ["50"] * 14)  # flat in the same team: the team's history gets a steady base
    await spend(b, "u1", "500", DAY, **tags)
    await spend(b, "u2", "50", DAY)
    found = await judge(b)
    keys = {(s.dimension, s.key) for s in found.spikes}
    assert keys == {
        (D.USER, b.ids["u1"]),
        (D.TEAM, b.ids["t1"]),
        (D.ORGANIZATION, b.ids["o1"]),
        (D.AGENT, "agent-a"),
        (D.MODEL, "m1"),
        (D.CONNECTION, "c1"),
        (D.GUARDRAIL, "pii"),
    }
    user = next(s for s in found.spikes if s.dimension is D.USER)
    assert user.credits == Decimal(500) and user.mean == 10 and user.std_dev > 0
    assert found.day == DAY
    only = await judge(b, dims=[D.TEAM, D.CONNECTION])
    assert {s.dimension for s in only.spikes} == {D.TEAM, D.CONNECTION}


async def test_flat_usage_and_small_spikes_are_not_anomalies(b: Budget) -> None:
    await history(b, "u1", ["200"] * 14)
    await spend(b, "u1", "200", DAY)  # flat: not above the mean
    await history(b, "u3", ["1"] * 14)
    await spend(b, "u3", "50", DAY)  # 50 standard deviations... of nothing: under the 100 minimum
    assert (await judge(b, dims=[D.USER])).spikes == []
    low = await judge(b, dims=[D.USER], min_credits=Decimal(10))
    assert [(s.key, s.credits, s.mean, s.std_dev) for s in low.spikes] == [(b.ids["u3"], Decimal(50), 1, 0)]


async def test_a_value_without_history_spikes_and_sigmas_are_honoured(b: Budget) -> None:
    await spend(b, "u4", "150", DAY, model_id="new-model")
    found = await judge(b, dims=[D.MODEL])
    assert [(s.key, s.mean, s.std_dev) for s in found.spikes] == [("new-model", 0, 0)]
    await history(b, "u1", ["100", "300"] * 7)  # mean 200, standard deviation 100
    await spend(b, "u1", "550", DAY)  # 3.5 standard deviations above
    assert [s.key for s in (await judge(b, dims=[D.USER])).spikes] == [b.ids["u1"], b.ids["u4"]]  # excess 350, 150
    strict = await judge(b, dims=[D.USER], sigmas=Decimal("3.6"))
    assert [s.key for s in strict.spikes] == [b.ids["u4"]]  # 550 < 200 + 3.6 × 100


async def test_scopes_on_pace_to_pass_their_cap(b: Budget) -> None:
    await b.cap("u1", "1000")
    await b.cap("u2", "1000")
    await b.cap("t2", "300")
    await spend(b, "u1", "800", date(2026, 11, 10))  # 800 in 19.5 days of 30 → 1,230.77 by the end
    await spend(b, "u2", "500", date(2026, 11, 10))  # → 769: fine
    await spend(b, "u3", "350", date(2026, 11, 10))  # t2 already past its cap: not "on pace", exceeded
    found = await judge(b)
    assert [(a.scope, a.cap, a.spent) for a in found.pace] == [
        (Scope(ScopeLevel.USER, b.ids["u1"]), Decimal(1000), Decimal(800))
    ]
    (alert,) = found.pace
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert alert.cycle_ends_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert alert.projected == Decimal(800) * 30 / Decimal("19.5")
    assert alert.exceeds_at == start + (NOW - start) * 1.25  # Nov 25, 09:00


async def test_the_account_pool_is_judged_too(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    await spend(b, "u1", "700", date(2026, 11, 3))
    (alert,) = (await judge(b)).pace
    assert alert.scope == Scope(ScopeLevel.ACCOUNT, b.tenant.account_id) and alert.cap == Decimal(1000)


QUERY = """query($i: CostAnomaliesInput, $a: ID) {
  costAnomalies(input: $i, accountId: $a) { day
  spikes { key { dimension id value } credits mean stdDev }
  pace { scope { level id } cap spent projected exceedsAt } } }"""


async def test_api(world: World) -> None:
    t = await world.tenant()
    b = Budget(world, t, ids=dict(t.ids))
    now = datetime.now(UTC)
    await b.plan("1000000", now=now)
    yesterday = now.date() - timedelta(days=1)
    await record(b, [UsageInput("spike", t.ids["member"], Decimal("0.5"), at(yesterday))], now)
    r = await world.gql(QUERY, {"i": {"dimensions": ["USER"]}}, world.admin(t))
    assert r.errors == [], r.errors
    out = r.data["costAnomalies"]
    assert out["day"] == yesterday.isoformat()
    assert [s["key"]["id"] for s in out["spikes"]] == [t.gid("User", "member")]
    assert (await world.gql(QUERY, {}, world.member(t))).codes == ["FORBIDDEN"]
    other = await world.tenant()
    assert (await world.gql(QUERY, {"a": t.account_gid}, world.admin(other))).data["costAnomalies"] is None


async def test_a_day_whose_window_starts_before_year_one_is_bad_input(world: World) -> None:
    """Found by the fuzzer: costAnomalies(day: "0001-01-01") was INTERNAL (the 14-day window underflowed)."""
    t = await world.tenant()
    r = await world.gql(QUERY, {"i": {"day": "0001-01-01"}}, world.admin(t))
    assert r.codes == ["BAD_USER_INPUT"] and "0001-01-01" in r.errors[0]["message"]
    r = await world.gql(QUERY, {"i": {"day": "0001-01-15"}}, world.admin(t))
    assert r.errors == [] and r.data["costAnomalies"]["day"] == "0001-01-15"
