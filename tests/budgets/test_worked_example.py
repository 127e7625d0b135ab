"""domain.md §2's worked example, table-driven, through the real services and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cockpit_graphql.domain.budgets.allocation import CapSource
from cockpit_graphql.domain.budgets.scopes import ScopeLevel
from tests.support.budgets import Budget, new_budget
from tests.support.world import World


@pytest.fixture
async def example(world: World) -> Budget:
    b = await new_budget(world)
    await b.plan("10000")
    for key in ("o", "o2", "o3"):
        await b.org(key)
    await b.team("t", "o")
    await b.team("t2", "o")
    await b.team("t3", "o3")
    for user, team in (("u", "t"), ("v", "t"), ("w", "t2"), ("x", "t3")):
        await b.user(user, team)
    await b.cap("o", "4000")
    await b.default_cap("t", "500")
    await b.cap("v", "2000")
    for user, credits in (("u", "450"), ("v", "1900"), ("w", "1500"), ("x", "3000")):
        await b.spend(user, credits)
    return b


def rows(allocation) -> list[tuple[str, int | None, str, int, int | None]]:
    """The table's columns; amounts compared exactly (they are whole numbers here)."""

    def whole(d: Decimal | None) -> int | None:
        if d is None:
            return None
        assert d == d.to_integral_value(), d
        return int(d)

    return [
        (lvl.scope.level.value, whole(lvl.cap), lvl.source.value, whole(lvl.spent), whole(lvl.headroom))
        for lvl in allocation.levels
    ]


async def test_the_worked_example_table(example: Budget) -> None:
    u = await example.allocation("u")
    assert rows(u) == [
        ("ACCOUNT", 10_000, "PLAN", 6_850, 3_150),
        ("ORGANIZATION", 4_000, "OVERRIDE", 3_850, 150),
        ("TEAM", None, "NONE", 2_350, None),
        ("USER", 500, "DEFAULT", 450, 50),
    ]
    assert u.levels[3].source_scope == example.scope("t")
    assert (u.remaining, u.binding) == (Decimal(50), example.scope("u"))
    v = await example.allocation("v")
    assert v.levels[3].source is CapSource.OVERRIDE and v.levels[3].headroom == 100
    assert (v.remaining, v.binding) == (Decimal(100), example.scope("v"))


async def test_lowering_the_org_cap_moves_the_binding_scope(example: Budget) -> None:
    await example.cap("o", "3900")
    u = await example.allocation("u")
    assert (u.remaining, u.binding) == (Decimal(50), example.scope("u"))  # tie at 50: the most specific
    v = await example.allocation("v")
    assert (v.remaining, v.binding) == (Decimal(50), example.scope("o"))


async def test_authorization_holds_exactly_the_headroom(example: Budget) -> None:
    denied = await example.authorize("u", "50.000001")
    assert not denied.allowed and denied.reason.value == "CAP_EXCEEDED" and denied.binding == example.scope("u")
    held = await example.authorize("u", "50")
    assert held.allowed and held.reservation.credits == 50
    after = await example.allocation("u")
    assert after.remaining == 0 and after.levels[3].reserved == 50
    again = await example.authorize("u", "0.000001")
    assert not again.allowed


async def test_no_plan_authorizes_nothing(world: World) -> None:
    b = await new_budget(world)
    await b.org("o")
    await b.team("t", "o")
    await b.user("u", "t")
    result = await b.authorize("u", "1")
    assert not result.allowed and result.reason.value == "NO_PLAN"
    assert result.binding.level is ScopeLevel.ACCOUNT
