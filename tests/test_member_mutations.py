"""Every mutation of the schema, sent by a MEMBER of the account with the payload an account admin succeeds
with (tests/test_audit.py's cases, and the runtime's metering calls): only what the docs give members
(docs/connections.md, docs/marketplace.md: their personal connections, installing agents) may succeed;
every other one is refused (FORBIDDEN, or NOT_FOUND where the docs say an admin's object is invisible)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cockpit_graphql.schema import schema
from tests.support.budgets import give_budget_history
from tests.support.world import Tenant, World
from tests.test_audit import CASES

MEMBER_ALLOWED = {"createPersonalConnection", "installAgent", "uninstallAgent"}


@dataclass(frozen=True)
class Walk:
    input_type: str
    selection: str
    good: Callable[[World, Tenant], Awaitable[dict[str, Any]]]


async def _history(world: World, t: Tenant, payload: dict[str, Any]) -> dict[str, Any]:
    t.ids |= await give_budget_history(world, t)
    return {k: (v(t) if callable(v) else v) for k, v in payload.items()}


RUNTIME: dict[str, Walk] = {
    "authorizeUsage": Walk(
        "AuthorizeUsageInput",
        "authorization { allowed }",
        lambda w, t: _history(w, t, {"userId": lambda t: t.gid("User", "member"), "estimatedCredits": "1"}),
    ),
    "recordUsage": Walk(
        "UsageEventInput",
        "result { replayed }",
        lambda w, t: _history(
            w, t, {"idempotencyKey": "k1", "userId": lambda t: t.gid("User", "member"), "costUsd": "0.001"}
        ),
    ),
    "recordUsageBatch": Walk(
        "RecordUsageBatchInput",
        "results { replayed }",
        lambda w, t: _history(
            w,
            t,
            {"events": lambda t: [{"idempotencyKey": "k2", "userId": t.gid("User", "member"), "costUsd": "0.001"}]},
        ),
    ),
    "settleReservation": Walk(
        "SettleReservationInput",
        "result { replayed }",
        lambda w, t: _history(
            w,
            t,
            {
                "reservationId": lambda t: t.gid("Reservation", "reservation"),
                "usage": lambda t: {"idempotencyKey": "k3", "userId": t.gid("User", "member"), "costUsd": "0.001"},
            },
        ),
    ),
    "releaseReservation": Walk(
        "ReleaseReservationInput",
        "reservation { id }",
        lambda w, t: _history(w, t, {"reservationId": lambda t: t.gid("Reservation", "reservation")}),
    ),
}
WALKS: dict[str, Walk] = {name: Walk(c.input_type, c.selection, c.good) for name, c in CASES.items()} | RUNTIME
MUTATIONS = sorted(schema._schema.mutation_type.fields)  # type: ignore[union-attr]


def test_the_walk_covers_every_mutation() -> None:
    assert sorted(WALKS) == MUTATIONS


@pytest.mark.parametrize("name", MUTATIONS)
async def test_a_member_runs_only_what_the_docs_give_members(world: World, name: str) -> None:
    walk = WALKS[name]
    t = await world.tenant()
    await world.gql("{ viewer { role } }", token=world.admin(t))  # links both identities
    await world.gql("{ viewer { role } }", token=world.member(t))
    payload = await walk.good(world, t)
    query = f"mutation($i: {walk.input_type}!) {{ {name}(input: $i) {{ {walk.selection} userErrors {{ code }} }} }}"
    r = await world.gql(query, {"i": payload}, token=world.member(t))
    succeeded = not r.errors and not r.data[name]["userErrors"]
    if name not in MEMBER_ALLOWED:
        assert not succeeded, f"a member ran {name}: {r.body}"
        refused = set(r.codes) | {e["code"] for e in (r.data or {}).get(name, {}).get("userErrors", [])}
        assert refused & {"FORBIDDEN", "NOT_FOUND"}, r.body
