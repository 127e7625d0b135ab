"""Cost attribution against PostgreSQL: additive groupings sum exactly to the totals, which equal the raw
events and the ledger's USAGE + OVERFLOW_USAGE entries of the range; rows match a brute force from the raw
events (placement snapshots: users move teams mid-way); today-from-raw + past-from-rollups equals all-raw
and all-rollups; top-N + other; the non-additive CONNECTION / GUARDRAIL groupings; filters; refusals; and
over the API, global ids, permissions and isolation between accounts."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from cockpit_graphql.db.tables import LedgerEntry, UsageEvent
from cockpit_graphql.domain.budgets import metering
from cockpit_graphql.domain.budgets.metering import UsageInput
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.observability.costs import (
    CostBreakdown,
    CostDimension,
    CostFilter,
    CostQuery,
    cost_breakdown,
    grain_for,
)
from cockpit_graphql.domain.observability.rollups import FULL, MODELS, TEAMS, Grain
from tests.observability.test_rollups import DAYS, FIRST, LAST, populate
from tests.support.budget_scenarios import move_user, tree
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import World

D = CostDimension
ADDITIVE_GROUPINGS = [
    [],
    [D.ORGANIZATION],
    [D.TEAM],
    [D.USER],
    [D.AGENT],
    [D.MODEL],
    [D.ORGANIZATION, D.TEAM],
    [D.USER, D.MODEL],
    [D.AGENT, D.MODEL, D.TEAM],
]
COLUMN = {
    D.ORGANIZATION: lambda e: e.organization_id,
    D.TEAM: lambda e: e.team_id,
    D.USER: lambda e: e.user_id,
    D.AGENT: lambda e: e.agent_id,
    D.MODEL: lambda e: e.model_id,
}


@pytest.fixture(scope="module")
async def b(world: World) -> Budget:
    """Random usage over six days (one of them before the first cycle: late events), three batches
    with users moving teams between them; a pool of 50 credits, so most usage is overflow."""
    budget = await tree(await new_budget(world), "50")
    await populate(budget, 20261120, batches=3, size=40)
    return budget


async def breakdown(
    b: Budget, group_by: list[CostDimension], now: datetime = NOW, grain: Grain | None = None, **kw: Any
) -> CostBreakdown:
    q = CostQuery(kw.pop("from_day", FIRST), kw.pop("to_day", LAST), group_by, **kw)
    async with b.db.tenant(b.tid) as s:
        return await cost_breakdown(s, b.tid, q, now, grain)


async def raw_events(b: Budget, a: date = FIRST, z: date = LAST) -> list[UsageEvent]:
    async with b.db.tenant(b.tid) as s:
        events = (await s.scalars(sa.select(UsageEvent))).all()
    return [e for e in events if a <= e.occurred_at.astimezone(UTC).date() <= z]


async def ledger_usage(b: Budget, a: date, z: date) -> Decimal:
    """−Σ of the USAGE and OVERFLOW_USAGE entries of the events that happened in the range."""
    since, until = datetime.combine(a, datetime.min.time(), UTC), datetime.combine(z, datetime.min.time(), UTC)
    async with b.db.tenant(b.tid) as s:
        total = await s.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount), 0))
            .join(UsageEvent, UsageEvent.id == LedgerEntry.usage_event_id)
            .where(
                LedgerEntry.kind.in_(["USAGE", "OVERFLOW_USAGE"]),
                UsageEvent.occurred_at >= since,
                UsageEvent.occurred_at < until + timedelta(days=1),
            )
        )
    return -Decimal(total)


def brute(events: list[UsageEvent], dims: list[CostDimension]) -> dict[tuple[Any, ...], tuple[int, Decimal, Decimal]]:
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for e in events:
        if dims and dims[0] in (D.CONNECTION, D.GUARDRAIL):
            keys = [(t,) for t in set(e.connection_ids if dims[0] is D.CONNECTION else e.guardrails)]
        else:
            keys = [tuple(COLUMN[d](e) for d in dims)]
        for key in keys:
            g = groups[key]
            g[0], g[1], g[2] = g[0] + 1, g[1] + e.credits, g[2] + e.cost_usd
    return {k: (v[0], v[1], v[2]) for k, v in groups.items()}


def as_dict(found: CostBreakdown) -> dict[tuple[Any, ...], tuple[int, Decimal, Decimal]]:
    return {tuple(r.keys.values()): (r.amount.events, r.amount.credits, r.amount.cost_usd) for r in found.rows}


def amounts(found: CostBreakdown) -> tuple[Any, ...]:
    return (as_dict(found), found.other, found.totals, found.daily, [list(r.keys.values()) for r in found.rows])


@pytest.mark.parametrize("dims", ADDITIVE_GROUPINGS, ids=lambda d: "+".join(x.value for x in d) or "none")
async def test_additive_parts_sum_to_totals_which_equal_raw_events_and_the_ledger(
    b: Budget, dims: list[CostDimension]
) -> None:
    events = await raw_events(b)
    assert any(e.late for e in events) and any(e.overflow_credits for e in events)
    expected = brute(events, dims)
    full = await breakdown(b, dims, top=100, daily=True)
    assert full.additive and full.other is None
    assert as_dict(full) == expected
    small = await breakdown(b, dims, top=3)
    parts = [r.amount for r in small.rows] + ([small.other] if small.other else [])
    assert len(small.rows) == min(3, len(expected))
    assert (small.other is not None) == (len(expected) > 3)
    for found in (full, small):
        assert sum(p.events for p in parts) == found.totals.events == len(events)
        assert sum(p.credits for p in parts) == found.totals.credits == sum(e.credits for e in events)
        assert sum(p.cost_usd for p in parts) == found.totals.cost_usd == sum(e.cost_usd for e in events)
    assert full.totals.credits == await ledger_usage(b, FIRST, LAST)
    assert full.daily is not None and [d.day for d in full.daily] == [
        FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)
    ]
    assert sum(d.amount.credits for d in full.daily) == full.totals.credits
    assert sum(d.amount.events for d in full.daily) == full.totals.events


async def test_top_rows_are_the_largest_and_other_holds_the_rest(b: Budget) -> None:
    full = await breakdown(b, [D.USER, D.MODEL], top=100)
    top = await breakdown(b, [D.USER, D.MODEL], top=4)
    credits = [r.amount.credits for r in full.rows]
    assert credits == sorted(credits, reverse=True)
    assert top.rows == full.rows[:4]
    rest = full.rows[4:]
    assert top.other is not None and top.other.events == sum(r.amount.events for r in rest)
    assert top.other.credits == sum(r.amount.credits for r in rest)


@pytest.mark.parametrize(
    "dims", [[D.TEAM], [D.USER, D.MODEL], [D.CONNECTION], [D.GUARDRAIL], []], ids=["team", "user+model", "c", "g", "-"]
)
async def test_today_raw_and_past_rollups_equal_all_raw_and_all_rollups(b: Budget, dims: list[CostDimension]) -> None:
    mixed = await breakdown(b, dims, top=5, daily=True)  # today (NOW's day) raw, the rest from the rollups
    all_raw = await breakdown(b, dims, now=datetime(2026, 1, 1, tzinfo=UTC), top=5, daily=True)
    all_rollups = await breakdown(b, dims, now=datetime(2027, 1, 1, tzinfo=UTC), top=5, daily=True)
    assert (mixed.raw_from, all_raw.raw_from, all_rollups.raw_from) == (LAST, FIRST, date(2027, 1, 1))
    assert amounts(mixed) == amounts(all_raw) == amounts(all_rollups)
    assert mixed.totals.events > 0


@pytest.mark.parametrize(
    ("dims", "f", "grain"),
    [
        ([], CostFilter(), TEAMS),
        ([D.ORGANIZATION], CostFilter(), TEAMS),
        ([D.TEAM], CostFilter(organization_ids=[uuid.uuid4()]), TEAMS),
        ([D.AGENT], CostFilter(), MODELS),
        ([D.MODEL], CostFilter(agent_ids=["a"]), MODELS),
        ([D.AGENT, D.MODEL], CostFilter(), MODELS),
        ([D.USER], CostFilter(), FULL),
        ([D.TEAM], CostFilter(model_ids=["m"]), FULL),
        ([D.MODEL], CostFilter(user_ids=[uuid.uuid4()]), FULL),
        ([D.ORGANIZATION, D.AGENT], CostFilter(), FULL),
        ([D.CONNECTION], CostFilter(), TEAMS),  # the tags' own table; TEAMS only serves the totals
    ],
)
def test_the_smallest_grain_that_keeps_every_grouped_and_filtered_dimension(
    dims: list[CostDimension], f: CostFilter, grain: Grain
) -> None:
    assert grain_for(dims, f) is grain


@pytest.mark.parametrize(
    ("dims", "filters"),
    [
        ([D.ORGANIZATION, D.TEAM], [CostFilter(), CostFilter(organization_ids=["o2"]), CostFilter(team_ids=["t1"])]),
        ([D.TEAM], [CostFilter(), CostFilter(team_ids=["t1", "t3"])]),
        ([D.AGENT, D.MODEL], [CostFilter(), CostFilter(model_ids=["gpt-x", "m3"]), CostFilter(agent_ids=["agent-b"])]),
        ([D.MODEL], [CostFilter(), CostFilter(agent_ids=["agent-a"])]),
        ([], [CostFilter()]),
        ([D.GUARDRAIL], [CostFilter(), CostFilter(guardrails=["pii"])]),
    ],
    ids=["org+team", "team", "agent+model", "model", "none", "guardrail"],
)
async def test_every_grain_that_keeps_the_dimensions_gives_the_same_answer(
    b: Budget, dims: list[CostDimension], filters: list[CostFilter]
) -> None:
    """The coarse grains are exact sums of the full grain: same rows, order, other, totals and daily series,
    with today raw or all from the rollups."""
    for f in filters:
        f = CostFilter(**{k: [b.ids.get(x, x) for x in v] if v else v for k, v in vars(f).items()})
        chosen = grain_for(dims, f)
        assert chosen is not FULL
        for now in (NOW, datetime(2027, 1, 1, tzinfo=UTC)):
            answers = [await breakdown(b, dims, now, g, filter=f, top=3, daily=True) for g in (chosen, FULL)]
            assert amounts(answers[0]) == amounts(answers[1])
            assert answers[0].totals.events > 0


async def test_sub_ranges_and_a_single_day(b: Budget) -> None:
    for a, z in ((DAYS[1], DAYS[3]), (LAST, LAST), (DAYS[0], DAYS[0])):
        found = await breakdown(b, [D.TEAM], from_day=a, to_day=z, top=100)
        events = await raw_events(b, a, z)
        assert as_dict(found) == brute(events, [D.TEAM])
        assert found.totals.credits == await ledger_usage(b, a, z) == sum(e.credits for e in events)
    empty = await breakdown(b, [D.TEAM], from_day=date(2025, 1, 1), to_day=date(2025, 1, 3), daily=True)
    assert empty.rows == [] and empty.other is None and empty.totals.events == 0
    assert empty.daily is not None and len(empty.daily) == 3 and all(d.amount.events == 0 for d in empty.daily)


@pytest.mark.parametrize("dim", [D.CONNECTION, D.GUARDRAIL])
async def test_connection_and_guardrail_groupings_are_not_additive(b: Budget, dim: CostDimension) -> None:
    events = await raw_events(b)
    found = await breakdown(b, [dim], top=100, daily=True)
    assert not found.additive
    assert as_dict(found) == brute(events, [dim])
    assert found.totals.events == len(events) and found.totals.credits == sum(e.credits for e in events)
    assert sum(r.amount.events for r in found.rows) != found.totals.events  # several tags, or none, per event
    assert found.daily is not None and sum(d.amount.credits for d in found.daily) == found.totals.credits
    tag = "c1" if dim is D.CONNECTION else "pii"
    only = CostFilter(connection_ids=[tag]) if dim is D.CONNECTION else CostFilter(guardrails=[tag])
    narrowed = await breakdown(b, [dim], filter=only)
    assert as_dict(narrowed) == {(tag,): brute(events, [dim])[(tag,)]}
    assert narrowed.totals == found.totals  # the totals stay the range's


async def test_filters_narrow_additive_groupings(b: Budget) -> None:
    events = await raw_events(b)
    orgs = [b.ids["o1"]]
    found = await breakdown(b, [D.TEAM], filter=CostFilter(organization_ids=orgs), top=100)
    kept = [e for e in events if e.organization_id in orgs]
    assert as_dict(found) == brute(kept, [D.TEAM]) and found.totals.events == len(kept)
    f = CostFilter(user_ids=[b.ids["u1"], b.ids["u4"]], model_ids=["gpt-x"], agent_ids=["agent-a", "agent-b"])
    found = await breakdown(b, [D.USER], filter=f, top=100)
    kept = [
        e
        for e in events
        if e.user_id in f.user_ids and e.model_id == "gpt-x" and e.agent_id in ("agent-a", "agent-b")  # type: ignore[operator]
    ]
    assert as_dict(found) == brute(kept, [D.USER]) and found.totals.credits == sum(e.credits for e in kept)
    teams = CostFilter(team_ids=[b.ids["t3"]])
    assert (await breakdown(b, [], filter=teams)).totals.events == len([e for e in events if e.team_id == b.ids["t3"]])


async def test_attribution_follows_the_placement_at_the_time(world: World) -> None:
    b = await tree(await new_budget(world), "1000")
    await b.spend("u1", "10", at=NOW - timedelta(days=2))
    await move_user(b, "u1", "t3", at=NOW - timedelta(days=1, hours=12))  # t3 is in o2
    await b.spend("u1", "5", at=NOW - timedelta(days=1))
    found = await breakdown(b, [D.ORGANIZATION, D.TEAM, D.USER], from_day=NOW.date() - timedelta(days=3))
    assert as_dict(found) == {
        (b.ids["o1"], b.ids["t1"], b.ids["u1"]): (1, Decimal("10.000000"), Decimal("0.01")),
        (b.ids["o2"], b.ids["t3"], b.ids["u1"]): (1, Decimal("5.000000"), Decimal("0.005")),
    }


@pytest.mark.parametrize(
    "kw",
    [
        {"group_by": [D.CONNECTION, D.TEAM]},
        {"group_by": [D.CONNECTION, D.GUARDRAIL]},
        {"group_by": [D.CONNECTION], "filter": CostFilter(team_ids=[uuid.uuid4()])},
        {"group_by": [D.GUARDRAIL], "filter": CostFilter(connection_ids=["c1"])},
        {"group_by": [D.TEAM], "filter": CostFilter(connection_ids=["c1"])},
        {"group_by": [D.TEAM], "filter": CostFilter(guardrails=["pii"])},
        {"group_by": [D.TEAM], "top": 0},
        {"group_by": [D.TEAM], "top": 101},
        {"group_by": [D.TEAM], "from_day": LAST + timedelta(days=1)},
        {"group_by": [D.TEAM], "from_day": LAST - timedelta(days=366)},
    ],
)
async def test_refusals(b: Budget, kw: dict[str, Any]) -> None:
    with pytest.raises(BadUserInput):
        await breakdown(b, kw.pop("group_by"), **kw)


# --- the API ------------------------------------------------------------------------------------

QUERY = """
query Costs($input: CostBreakdownInput!, $account: ID) {
  costBreakdown(input: $input, accountId: $account) {
    from to groupBy additive rawFrom
    rows { keys { dimension id value } credits costUsd events }
    other { credits costUsd events }
    totals { credits costUsd events }
    daily { day credits costUsd }
  }
}
"""


async def api_setup(world: World) -> tuple[Budget, date]:
    t = await world.tenant()
    budget = Budget(world, t, ids=dict(t.ids))
    now = datetime.now(UTC)
    await budget.plan("100", now=now)
    users = ("member", "admin")
    inputs = [
        UsageInput(
            f"k{i}",
            t.ids[users[i % 2]],
            Decimal("0.01") * (i + 1),
            now - timedelta(days=i % 3, minutes=1),
            agent_id="agent-a" if i % 2 else None,
            model_id="m1",
            connection_ids=("conn-1",) if i % 3 else (),
        )
        for i in range(9)
    ]
    async with budget.db.tenant(budget.tid) as s:
        await metering.record_usage(s, budget.tid, inputs, now)
    return budget, now.date()


async def test_api_breakdown_with_global_ids_daily_series_and_other(world: World) -> None:
    b, today = await api_setup(world)
    t = b.tenant
    variables = {
        "input": {
            "from": (today - timedelta(days=5)).isoformat(),
            "to": today.isoformat(),
            "groupBy": ["USER", "AGENT"],
            "top": 1,
            "daily": True,
        }
    }
    r = await world.gql(QUERY, variables, world.admin(t))
    assert r.errors == [], r.errors
    out = r.data["costBreakdown"]
    assert out["additive"] is True and out["rawFrom"] == today.isoformat() and len(out["daily"]) == 6
    (row,) = out["rows"]
    assert row["keys"][0]["dimension"] == "USER" and row["keys"][0]["id"] in (
        t.gid("User", "member"),
        t.gid("User", "admin"),
    )
    assert row["keys"][1]["dimension"] == "AGENT" and row["keys"][1]["id"] is None
    total = Decimal(row["credits"]) + Decimal(out["other"]["credits"])
    assert (
        total == Decimal(out["totals"]["credits"]) == Decimal("450") == sum(Decimal(d["credits"]) for d in out["daily"])
    )
    assert out["totals"]["events"] == 9
    variables["input"] |= {"groupBy": ["CONNECTION"], "filter": {"connectionIds": ["conn-1"]}}
    tags = (await world.gql(QUERY, variables, world.admin(t))).data["costBreakdown"]
    assert tags["additive"] is False and tags["rows"][0]["keys"] == [
        {"dimension": "CONNECTION", "id": None, "value": "conn-1"}
    ]
    assert tags["rows"][0]["events"] == 6


async def test_api_permissions_and_isolation(world: World) -> None:
    b, today = await api_setup(world)
    other, _ = await api_setup(world)
    variables: dict[str, Any] = {
        "input": {"from": (today - timedelta(days=5)).isoformat(), "to": today.isoformat(), "groupBy": ["TEAM"]}
    }
    r = await world.gql(QUERY, variables, world.member(b.tenant))
    assert r.codes == ["FORBIDDEN"]
    mine = (await world.gql(QUERY, variables, world.admin(b.tenant))).data["costBreakdown"]
    theirs = (await world.gql(QUERY, variables, world.admin(other.tenant))).data["costBreakdown"]

    def team_ids(found: dict[str, Any]) -> set[str]:
        return {k["id"] for row in found["rows"] for k in row["keys"]}

    assert team_ids(mine) == {b.tenant.gid("Team", "platform"), b.tenant.gid("Team", "global_team")}
    assert team_ids(theirs) == {other.tenant.gid("Team", "platform"), other.tenant.gid("Team", "global_team")}
    assert mine["totals"]["events"] == theirs["totals"]["events"] == 9  # each its own nine events
    foreign = await world.gql(QUERY, {**variables, "account": b.tenant.account_gid}, world.admin(other.tenant))
    assert foreign.errors == [] and foreign.data["costBreakdown"] is None
    bad_filter = {"input": {**variables["input"], "filter": {"teamIds": [b.tenant.gid("Team", "platform")]}}}
    r = await world.gql(QUERY, bad_filter, world.admin(other.tenant))
    assert r.codes == ["BAD_USER_INPUT"]
    refused = {"input": {**variables["input"], "groupBy": ["CONNECTION", "TEAM"]}}
    r = await world.gql(QUERY, refused, world.admin(b.tenant))
    assert r.codes == ["BAD_USER_INPUT"] and "CONNECTION" in r.errors[0]["message"]
    superadmin = await world.super_admin()
    r = await world.gql(QUERY, {**variables, "account": b.tenant.account_gid}, superadmin)
    assert r.errors == [] and r.data["costBreakdown"]["totals"] == mine["totals"]


async def test_the_ends_of_the_calendar_are_bad_input_not_internal(world: World) -> None:
    """9999-12-31 has no next day, where a breakdown's range ends (fuzzing-style edge)."""
    b, _today = await api_setup(world)
    last = {"input": {"from": "9999-12-01", "to": "9999-12-31", "groupBy": ["TEAM"]}}
    r = await world.gql(QUERY, last, world.admin(b.tenant))
    assert r.codes == ["BAD_USER_INPUT"] and "9999-12-31" in r.errors[0]["message"]
    almost = {"input": {"from": "9999-12-01", "to": "9999-12-30", "groupBy": ["TEAM"]}}
    r = await world.gql(QUERY, almost, world.admin(b.tenant))
    assert r.errors == [] and r.data["costBreakdown"]["totals"]["events"] == 0
