"""MAX_CONCURRENT_OPERATIONS: at most that many GraphQL operations execute at once per app (worker);
the others wait their turn, first come first served, and the wait is exported. 0: no limit."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cockpit_graphql.limits.gate import OperationGate
from cockpit_graphql.ops.metrics import OPERATION_WAIT
from cockpit_graphql.schema import CockpitSchema
from tests.ops.helpers import app_client, gql, own_settings
from tests.support.world import World


async def _crowd(gate: OperationGate, callers: int) -> tuple[int, list[int]]:
    """`callers` tasks take a turn each and hold it until all that can have entered did; returns the most
    that held a turn at once and the order in which they got it."""
    inside, most, order = 0, 0, []
    release = asyncio.Event()

    async def caller(i: int) -> None:
        nonlocal inside, most
        async with gate.turn():
            inside += 1
            most = max(most, inside)
            order.append(i)
            if len(order) >= (gate.limit or callers):  # as many as may hold a turn at once do
                release.set()
            await asyncio.wait_for(release.wait(), 5)
            inside -= 1

    await asyncio.gather(*(caller(i) for i in range(callers)))  # started in order: i asks before i + 1
    return most, order


@pytest.mark.parametrize("limit", [1, 2, 3])
async def test_at_most_limit_callers_hold_a_turn_and_they_get_it_in_order(limit: int) -> None:
    most, order = await _crowd(OperationGate(limit), 7)
    assert most == limit
    assert order == list(range(7))


async def test_zero_is_no_limit() -> None:
    most, _ = await _crowd(OperationGate(0), 7)
    assert most == 7


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="count"):
        OperationGate(-1)


async def test_the_app_executes_at_most_max_concurrent_operations_at_once(
    world: World, settings: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the whole app: 6 requests at once against a limit of 2 execute 2 at a time, every answer
    is complete and each request's wait is observed; with 0, all 6 execute at once. Each operation holds
    its turn until `crowd` operations execute together (no timing assumption: a gate that let fewer
    through would time out, one that let more through would exceed the count)."""
    t = await world.tenant()
    state = {"executing": 0, "most": 0, "crowd": 2}
    together = asyncio.Event()
    original = CockpitSchema.execute

    async def held_execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        state["executing"] += 1
        state["most"] = max(state["most"], state["executing"])
        if state["executing"] >= state["crowd"]:
            together.set()
        try:
            await asyncio.wait_for(together.wait(), 10)
            return await original(self, *args, **kwargs)
        finally:
            state["executing"] -= 1

    async def six_at_once(limit: int) -> None:
        async with app_client(own_settings(settings, max_concurrent_operations=limit), db) as (_app, client):
            token = world.admin(t)
            answers = await asyncio.gather(*(gql(client, "{ viewer { role } }", token=token) for _ in range(6)))
        assert [a.errors for a in answers] == [[]] * 6
        assert [a.data["viewer"]["role"] for a in answers] == ["ACCOUNT_ADMIN"] * 6

    monkeypatch.setattr(CockpitSchema, "execute", held_execute)
    observed = _wait_count()
    await six_at_once(2)
    assert state["most"] == 2
    assert _wait_count() - observed == 6

    state.update(most=0, crowd=6)
    together.clear()
    await six_at_once(0)
    assert state["most"] == 6


def _wait_count() -> float:
    return next(s.value for m in OPERATION_WAIT.collect() for s in m.samples if s.name.endswith("_count"))
