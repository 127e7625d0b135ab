"""Found by fuzzing: instants that are valid datetimes but no valid UTC ones, and a naive instant beside an
aware one, came back as INTERNAL from the audit filter and from usage recording."""

from __future__ import annotations

import pytest

from tests.support.world import World

TOO_EARLY = "0001-01-01T00:00:00+14:00"  # 31 Dec of year 0 in UTC
TOO_LATE = "9999-12-31T23:59:59-14:00"  # year 10000 in UTC


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (f'from: "{TOO_EARLY}"', "`filter.from` is out of range."),
        (f'to: "{TOO_LATE}"', "`filter.to` is out of range."),
    ],
)
async def test_audit_filter_instants_out_of_utc_range_are_bad_user_input(
    world: World, where: str, message: str
) -> None:
    t = await world.tenant()
    r = await world.gql(f"{{ auditEvents(filter: {{{where}}}) {{ totalCount }} }}", token=world.admin(t))
    assert r.codes == ["BAD_USER_INPUT"] and r.errors[0]["message"] == message, r.body


async def test_audit_filter_reads_an_instant_without_zone_as_utc(world: World) -> None:
    t = await world.tenant()
    document = "query($from: DateTime, $to: DateTime) { auditEvents(filter: {from: $from, to: $to}) { totalCount } }"
    mixed = {"from": "2000-01-01T00:00:00", "to": "2999-01-01T00:00:00+00:00"}
    r = await world.gql(document, mixed, token=world.admin(t))
    assert r.errors == [] and r.data["auditEvents"]["totalCount"] >= 1  # the tenant's creation events
    before, after = "2000-01-02T03:00:00", "2000-01-02T05:00:00"  # no zone: UTC
    until = "2000-01-01T23:00:00-05:00"  # 2000-01-02T04:00Z
    assert (await world.gql(document, {"from": before, "to": until}, token=world.admin(t))).errors == []
    r = await world.gql(document, {"from": after, "to": until}, token=world.admin(t))
    assert r.codes == ["BAD_USER_INPUT"] and "must not be after" in r.errors[0]["message"]


EARLIEST_MESSAGE = "`occurredAt` must be 1970-01-01T00:00:00Z or later."


@pytest.mark.parametrize("mutation", ["recordUsage", "recordUsageBatch"])
@pytest.mark.parametrize(
    "occurred_at",
    [
        TOO_EARLY,
        "0001-01-02T00:00:00Z",  # a valid UTC instant whose cycle (renewal day 15) would start in year 0: was INTERNAL
        "1969-12-31T23:59:59Z",
    ],
)
async def test_usage_at_an_instant_before_1970_is_a_user_error(world: World, mutation: str, occurred_at: str) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    r = await world.gql(
        'mutation { setBudgetPlan(input: {creditsPerCycle: "100", renewalDay: 15}) { userErrors { code } } }',
        token=admin,
    )
    assert r.data["setBudgetPlan"]["userErrors"] == []
    user = t.gid("User", "member")
    event = f'{{idempotencyKey: "e1", userId: "{user}", costUsd: "1", occurredAt: "{occurred_at}"}}'
    argument = f"{{events: [{event}]}}" if mutation == "recordUsageBatch" else event
    r = await world.gql(
        f"mutation {{ {mutation}(input: {argument}) {{ userErrors {{ code message }} }} }}", token=admin
    )
    assert r.errors == [], r.body
    assert r.data[mutation]["userErrors"] == [{"code": "INVALID", "message": EARLIEST_MESSAGE}]

    earliest = f'{{idempotencyKey: "e2", userId: "{user}", costUsd: "1", occurredAt: "1970-01-01T00:00:00Z"}}'
    r = await world.gql(
        f"mutation {{ recordUsage(input: {earliest}) {{ result {{ event {{ late }} }} userErrors {{ code }} }} }}",
        token=admin,
    )
    assert r.errors == [] and r.data["recordUsage"]["userErrors"] == [], r.body
    assert r.data["recordUsage"]["result"]["event"]["late"] is True  # long before the first plan: the open cycle
