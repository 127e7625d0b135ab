"""Usage keeps the placement its user had when it happened, however late it is recorded (domain.md §1):
every change of a placement (a user or a team moved, a team or an organization deleted with
`moveMembersTo`) keeps the placement it ended (`ended_placements`), and recording places each event by
its `occurredAt`. The scenarios' tree: o1 (t1: u1, u2; t2: u3), o2 (t3: u4)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit_graphql.db.tables import EndedPlacement
from cockpit_graphql.domain.budgets.metering import UsageInput, UsageOutcome
from cockpit_graphql.domain.directory import service as directory
from tests.support.budget_scenarios import counters, move_user, only_cycle, record, tree, usage
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import OP, World

MOVE = NOW + timedelta(minutes=10)
RECORDED = MOVE + timedelta(minutes=5)  # every event below is recorded after the change


@pytest.fixture(params=["1000000", "100"], ids=["write-ahead", "locked"])
async def b(world: World, request: pytest.FixtureRequest) -> Budget:
    """A pool of 1,000,000 credits keeps a batch on the write-ahead path; one of 100 makes the 130-credit
    batches below cross the pool, which only the locked path splits: both paths place events alike."""
    return await tree(await new_budget(world), request.param)


def names(b: Budget, outcomes: list[UsageOutcome]) -> list[tuple[str, str]]:
    """(team, organization) of each recorded event, by the fixture's names."""
    by_id = {v: k for k, v in b.ids.items()}
    return [(by_id[o.event.team_id], by_id[o.event.organization_id]) for o in outcomes]


async def spent(b: Budget) -> dict[str, Decimal]:
    keys = {v: k for k, v in b.ids.items()} | {b.account.id: "account"}
    return {keys[s.id]: c.spent for s, c in (await counters(b)).items() if c.spent}


async def test_an_event_recorded_after_a_move_counts_where_its_user_was_when_it_happened(b: Budget) -> None:
    """u1 moves t1 → t3 at MOVE; then a batch arrives with a call from before the move (100 credits) and
    one from after it (30): t1/o1 keep the first, t3/o2 count the second, u1 both."""
    await move_user(b, "u1", "t3", at=MOVE)
    before = usage(b, "u1", "0.1", at=MOVE - timedelta(minutes=1))
    after = usage(b, "u1", "0.03", at=MOVE + timedelta(minutes=1))
    outcomes = await record(b, [before, after], now=RECORDED)
    assert names(b, outcomes) == [("t1", "o1"), ("t3", "o2")]
    assert await spent(b) == {"account": 130, "o1": 100, "t1": 100, "o2": 30, "t3": 30, "u1": 130}
    assert (await only_cycle(b)).clean


async def test_an_event_at_the_instant_of_a_move_counts_after_it(b: Budget) -> None:
    await move_user(b, "u1", "t3", at=MOVE)
    outcomes = await record(b, [usage(b, "u1", "0.1", at=MOVE), usage(b, "u1", "0.03", at=MOVE)], now=RECORDED)
    assert names(b, outcomes) == [("t3", "o2"), ("t3", "o2")]


async def test_each_event_finds_its_placement_among_several_moves(b: Budget) -> None:
    """t1 until MOVE, t2 until MOVE + 10 min, t3 since: three events of one batch, one in each, sent in
    an order that is not their order in time."""
    await move_user(b, "u1", "t2", at=MOVE)
    await move_user(b, "u1", "t3", at=MOVE + timedelta(minutes=10))
    outcomes = await record(
        b,
        [
            usage(b, "u1", "0.03", at=MOVE + timedelta(minutes=15)),
            usage(b, "u1", "0.09", at=MOVE - timedelta(minutes=5)),
            usage(b, "u1", "0.01", at=MOVE + timedelta(minutes=5)),
        ],
        now=MOVE + timedelta(minutes=20),
    )
    assert names(b, outcomes) == [("t3", "o2"), ("t1", "o1"), ("t2", "o1")]
    assert await spent(b) == {"account": 130, "o1": 100, "t1": 90, "t2": 10, "o2": 30, "t3": 30, "u1": 130}
    assert (await only_cycle(b)).clean


async def test_a_team_moved_to_another_organization_keeps_its_past_usage_in_the_first(b: Budget) -> None:
    async with b.db.tenant(b.tid) as s:
        await directory.move_team(s, b.tid, OP, b.ids["t1"], b.ids["o2"], now=MOVE)
    before = usage(b, "u1", "0.1", at=MOVE - timedelta(minutes=1))
    after = usage(b, "u2", "0.03", at=MOVE + timedelta(minutes=1))
    outcomes = await record(b, [before, after], now=RECORDED)
    assert names(b, outcomes) == [("t1", "o1"), ("t1", "o2")]
    assert await spent(b) == {"account": 130, "o1": 100, "t1": 130, "o2": 30, "u1": 100, "u2": 30}
    assert (await only_cycle(b)).clean


async def test_deleting_a_team_with_move_members_to_keeps_their_past_usage_in_it(b: Budget) -> None:
    """The deleted team stays on the usage its members had in it, like on the events recorded before
    the deletion (past usage keeps the placement it had, domain.md §1)."""
    async with b.db.tenant(b.tid) as s:
        await directory.delete_team(s, b.tid, OP, b.ids["t1"], b.ids["t3"], now=MOVE)
    before = usage(b, "u1", "0.1", at=MOVE - timedelta(minutes=1))
    after = usage(b, "u2", "0.03", at=MOVE + timedelta(minutes=1))
    outcomes = await record(b, [before, after], now=RECORDED)
    assert names(b, outcomes) == [("t1", "o1"), ("t3", "o2")]
    assert (await only_cycle(b)).clean


async def test_deleting_an_organization_with_move_members_to_keeps_their_past_usage_in_it(b: Budget) -> None:
    async with b.db.tenant(b.tid) as s:
        await directory.delete_organization(s, b.tid, OP, b.ids["o1"], b.ids["o2"], now=MOVE)
    before = usage(b, "u3", "0.1", at=MOVE - timedelta(minutes=1))
    after = usage(b, "u3", "0.03", at=MOVE + timedelta(minutes=1))
    outcomes = await record(b, [before, after], now=RECORDED)
    assert names(b, outcomes) == [("t2", "o1"), ("t2", "o2")]
    assert (await only_cycle(b)).clean


async def test_a_changed_placement_is_kept_once_per_user_and_goes_with_the_user(world: World) -> None:
    """A team move keeps one ended placement per member (one statement, whatever their number); two
    changes at one instant keep the first; deleting a user deletes theirs."""
    b = await tree(await new_budget(world), "1000")
    async with b.db.tenant(b.tid) as s:
        await directory.move_team(s, b.tid, OP, b.ids["t1"], b.ids["o2"], now=MOVE)
        await directory.move_user(s, b.tid, OP, b.ids["u1"], b.ids["t3"], now=MOVE)
    async with b.db.tenant(b.tid) as s:
        rows = (await s.execute(sa.select(EndedPlacement.user_id, EndedPlacement.organization_id))).all()
    assert sorted(rows) == sorted([(b.ids["u1"], b.ids["o1"]), (b.ids["u2"], b.ids["o1"])])
    async with b.db.tenant(b.tid) as s:
        await directory.delete_user(s, b.tid, OP, b.ids["u1"])
    async with b.db.tenant(b.tid) as s:
        left = (await s.scalars(sa.select(EndedPlacement.user_id))).all()
    assert left == [b.ids["u2"]]


async def test_a_late_event_of_a_closed_cycle_keeps_the_placement_it_happened_in(world: World) -> None:
    """January closes; u moved t → t2 on January 20th. Two January events recorded in February go to
    February's cycle flagged late, each placed where u was when it happened."""
    from tests.budgets.test_renewal import FEB, JAN, RENEW_FEB, budget, renew

    b = await budget(world)
    await b.team("t2", "o")
    move = datetime(2026, 1, 20, tzinfo=UTC)
    await move_user(b, "u", "t2", at=move)
    await renew(b)
    outcomes = await record(
        b,
        [usage(b, "u", "0.1", at=move - timedelta(days=2)), usage(b, "u", "0.05", at=move + timedelta(days=2))],
        now=RENEW_FEB + timedelta(minutes=1),
    )
    assert [(o.event.late, o.event.cycle_id == outcomes[0].event.cycle_id) for o in outcomes] == [(True, True)] * 2
    assert names(b, outcomes) == [("t", "o"), ("t2", "o")]
    found = await counters(b, at=FEB)
    assert (found[b.scope("t")].spent, found[b.scope("t2")].spent) == (100, 50)
    assert JAN < move < FEB


async def test_through_the_api_a_call_reported_after_move_user_keeps_the_team_it_ran_in(world: World) -> None:
    """The runtime reports a call that ran two minutes ago, after an admin moved its user: the event
    names the team the call ran in, and the next call the new one."""
    from tests.budgets.test_api import PLAN, RECORD

    t = await world.tenant()
    admin = world.admin(t)
    r = await world.gql(PLAN, {"i": {"creditsPerCycle": "1000", "renewalDay": 1}}, token=admin)
    assert r.data["setBudgetPlan"]["userErrors"] == [], r.body
    ran_at = datetime.now(UTC) - timedelta(minutes=2)
    move = """mutation($i: MoveUserInput!) { moveUser(input: $i) { user { id } userErrors { code } } }"""
    moved = await world.gql(
        move, {"i": {"id": t.gid("User", "member"), "teamId": t.gid("Team", "global_team")}}, token=admin
    )
    assert moved.data["moveUser"]["userErrors"] == [], moved.body
    teams = []
    for key, at in (("ran-before", ran_at), ("ran-after", datetime.now(UTC))):
        usage = {
            "idempotencyKey": key,
            "userId": t.gid("User", "member"),
            "costUsd": "0.01",
            "occurredAt": at.isoformat(),
        }
        r = await world.gql(RECORD, {"i": usage}, token=admin)
        event = r.data["recordUsage"]["result"]["event"]
        teams.append((event["teamId"], event["organizationId"]))
    assert teams == [
        (t.gid("Team", "platform"), t.gid("Organization", "eng")),
        (t.gid("Team", "global_team"), t.gid("Organization", "global_org")),
    ]


@settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32), changes=st.integers(0, 8), size=st.integers(1, 40))
async def test_every_event_is_placed_where_replaying_the_changes_puts_its_user(
    world: World, seed: int, changes: int, size: int
) -> None:
    """Random user and team moves at random minutes, then one batch of events at random minutes (some
    at the very minute of a change, some before them all) recorded after them all: each event names
    the team and organization a replay of the changes gives for its minute, and the running totals
    reconcile with the events. A pool of 1,000 credits sends some batches down the locked path."""
    b = await tree(await new_budget(world), "1000")
    rng = random.Random(seed)
    start = NOW - timedelta(hours=2)
    team_of = {"u1": "t1", "u2": "t1", "u3": "t2", "u4": "t3"}
    org_of = {"t1": "o1", "t2": "o1", "t3": "o2"}
    states = [(start - timedelta(days=1), dict(team_of), dict(org_of))]  # (from, users' teams, teams' orgs)
    for minute in sorted(rng.sample(range(1, 120), changes)):
        at = start + timedelta(minutes=minute)
        async with b.db.tenant(b.tid) as s:
            if rng.random() < 0.7:
                user = rng.choice(sorted(team_of))
                team_of[user] = rng.choice([t for t in sorted(org_of) if t != team_of[user]])
                await directory.move_user(s, b.tid, OP, b.ids[user], b.ids[team_of[user]], now=at)
            else:
                team = rng.choice(sorted(org_of))
                org_of[team] = "o2" if org_of[team] == "o1" else "o1"
                await directory.move_team(s, b.tid, OP, b.ids[team], b.ids[org_of[team]], now=at)
        states.append((at, dict(team_of), dict(org_of)))
    minutes = [rng.randrange(-30, 125) for _ in range(size)]
    users = [rng.choice(sorted(team_of)) for _ in range(size)]
    batch = [
        UsageInput(f"k{i}", b.ids[u], Decimal(rng.randint(1, 90)) / 1000, start + timedelta(minutes=m))
        for i, (u, m) in enumerate(zip(users, minutes, strict=True))
    ]
    outcomes = await record(b, batch, now=start + timedelta(minutes=130))

    def replayed(user: str, at: datetime) -> tuple[str, str]:
        _, teams, orgs = [state for state in states if state[0] <= at][-1]  # a change at `at` applies
        return teams[user], orgs[teams[user]]

    expected = [replayed(u, e.occurred_at) for u, e in zip(users, batch, strict=True)]
    assert names(b, outcomes) == expected
    assert (await only_cycle(b)).clean
