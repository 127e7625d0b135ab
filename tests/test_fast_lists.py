"""The plain-list fast path (cockpit_graphql/execution.py) answers exactly what graphql-core's own path answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import strawberry

from cockpit_graphql.execution import CockpitExecutionContext, ObjectPlan
from tests.support.world import World

DIRECTORY = """
query Directory($skip: Boolean!, $show: Boolean!) {
  viewer { account { organizations(first: 5) { totalCount nodes {
    __typename ...Org
    teams(first: 5) { nodes {
      id name alias: name
      users(first: 10) { nodes {
        __typename email role displayName externalId active lastSeenInIdpAt deactivatedAt createdAt
        again: email @skip(if: $skip)
        shown: role @include(if: $show)
        ... on User { email id }
        ...Person
      } }
    } }
  } } } }
}
fragment Org on Organization { id name isDefault }
fragment Person on User { displayName updatedAt }
"""

MIXED = """
{ viewer { account { organizations(first: 3) { nodes { teams(first: 3) { nodes {
  users(first: 5) { nodes { email homeTeam { name } organization { name } } }
} } } } } } }
"""

POLICY_LISTS = """
query Access($u: ID!) {
  effectiveAccess(userId: $u) {
    allowed reasons flags { flag enabled __typename } guardrails { enabled enforced } connectionMode { mode }
  }
}
"""


@pytest.fixture(autouse=True)
def _loaders_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """These directory queries are compiled otherwise (compiled_pages.py, tests/test_compiled_pages.py)."""
    monkeypatch.setattr(CockpitExecutionContext, "compiled_pages", False)


def _count_fast_lists(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-element list counting the lists the fast path completes from now on."""
    done = [0]
    complete_list = ObjectPlan.complete_list

    def counting(self: ObjectPlan, items: Any, info: Any) -> Any:
        result = complete_list(self, items, info)
        done[0] += result is not None
        return result

    monkeypatch.setattr(ObjectPlan, "complete_list", counting)
    return done


async def _both(
    world: World, monkeypatch: pytest.MonkeyPatch, query: str, variables: dict[str, Any], token: str
) -> tuple[Any, int]:
    """The body with the fast path, then without it; and how many lists the fast path completed."""
    done = _count_fast_lists(monkeypatch)
    fast = await world.gql(query, variables, token=token)
    monkeypatch.setattr(CockpitExecutionContext, "fast_lists", False)
    slow = await world.gql(query, variables, token=token)
    monkeypatch.setattr(CockpitExecutionContext, "fast_lists", True)
    assert fast.body == slow.body
    return fast.body, done[0]


@pytest.mark.parametrize(("skip", "show"), [(False, True), (True, False)])
async def test_fragments_aliases_directives_and_typename_match(
    world: World, monkeypatch: pytest.MonkeyPatch, skip: bool, show: bool
) -> None:
    t = await world.tenant()
    body, fast = await _both(world, monkeypatch, DIRECTORY, {"skip": skip, "show": show}, world.admin(t))
    assert "errors" not in body, body
    users = [
        u
        for o in body["data"]["viewer"]["account"]["organizations"]["nodes"]
        for team in o["teams"]["nodes"]
        for u in team["users"]["nodes"]
    ]
    assert users and all(u["__typename"] == "User" for u in users)
    assert ("again" in users[0]) is not skip and ("shown" in users[0]) is show
    assert fast > 0  # the user and organization lists took the fast path


async def test_a_selection_with_resolver_fields_takes_graphql_cores_path(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = await world.tenant()
    body, fast = await _both(world, monkeypatch, MIXED, {}, world.admin(t))
    assert "errors" not in body, body
    assert fast == 0  # homeTeam and organization have resolvers: no list here is plain leaves


async def test_policy_lists_match(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    t = await world.tenant()
    body, _ = await _both(world, monkeypatch, POLICY_LISTS, {"u": t.gid("User", "member")}, world.admin(t))
    assert "errors" not in body, body


# --- the cases real data does not produce: a small schema of its own ---------------------------------


@dataclass
class Owner:
    label: Any


@dataclass
class Item:
    name: Any
    size: Any = None
    owner: Any = None


@strawberry.type(description="An owner.")
class OwnerType:
    label: str = strawberry.field(description="Never null, says the schema.")


@strawberry.type(description="An item.")
class ItemType:
    name: str = strawberry.field(description="Never null, says the schema.")
    size: int | None = strawberry.field(default=None, description="May be null.")
    owner: OwnerType | None = strawberry.field(default=None, description="A plain nested object, may be null.")


ROWS: dict[str, list[Any]] = {}


@strawberry.type(description="Root.")
class Query:
    @strawberry.field(description="Items, non-null each.")
    def items(self, case: str) -> list[ItemType]:
        return ROWS[case]

    @strawberry.field(description="Items, each may be null.")
    def maybe_items(self, case: str) -> list[ItemType | None]:
        return ROWS[case]


SMALL = strawberry.Schema(query=Query, execution_context_class=CockpitExecutionContext)

ROWS.update(
    plain=[Item("a", 1, Owner("x")), Item("b", None)],
    null_in_nested_non_null=[Item("a", 1, Owner(None))],
    nested_without_attribute=[Item("a", 1, {"label": "x"})],
    null_in_non_null=[Item("a", 1), Item(None, 2)],
    null_item=[Item("a", 1), None],
    wrong_scalar=[Item("a", "not a number")],
    dict_source=[{"name": "a", "size": 1}],
)


@pytest.mark.parametrize("case", sorted(ROWS))
@pytest.mark.parametrize("field", ["items", "maybeItems"])
def test_errors_and_nulls_are_graphql_cores_own(case: str, field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    query = f'{{ {field}(case: "{case}") {{ name size __typename owner {{ label __typename }} }} }}'
    fast = SMALL.execute_sync(query)
    monkeypatch.setattr(CockpitExecutionContext, "fast_lists", False)
    slow = SMALL.execute_sync(query)
    assert fast.data == slow.data
    assert [(e.message, e.path) for e in fast.errors or []] == [(e.message, e.path) for e in slow.errors or []]
    if case == "plain":
        assert fast.errors is None and fast.data == {
            field: [
                {"name": "a", "size": 1, "__typename": "ItemType", "owner": {"label": "x", "__typename": "OwnerType"}},
                {"name": "b", "size": None, "__typename": "ItemType", "owner": None},
            ]
        }
    elif (case, field) == ("null_item", "maybeItems"):
        assert fast.errors is None and fast.data == {
            field: [{"name": "a", "size": 1, "__typename": "ItemType", "owner": None}, None]
        }
    else:
        assert fast.errors  # each anomaly is reported, by graphql-core's path


def test_plain_nested_objects_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    done = _count_fast_lists(monkeypatch)
    result = SMALL.execute_sync('{ items(case: "plain") { name owner { label } } }')
    assert result.errors is None and done[0] == 1
    result = SMALL.execute_sync('{ items(case: "nested_without_attribute") { name owner { label } } }')
    assert result.errors and done[0] == 1  # handed back to graphql-core, which reports the error


async def test_a_usage_batch_answer_matches(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """recordUsageBatch's results (a list of objects with a nested plain object) through both paths:
    the batch is recorded once, then replayed with the fast path and without it."""
    from tests.budgets.test_api import _setup

    t, admin = await _setup(world)
    events = [
        {"idempotencyKey": f"fast-{i}", "userId": t.gid("User", "member"), "costUsd": f"0.00{i + 1}"} for i in range(5)
    ]
    query = """mutation($i: RecordUsageBatchInput!) { recordUsageBatch(input: $i) { userErrors { code }
      results { replayed __typename event {
        idempotencyKey credits includedCredits overflowCredits occurredAt late } } } }"""
    first = await world.gql(query, {"i": {"events": events}}, token=admin)
    assert first.data["recordUsageBatch"]["userErrors"] == [] and len(first.data["recordUsageBatch"]["results"]) == 5
    body, fast = await _both(world, monkeypatch, query, {"i": {"events": events}}, admin)
    results = body["data"]["recordUsageBatch"]["results"]
    assert [r["replayed"] for r in results] == [True] * 5
    assert [r["event"] for r in results] == [r["event"] for r in first.data["recordUsageBatch"]["results"]]
    assert fast == 2  # the (empty) userErrors list and the results list, nested event objects included
