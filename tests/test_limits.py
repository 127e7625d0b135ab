"""Abusive requests are refused with a clean, typed error before anything executes."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from graphql import parse

from cockpit_graphql.app import create_app
from cockpit_graphql.domain.directory import repository
from cockpit_graphql.limits import cost
from cockpit_graphql.schema import schema
from tests.support.world import World


@pytest.fixture(scope="module")
async def admin(world: World) -> str:
    return world.admin(await world.tenant())


async def test_cost_is_reported(world: World, admin: str) -> None:
    r = await world.gql(
        "{ viewer { account { organizations(first: 10) { nodes { teams(first: 5) { nodes { name } } } } } } }",
        token=admin,
    )
    assert r.errors == []
    # viewer(1) + account(1) + organizations(1 + 10 * (nodes(1) + teams(1 + 5 * (nodes 1 + name 1)))))
    assert r.body["extensions"]["cost"] == {"requested": 1 + 1 + 1 + 10 * (1 + 1 + 5 * 2), "limit": 50000}


async def test_cost_counts_variables_and_refuses_expensive_queries(world: World, admin: str) -> None:
    q = """query($n: Int) { viewer { account { organizations(first: $n) { nodes { teams(first: $n) {
           nodes { users(first: $n) { nodes { email homeTeam { name } } } } } } } } } }"""
    r = await world.gql(q, {"n": 100}, token=admin)
    assert r.codes == ["QUERY_TOO_COMPLEX"] and r.data is None
    assert "cost" in r.errors[0]["message"]
    small = await world.gql(q, {"n": 2}, token=admin)
    assert small.errors == []


def fan_out(n: int) -> str:
    """`viewer { ...F0 }` where each of n fragments spreads the next twice: 2^n `role` fields, ~40 bytes
    a fragment (n = 21 is 891 bytes and cost 2,097,153)."""
    spreads = " ".join(f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n))
    return f"query {{ viewer {{ ...F0 }} }} {spreads} fragment F{n} on Viewer {{ role }}"


def measured(query: str, variables: dict[str, Any] | None = None) -> cost.Measure:
    return cost.measure(schema._schema, parse(query), None, variables, default_page=20)


def test_a_fragment_is_walked_once_however_often_it_is_spread() -> None:
    m = measured(fan_out(10))
    assert (m.cost, m.depth, m.aliases) == (1 + 2**10, 2, 0)
    assert m.steps == 2 + 2 * 10 + 1  # viewer, ...F0, two spreads per fragment, role: not 2^10 walks of F10
    aliased = measured("query { viewer { ...A ...A } } fragment A on Viewer { a: role b: role }")
    assert (aliased.cost, aliased.aliases) == (1 + 4, 4)  # each spread still counts its aliases


def test_fragment_cycles_end_the_walk() -> None:
    m = measured(
        "query { viewer { ...A } } fragment A on Viewer { role ...B } fragment B on Viewer { isSuperAdmin ...A }"
    )
    assert m.cost == 3 and m.steps == 6  # each fragment once; validation refuses the cycle afterwards


async def test_fragment_fan_out_is_refused_without_walking_every_spread(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    walks = 0
    walk = cost._Walker.walk

    def counted(self: Any, *args: Any) -> Any:
        nonlocal walks
        walks += 1
        if walks > 1000:
            raise RuntimeError("the cost walk follows every spread")
        return walk(self, *args)

    monkeypatch.setattr(cost._Walker, "walk", counted)
    for n in (21, 30):
        walks = 0
        r = await world.gql(fan_out(n))  # no token: the cost is measured before authentication
        assert r.codes == ["QUERY_TOO_COMPLEX"] and "cost" in r.errors[0]["message"], r.body
        assert walks <= n + 4  # the operation, viewer, each fragment once, role
    r = await world.gql("query { viewer { ...A } } fragment A on Viewer { role ...B } fragment B on Viewer { ...A }")
    assert r.codes == ["GRAPHQL_VALIDATION_FAILED"] and walks <= 1000


def test_the_cost_saturates_past_the_limit_and_the_walk_stops_there() -> None:
    full = cost.measure(schema._schema, parse(fan_out(30)), None, None, default_page=20)
    capped = cost.measure(schema._schema, parse(fan_out(30)), None, None, default_page=20, max_cost=50_000)
    assert full.cost == 1 + 2**30 and capped.cost == 50_001
    assert capped.steps < full.steps  # F30 … F15 (2^15 fields) pass 50,000: F14 … F0 are never walked
    # under `first: 0` the cost is 0 whatever is selected: a big subtree there neither saturates nor stops it
    empty = """{ viewer { account { organizations(first: 0) { nodes { teams(first: 100) { nodes {
        users(first: 100) { nodes { email homeTeam { name } } } } } } } } } }"""
    assert cost.measure(schema._schema, parse(empty), None, None, default_page=20, max_cost=50_000).cost == 3


HUGE = "2147483647"


@pytest.mark.parametrize(
    ("size", "selection", "code"),
    [
        (HUGE, f"nodes {{ teams(first: {HUGE}) {{ nodes {{ users(first: {HUGE}) {{ totalCount }} }} }} }}", None),
        ("99999999999999999999999999", "totalCount", None),
        ("99999999999999999999999999", "__typename", "GRAPHQL_VALIDATION_FAILED"),  # costs 3: validation answers
    ],
)
async def test_a_cost_past_64_bits_is_query_too_complex_not_a_500(
    world: World, admin: str, size: str, selection: str, code: str | None
) -> None:
    r = await world.gql(f"{{ viewer {{ account {{ organizations(first: {size}) {{ {selection} }} }} }} }}", token=admin)
    assert r.status == 200 and r.data is None
    assert r.codes == [code or "QUERY_TOO_COMPLEX"], r.body
    if code is None:
        assert r.body["extensions"]["cost"] == {"requested": 50_001, "limit": 50_000}  # limit + 1: counting stopped
        assert r.errors[0]["message"] == "Query refused: cost exceeds the limit of 50000."


@pytest.mark.parametrize("selection", ["totalCount", "__typename"])
async def test_an_int_literal_longer_than_python_reads_is_query_too_complex(
    world: World, admin: str, selection: str
) -> None:
    """Validation wraps int()'s ValueError (past 4,300 digits) in its error, which was masked as INTERNAL."""
    size = "1" * 5000
    r = await world.gql(f"{{ viewer {{ account {{ organizations(first: {size}) {{ {selection} }} }} }} }}", token=admin)
    assert r.codes == ["QUERY_TOO_COMPLEX"], r.body
    assert "an Int literal has more than 4300 digits" in r.errors[0]["message"]
    assert len(r.errors[0]["message"]) < 200


async def test_a_variable_default_counts_like_a_value_sent(world: World, admin: str) -> None:
    q = """query($n: Int = 100) { viewer { account { organizations(first: $n) { nodes { teams(first: $n) {
           nodes { users(first: $n) { nodes { email homeTeam { name } } } } } } } } } }"""
    for variables in (None, {"n": 100}):
        r = await world.gql(q, variables, token=admin)  # without `n` it runs with 100, not 20, per page
        assert r.codes == ["QUERY_TOO_COMPLEX"] and r.body["extensions"]["cost"]["requested"] == 50_001, r.body
    small = await world.gql(q, {"n": 2}, token=admin)
    # viewer, account: 2 + orgs(1 + 2 × (nodes, teams(1 + 2 × (nodes, users(1 + 2 × (nodes, email, homeTeam, name))))))
    assert small.errors == [] and small.body["extensions"]["cost"]["requested"] == 2 + 1 + 2 * (2 + 2 * (2 + 2 * 4))
    ids = 'query($ids: [ID!]! = ["a", "b", "c"]) { nodes(ids: $ids) { id } }'
    assert measured(ids).cost == 1 + 3 * 1 and measured(ids, {"ids": ["a"]}).cost == 2


async def test_depth_limit(world: World, admin: str) -> None:
    inner = "name"
    for _ in range(8):
        inner = f"organization {{ account {{ organizations(first: 1) {{ nodes {{ {inner} }} }} }} }}"
    r = await world.gql(f"{{ viewer {{ user {{ homeTeam {{ {inner} }} }} }} }}", token=admin)
    assert r.codes == ["QUERY_TOO_COMPLEX"] and "depth" in r.errors[0]["message"]


async def test_depth_through_fragments_is_counted(world: World, admin: str) -> None:
    q = """query { viewer { ...A } }
    fragment A on Viewer { user { homeTeam { organization { account {
      organizations(first: 1) { nodes { ...B } } } } } } }
    fragment B on Organization { teams(first: 1) { nodes { organization { teams(first: 1) { nodes { organization {
      teams(first: 1) { nodes { name } } } } } } } } }"""
    r = await world.gql(q, token=admin)
    assert r.codes == ["QUERY_TOO_COMPLEX"]


async def test_alias_limit(world: World, admin: str) -> None:
    aliases = " ".join(f"a{i}: viewer {{ role }}" for i in range(31))
    r = await world.gql(f"{{ {aliases} }}", token=admin)
    assert r.codes == ["QUERY_TOO_COMPLEX"] and "aliases" in r.errors[0]["message"]


async def test_token_limit(world: World, admin: str) -> None:
    fields = " ".join("role" for _ in range(6000))
    r = await world.gql(f"{{ viewer {{ {fields} }} }}", token=admin)
    assert r.codes == ["QUERY_TOO_COMPLEX"]


async def test_body_size_limit(world: World, admin: str) -> None:
    r = await world.client.post(
        "/graphql",
        content=b'{"query": "' + b" " * 1_100_000 + b'{ viewer { role } }"}',
        headers={"content-type": "application/json", "Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 413
    assert r.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_page_size_is_capped(world: World, admin: str) -> None:
    r = await world.gql("{ viewer { account { organizations(first: 101) { totalCount } } } }", token=admin)
    assert r.codes == ["BAD_USER_INPUT"] and "between 0 and 100" in r.errors[0]["message"]
    r = await world.gql("{ viewer { account { organizations(first: 1, last: 1) { totalCount } } } }", token=admin)
    assert r.codes == ["BAD_USER_INPUT"]
    r = await world.gql('{ viewer { account { organizations(after: "garbage!") { totalCount } } } }', token=admin)
    assert r.codes == ["BAD_USER_INPUT"]


async def test_nodes_is_capped(world: World, admin: str) -> None:
    r = await world.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x"] * 101}, token=admin)
    assert "BAD_USER_INPUT" in r.codes or "QUERY_TOO_COMPLEX" in r.codes


ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { %s } } }"


def test_entities_multiply_by_their_representations() -> None:
    rep = '{__typename: "Account", id: "x"}'
    literal = f"{{ _entities(representations: [{rep}, {rep}, {rep}]) {{ ... on Account {{ name }} }} }}"
    assert measured(literal).cost == 1 + 3 * 1
    assert measured(ENTITIES % "name", {"r": [{"__typename": "Account", "id": "x"}] * 7}).cost == 1 + 7 * 1


async def test_entities_count_and_cap_their_representations(world: World) -> None:
    t = await world.tenant()
    token = world.admin(t)
    account = {"__typename": "Account", "id": t.account_gid}
    pages = "organizations(first: 100) { nodes { teams(first: 100) { nodes { name } } } }"
    r = await world.gql(ENTITIES % pages, {"r": [account] * 1000}, token=token)  # ran: counted once
    assert r.codes == ["QUERY_TOO_COMPLEX"] and "cost" in r.errors[0]["message"], r.body
    r = await world.gql(ENTITIES % "name", {"r": [account] * 101}, token=token)  # cheap, but 101 lookups
    assert r.codes == ["BAD_USER_INPUT"] and r.data is None, r.body
    assert r.errors[0]["message"] == "`representations` takes at most 100 representations."
    ok = await world.gql(ENTITIES % "name", {"r": [account] * 100}, token=token)  # the cap of nodes(ids:)
    assert ok.errors == [] and len(ok.data["_entities"]) == 100
    assert ok.body["extensions"]["cost"]["requested"] == 1 + 100 * 1


async def test_syntax_and_validation_errors_have_codes(world: World, admin: str) -> None:
    r = await world.gql("{ viewer { role ", token=admin)
    assert r.codes == ["GRAPHQL_PARSE_FAILED"]
    r = await world.gql("{ viewer { noSuchField } }", token=admin)
    assert r.codes == ["GRAPHQL_VALIDATION_FAILED"]


async def test_unauthenticated_query(world: World) -> None:
    r = await world.gql("{ viewer { role } }")
    assert r.codes == ["UNAUTHENTICATED"]


async def test_internal_errors_are_masked_and_logged_with_request_id(
    world: World, admin: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("SELECT secret_column FROM pg_shadow -- password=hunter2")

    monkeypatch.setattr(repository, "teams_by_ids", broken)
    with caplog.at_level(logging.ERROR, logger="cockpit.graphql"):
        r = await world.gql("{ viewer { user { homeTeam { name } } } }", token=admin)
    assert r.codes == ["INTERNAL"]
    message = r.errors[0]["message"]
    assert "hunter2" not in message and "SELECT" not in message and "Traceback" not in str(r.body)
    request_id = r.errors[0]["extensions"]["requestId"]
    assert request_id == r.headers["x-request-id"]
    assert any(
        getattr(rec, "request_id", None) == request_id and "hunter2" in (rec.exc_text or str(rec.exc_info))
        for rec in caplog.records
    )


async def test_introspection_and_graphiql_can_be_switched_off(settings: Any, db: Any, world: World) -> None:
    locked = settings.model_copy(update={"introspection_enabled": False, "graphiql_enabled": False})
    app = create_app(locked, database=db)
    t = await world.tenant()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        r = await client.post(
            "/graphql",
            json={"query": "{ __schema { types { name } } }"},
            headers={"Authorization": f"Bearer {world.admin(t)}"},
        )
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        ok = await client.post(
            "/graphql", json={"query": "{ viewer { role } }"}, headers={"Authorization": f"Bearer {world.admin(t)}"}
        )
        assert ok.json()["data"]["viewer"]["role"] == "ACCOUNT_ADMIN"
    default = await world.client.get("/graphql", headers={"accept": "text/html"})
    assert default.status_code == 200


async def test_a_document_text_is_parsed_once_and_a_refused_one_is_not_kept(world: World, admin: str) -> None:
    from cockpit_graphql.limits.extension import parse_cached

    cache = parse_cached
    query = "{ viewer { role } } # parse-once probe"
    first = await world.gql(query, token=admin)
    before = cache.cache_info()
    second = await world.gql(query, token=admin)
    after = cache.cache_info()
    assert first.errors == [] and second.errors == [] and first.data == second.data
    assert (after.hits - before.hits, after.misses - before.misses) == (1, 0)

    broken = "{ viewer { role } # unbalanced"
    for _ in range(2):
        r = await world.gql(broken, token=admin)
        assert r.errors and r.errors[0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert cache.cache_info().currsize == after.currsize  # a syntax error is answered, never cached
