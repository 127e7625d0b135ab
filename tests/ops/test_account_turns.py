"""At most `limit` metering calls per account at a time in a worker (limits/account_turns.py): an
account's calls take turns in arrival order, other accounts' calls do not wait for them, the registry
forgets an account once nobody holds or waits for a turn, and the limit follows the worker count."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cockpit_graphql.limits.account_turns import AccountTurns
from cockpit_graphql.settings import Settings
from tests.support.world import World


@pytest.mark.parametrize("limit", [1, 2])
async def test_one_accounts_calls_take_turns_in_order_and_others_pass(limit: int) -> None:
    turns = AccountTurns()
    a, b = uuid.uuid4(), uuid.uuid4()
    inside: dict[uuid.UUID, int] = {a: 0, b: 0}
    most: dict[uuid.UUID, int] = {a: 0, b: 0}
    order: list[tuple[uuid.UUID, int]] = []
    both_inside = asyncio.Event()

    async def call(account: uuid.UUID, i: int) -> None:
        async with turns.turn(account, limit):
            inside[account] += 1
            most[account] = max(most[account], inside[account])
            order.append((account, i))
            if inside[a] and inside[b]:
                both_inside.set()
            await asyncio.sleep(0.01)
            inside[account] -= 1

    await asyncio.gather(*(call(a, i) for i in range(5)), *(call(b, i) for i in range(3)))
    assert most == {a: limit, b: limit}  # `limit` at a time per account
    assert both_inside.is_set()  # but the two accounts' calls ran side by side
    assert [i for account, i in order if account == a] == list(range(5))  # first come, first served
    assert turns.in_flight() == 0


async def test_no_limit_lets_every_call_in_at_once() -> None:
    turns = AccountTurns()
    account, inside, most = uuid.uuid4(), 0, 0

    async def call() -> None:
        nonlocal inside, most
        async with turns.turn(account, 0):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(call() for _ in range(5)))
    assert most == 5
    assert turns.in_flight() == 0


async def test_a_failing_call_gives_its_turn_back() -> None:
    turns = AccountTurns()
    account = uuid.uuid4()

    async def failing() -> None:
        async with turns.turn(account, 1):
            raise RuntimeError("boom")

    first = asyncio.ensure_future(failing())
    await asyncio.sleep(0)  # it takes the turn first
    async with turns.turn(account, 1):  # waits for the failing call, then gets the turn
        assert turns.in_flight() == 1
    assert first.done() and isinstance(first.exception(), RuntimeError)
    assert turns.in_flight() == 0


@pytest.mark.parametrize(
    ("workers", "explicit", "turns"), [(1, None, 0), (2, None, 1), (4, None, 1), (1, 2, 2), (2, 0, 0)]
)
def test_the_limit_is_one_turn_per_account_when_several_workers_serve(
    workers: int, explicit: int | None, turns: int
) -> None:
    settings = Settings(server_workers=workers, metering_turns_per_account=explicit)
    assert settings.metering_turns() == turns


async def test_a_turn_says_how_long_it_waited() -> None:
    turns = AccountTurns()
    account = uuid.uuid4()
    waits: list[float] = []

    async def call() -> None:
        async with turns.turn(account, 1) as waited:
            waits.append(waited)
            await asyncio.sleep(0.05)

    await asyncio.gather(call(), call())
    assert waits[0] < 0.04 <= waits[1]  # the second waited for the first's 50 ms


async def test_the_metering_mutations_take_their_accounts_turn_and_others_do_not(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the API, with a limit of 1: authorize, record (one and a batch), settle and release wait
    for their account's turn; a budget setting does not."""
    from cockpit_graphql.resolvers import mutation
    from tests.budgets.test_api import AUTHORIZE, CAP, PLAN, RECORD

    taken: list[tuple[uuid.UUID, int]] = []

    class Recording(AccountTurns):
        def turn(self, account_id: uuid.UUID, limit: int):  # type: ignore[no-untyped-def, override]
            if limit:
                taken.append((account_id, limit))
            return super().turn(account_id, limit)

    monkeypatch.setattr(mutation, "METERING_TURNS", Recording())
    monkeypatch.setattr(Settings, "metering_turns", lambda self: 1)
    t = await world.tenant()
    admin = world.admin(t)
    member = t.gid("User", "member")
    assert (await world.gql(PLAN, {"i": {"creditsPerCycle": "1000", "renewalDay": 1}}, token=admin)).errors == []
    assert (await world.gql(CAP, {"i": {"scopeId": member, "credits": "100"}}, token=admin)).errors == []
    assert taken == []  # settings are not metering
    held = []
    for _ in range(2):
        r = await world.gql(AUTHORIZE, {"i": {"userId": member, "estimatedCredits": "1"}}, token=admin)
        held.append(r.data["authorizeUsage"]["authorization"]["reservation"]["id"])
    usage = {"idempotencyKey": "one", "userId": member, "costUsd": "0.001"}
    assert (await world.gql(RECORD, {"i": usage}, token=admin)).errors == []
    batch = """mutation($i: RecordUsageBatchInput!) { recordUsageBatch(input: $i) { userErrors { code } } }"""
    r = await world.gql(batch, {"i": {"events": [{**usage, "idempotencyKey": "two"}]}}, token=admin)
    assert r.data["recordUsageBatch"]["userErrors"] == []
    settle = """mutation($i: SettleReservationInput!) { settleReservation(input: $i) { userErrors { code } } }"""
    r = await world.gql(
        settle, {"i": {"reservationId": held[0], "usage": {**usage, "idempotencyKey": "3"}}}, token=admin
    )
    assert r.data["settleReservation"]["userErrors"] == []
    release = """mutation($i: ReleaseReservationInput!) { releaseReservation(input: $i) { userErrors { code } } }"""
    r = await world.gql(release, {"i": {"reservationId": held[1]}}, token=admin)
    assert r.data["releaseReservation"]["userErrors"] == []
    assert taken == [(t.account_id, 1)] * 6  # 2 authorizations, 2 records, 1 settle, 1 release
