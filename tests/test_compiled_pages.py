"""Compiled directory pages (cockpit_graphql/compiled_pages.py) answer exactly what the loaders' path answers.

Every query runs twice, compiled and not (`CockpitExecutionContext.compiled_pages`), and the two
bodies must be equal byte for byte (key order included), errors too; a counter on `run_page` says
whether the compiler took it. The tenant's names and emails carry what JSON must escape (quotes,
backslashes, non-ASCII, an emoji), a user without external id, one deactivated.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from cockpit_graphql import compiled_pages
from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.directory.page_tree import isoformat_utc
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.execution import CockpitExecutionContext
from cockpit_graphql.types.ids import encode_id
from tests.support.world import Tenant, World

OP = Operation(SYSTEM_ACTOR, "test-setup")
ODD = 'Qu"ote \\ back/slash Ünïcode ✓ 😀'  # the services fold tabs and newlines to spaces

USER_FIELDS = "__typename id email displayName role externalId active createdAt updatedAt lastSeenInIdpAt deactivatedAt"

EVERYTHING = f"""
query Everything($first: Int, $skip: Boolean!) {{
  viewer {{ account {{
    __typename id name status createdAt updatedAt
    organizations(first: $first) {{
      __typename totalCount
      pageInfo {{ hasNextPage hasPreviousPage __typename }}
      nodes {{
        __typename id name isDefault createdAt
        teams(first: 10) {{
          totalCount pageInfo {{ hasNextPage endCursor }} edges {{ __typename cursor node {{ id }} }}
          nodes {{
          id name isDefault updatedAt
          users(first: 10) {{ totalCount nodes {{ {USER_FIELDS} }} }}
        }} }}
      }}
    }}
    teams(first: 3) {{ totalCount nodes {{ name again: name }} pageInfo {{ startCursor endCursor }} }}
    users(first: 50) {{ totalCount nodes {{ ...Person email @skip(if: $skip) }} }}
  }} }}
}}
fragment Person on User {{ {USER_FIELDS} }}
"""


@pytest.fixture
def compiled_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A one-element list counting the pages the compiler answered."""
    runs = [0]
    run_page = compiled_pages.run_page

    async def counting(context: Any, page: Any) -> Any:
        value = await run_page(context, page)
        runs[0] += value is not None
        return value

    monkeypatch.setattr("cockpit_graphql.execution.run_page", counting)
    return runs


async def _both(
    world: World, monkeypatch: pytest.MonkeyPatch, query: str, variables: dict[str, Any], token: str
) -> tuple[dict[str, Any], int, int]:
    """The body compiled, then through the loaders (they must be equal); and both statement counts."""
    compiled = await world.gql(query, variables, token=token)
    monkeypatch.setattr(CockpitExecutionContext, "compiled_pages", False)
    plain = await world.gql(query, variables, token=token)
    monkeypatch.setattr(CockpitExecutionContext, "compiled_pages", True)
    assert compiled.status == plain.status == 200
    # byte for byte: the same values and the same key order (GraphQL answers in selection order)
    assert orjson.dumps(_without_request_ids(compiled.body)) == orjson.dumps(_without_request_ids(plain.body))
    return compiled.body, compiled.statements, plain.statements


def _without_request_ids(body: dict[str, Any]) -> dict[str, Any]:
    errors = [
        {**e, "extensions": {k: v for k, v in e["extensions"].items() if k != "requestId"}}
        for e in body.get("errors", [])
    ]
    return {**body, "errors": errors} if errors else body


async def _odd_tenant(world: World) -> Tenant:
    t = await world.tenant()
    tenant = mint_for_system(t.account_id)
    async with world.db.tenant(tenant) as session:
        org = await directory.create_organization(session, tenant, OP, ODD)
        names = ["b-team", "A-team", "c \\ team", ODD]
        teams = [await directory.create_team(session, tenant, OP, org.id, name) for name in names]
        for i in range(12):
            await directory.create_user(
                session,
                tenant,
                OP,
                email=f"user{i:02d}@{t.domain}",
                display_name=f"{ODD} {i}" if i % 2 else f"Person {i}",
                role=Role.ACCOUNT_ADMIN if i == 3 else None,
                home_team_id=teams[i % len(teams)].id,
                external_id=f"ext-{i}" if i % 3 else None,
            )
        odd = await directory.create_user(
            session, tenant, OP, email=f"zz@{t.domain}", display_name="Gone", home_team_id=teams[0].id
        )
        await directory.set_user_active(session, tenant, OP, odd.id, False)
        t.ids |= {"odd_org": org.id, "b_team": teams[0].id}
    return t


async def test_a_whole_directory_page_is_compiled_and_equal(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    t = await _odd_tenant(world)
    await world.gql("{ viewer { role } }", token=world.admin(t))  # the first request links the identity
    for first, skip in ((10, False), (1, True), (0, False), (None, False)):
        body, statements, plain_statements = await _both(
            world, monkeypatch, EVERYTHING, {"first": first, "skip": skip}, world.admin(t)
        )
        assert "errors" not in body, body
        assert statements == 4 < plain_statements  # auth, the account, set_config + the page
    assert compiled_runs[0] == 4
    account = body["data"]["viewer"]["account"]
    assert account["id"] == encode_id("Account", t.account_id, t.account_id)
    odd = next(o for o in account["organizations"]["nodes"] if o["name"] == ODD)
    assert odd["id"] == encode_id("Organization", t.account_id, t.ids["odd_org"])
    assert [team["name"] for team in odd["teams"]["nodes"]] == sorted(["b-team", "A-team", "c \\ team", ODD])
    users = account["users"]["nodes"]
    assert {u["active"] for u in users} == {True, False}
    assert {u["externalId"] is None for u in users} == {True, False}
    assert any(u["displayName"].startswith(ODD) for u in users)


@pytest.mark.parametrize(
    ("arguments", "users_arguments"),
    [
        ("orderBy: {field: CREATED_AT, direction: DESC}", "orderBy: {field: NAME, direction: DESC}"),
        ('filter: {nameContains: "ÜNÏ"}', 'filter: {search: "person"}'),
        ("filter: {isDefault: true}", "filter: {role: ACCOUNT_ADMIN}"),
        ("filter: {isDefault: false}", "filter: {hasExternalId: false}, first: 2"),
        ('filter: {nameContains: "%"}', 'filter: {search: "_"}'),
    ],
)
async def test_filters_and_orders_are_the_resolvers(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int], arguments: str, users_arguments: str
) -> None:
    t = await _odd_tenant(world)
    query = f"""{{ viewer {{ account {{
      organizations({arguments}) {{ totalCount pageInfo {{ hasNextPage }} nodes {{ name
        teams({arguments}) {{ totalCount nodes {{ name users({users_arguments}) {{ totalCount nodes {{ email }} }} }} }}
      }} }}
      users({users_arguments}) {{ totalCount pageInfo {{ hasNextPage }} nodes {{ email role }} }}
    }} }} }}"""
    body, _, _ = await _both(world, monkeypatch, query, {}, world.admin(t))
    assert "errors" not in body, body
    assert compiled_runs[0] == 1


async def test_after_a_cursor_pages_on_as_the_loaders_do(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    t = await _odd_tenant(world)
    admin = world.admin(t)
    seen: list[str] = []
    for order in ("{field: NAME, direction: ASC}", "{field: CREATED_AT, direction: DESC}"):
        seen.clear()
        after: str | None = None
        pages = 0
        while True:  # each page compiled and not, equal; the next page after the compiled end cursor
            query = f"""query($after: String) {{ viewer {{ account {{
              users(first: 4, after: $after, orderBy: {order}) {{
                totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
                edges {{ cursor node {{ email }} }} }} }} }} }}"""
            body, _, _ = await _both(world, monkeypatch, query, {"after": after}, admin)
            users = body["data"]["viewer"]["account"]["users"]
            seen += [e["node"]["email"] for e in users["edges"]]
            assert users["pageInfo"]["endCursor"] == users["edges"][-1]["cursor"]
            assert users["pageInfo"]["hasPreviousPage"] is (after is not None)
            pages += 1
            if not users["pageInfo"]["hasNextPage"]:
                break
            after = users["pageInfo"]["endCursor"]
        assert pages == 4
        assert len(seen) == len(set(seen)) == 15  # 12, the deactivated one, the admin and the member
    assert compiled_runs[0] == 8


async def test_entry_points_other_than_the_account(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    t = await _odd_tenant(world)
    query = """query($org: ID!, $team: ID!) {
      org: node(id: $org) { ... on Organization { name teams { totalCount nodes { name users { nodes { email } } } } } }
      team: node(id: $team) { ... on Team { id users(first: 2) { pageInfo { hasNextPage } nodes { email active } } } }
    }"""
    variables = {"org": t.gid("Organization", "odd_org"), "team": t.gid("Team", "b_team")}
    body, _, _ = await _both(world, monkeypatch, query, variables, world.admin(t))
    assert "errors" not in body, body
    assert body["data"]["org"]["teams"]["totalCount"] == 4
    assert compiled_runs[0] == 2


@pytest.mark.parametrize(
    "query",
    [
        # fields with resolvers, backwards pages, refused arguments: the loaders' path
        "{ viewer { account { organizations { nodes { name account { name } } } } } }",
        "{ viewer { account { organizations { nodes { name budgetSettings { cap } } } } } }",
        "{ viewer { account { users(last: 2) { nodes { email } } } } }",
        "{ viewer { account { name } } }",  # no list: nothing to compile
        '{ viewer { account { users(after: "not a cursor") { nodes { email } } } } }',
        "{ viewer { account { users(first: 1000) { nodes { email } } } } }",
    ],
)
async def test_what_the_compiler_leaves_alone_is_answered_as_before(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int], query: str
) -> None:
    t = await _odd_tenant(world)
    await _both(world, monkeypatch, query, {}, world.admin(t))
    assert compiled_runs[0] == 0


def _forged(sort_value: Any) -> str:
    """A cursor of the API's own encoding around a sort value the list cannot compare."""
    raw = json.dumps([sort_value, str(uuid.uuid4())]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "sort_value"),
    [
        ("{ viewer { account { users(after: $c) { nodes { email } } } } }", 123),
        ("{ viewer { account { organizations(after: $c) { nodes { name } } } } }", "a\x00"),
        ("{ viewer { account { teams(after: $c) { edges { cursor } } } } }", 10**30),
        (
            "{ viewer { account { users(after: $c, orderBy: {field: CREATED_AT}) { nodes { id } } } } }",
            "not an instant",
        ),
        ("{ viewer { account { organizations { nodes { teams(after: $c) { nodes { name } } } } } } }", {"a": 1}),
    ],
)
async def test_a_forged_cursor_is_refused_as_the_loaders_refuse_it(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int], query: str, sort_value: Any
) -> None:
    """Valid base64 JSON around a sort value of the wrong type: the compiler leaves it to the resolver, whose
    answer is BAD_USER_INPUT (it was INTERNAL on both paths, from the SQL comparing text with a number)."""
    t = await _odd_tenant(world)
    cursor = _forged(sort_value)
    body, _, _ = await _both(world, monkeypatch, "query($c: String) " + query, {"c": cursor}, world.admin(t))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["message"] == f"Invalid cursor {cursor!r}."
    assert compiled_runs[0] == 0


async def test_list_items_are_never_compiled_one_by_one(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    """An account the compiler leaves alone (a field with a resolver) keeps its lists batched by the
    loaders: its organizations are not compiled one statement each."""
    t = await _odd_tenant(world)
    await world.gql("{ viewer { role } }", token=world.admin(t))
    query = """{ viewer { account { budgetSettings { defaultUserCap }
      organizations { nodes { name teams { totalCount nodes { name users { nodes { email } } } } } } } } }"""
    body, statements, plain_statements = await _both(world, monkeypatch, query, {}, world.admin(t))
    assert "errors" not in body, body
    assert compiled_runs[0] == 0
    assert statements == plain_statements


async def test_a_member_gets_the_same_forbidden_answer(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    t = await _odd_tenant(world)
    query = "{ viewer { account { name organizations { totalCount nodes { name } } users { nodes { email } } } } }"
    body, _, _ = await _both(world, monkeypatch, query, {}, world.member(t))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert compiled_runs[0] == 0
    allowed = "{ viewer { account { organizations { totalCount nodes { name teams { nodes { name } } } } } } }"
    body, _, _ = await _both(world, monkeypatch, allowed, {}, world.member(t))
    assert "errors" not in body, body
    assert compiled_runs[0] == 1  # a member may read the structure


async def test_a_super_admin_reads_a_named_account_compiled(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    t = await _odd_tenant(world)
    operator = await world.super_admin()
    query = """query($id: ID!) { account(id: $id) { name organizations { totalCount nodes { name
      teams { nodes { name users { totalCount nodes { email role } } } } } } } }"""
    body, _, _ = await _both(world, monkeypatch, query, {"id": t.account_gid}, operator)
    assert "errors" not in body, body
    assert body["data"]["account"]["organizations"]["totalCount"] == 3
    assert compiled_runs[0] == 1


async def test_another_account_is_never_read(
    world: World, monkeypatch: pytest.MonkeyPatch, compiled_runs: list[int]
) -> None:
    mine, other = await world.tenant(), await _odd_tenant(world)
    query = "query($id: ID!) { node(id: $id) { ... on Organization { teams { nodes { name } } } } }"
    body, _, _ = await _both(world, monkeypatch, query, {"id": other.gid("Organization", "odd_org")}, world.admin(mine))
    assert body["data"]["node"] is None
    assert compiled_runs[0] == 0


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 11, 27, 17, 3, 4, 123456, tzinfo=UTC),
        datetime(2026, 11, 27, 17, 3, 4, tzinfo=UTC),  # no microseconds: isoformat writes no fraction
        datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC),  # leading zeros in the fraction
        datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7))),  # another day in UTC
        datetime(999, 12, 31, 0, 0, 0, 1, tzinfo=UTC),
    ],
)
async def test_timestamps_are_written_as_isoformat_writes_them(world: World, instant: datetime) -> None:
    async with world.db.platform() as session:
        written = await session.scalar(sa.select(isoformat_utc(sa.literal(instant, sa.DateTime(timezone=True)))))
    assert written == instant.astimezone(UTC).isoformat()


def test_enums_rendered_from_columns_are_named_by_their_values() -> None:
    """The compiler renders role and status as their column text: GraphQL names them by member name."""
    from cockpit_graphql.domain.accounts.service import AccountStatus

    for enum in (Role, AccountStatus):
        assert all(member.name == member.value for member in enum)
