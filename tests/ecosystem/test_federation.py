"""Federation in practice: our subgraph composed with a second one (ecosystem/federation/, npm
@apollo/subgraph) by @apollo/composition, served by @apollo/gateway; queries that cross both
subgraphs with real tokens, and tenancy through `_entities`, against our server and through the
gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import ObjectTypeDefinitionNode, parse, print_ast

from tests.ecosystem.conftest import ROOT, node_service, run_node
from tests.marketplace.helpers import published
from tests.support.live_server import free_port
from tests.support.world import Tenant, World


@dataclass
class Cast:
    a: Tenant
    b: Tenant
    agent_a: str
    agent_b: str


@dataclass
class Federation:
    gateway: str  # the gateway's GraphQL URL
    subgraph: str  # our /graphql
    supergraph: str  # the composed supergraph SDL


@pytest.fixture(scope="module")
async def cast(world: World) -> Cast:
    a, b = await world.tenant(), await world.tenant()
    return Cast(a, b, await published(world, a, "Reviewer A"), await published(world, b, "Reviewer B"))


@pytest.fixture(scope="module")
def federation(api: str, cast: Cast, world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    work = tmp_path_factory.mktemp("federation")
    subgraph = f"{api}/graphql"
    # Our SDL as the running server publishes it for composition (what `rover subgraph introspect` and
    # schema registries read): `_service` is the one field that needs no token.
    sdl = httpx.post(subgraph, json={"query": "{ _service { sdl } }"}, timeout=30).json()["data"]["_service"]["sdl"]
    (work / "cockpit.graphql").write_text(sdl)
    # The training service's records, by our global ids, of both accounts: it knows no tenants.
    records = {
        "users": {
            cast.a.gid("User", "member"): True,
            cast.a.gid("User", "admin"): False,
            cast.b.gid("User", "member"): True,
        },
        "agents": {cast.agent_a: 4.5, cast.agent_b: 2.0},
    }
    (work / "records.json").write_text(json.dumps(records))
    port = free_port()  # known before the training subgraph is up: composition runs while it starts
    with node_service(
        "federation/training-subgraph.mjs", str(work / "records.json"), log_path=work / "training.log", port=port
    ) as training_ready:
        composed = run_node(
            "federation/compose.mjs",
            str(work / "supergraph.graphql"),
            "cockpit",
            subgraph,
            str(work / "cockpit.graphql"),
            "training",
            f"http://127.0.0.1:{port}/",
            "federation/training.graphql",
        )
        assert composed.returncode == 0, composed.stderr
        assert "hint:" not in composed.stderr, composed.stderr  # composes cleanly, not merely successfully
        supergraph = (work / "supergraph.graphql").read_text()
        with node_service(
            "federation/gateway.mjs", str(work / "supergraph.graphql"), log_path=work / "gateway.log"
        ) as gateway_ready:
            assert training_ready() == f"http://127.0.0.1:{port}/"
            yield Federation(gateway_ready(), subgraph, supergraph)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(url: str, query: str, token: str | None = None, variables: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(timeout=30) as c:
        r = await c.post(
            url, json={"query": query, "variables": variables or {}}, headers=bearer(token) if token else {}
        )
    return r.json()


def entity_keys(supergraph: str) -> dict[str, dict[str, str]]:
    """{type: {subgraph: key}} from the supergraph's @join__type directives."""
    keys: dict[str, dict[str, str]] = {}
    for d in parse(supergraph).definitions:
        if isinstance(d, ObjectTypeDefinitionNode):
            for directive in d.directives or ():
                args = {a.name.value: print_ast(a.value).strip('"') for a in directive.arguments}
                if directive.name.value == "join__type" and "key" in args:
                    keys.setdefault(d.name.value, {})[args["graph"]] = args["key"]
    return keys


def test_composition_joins_both_subgraphs_on_the_entity_keys(federation: Federation) -> None:
    keys = entity_keys(federation.supergraph)
    assert keys["User"] == {"COCKPIT": "id", "TRAINING": "id"}
    assert keys["Agent"] == {"COCKPIT": "id", "TRAINING": "id"}
    # every entity we publish is joinable by its global id
    assert {name for name, graphs in keys.items() if "COCKPIT" in graphs} == {
        "Account",
        "Agent",
        "Connection",
        "Guardrail",
        "Model",
        "Organization",
        "Team",
        "User",
    }
    assert f'url: "{federation.subgraph}"' in federation.supergraph


def test_the_committed_schema_composes_as_the_live_one_does(federation: Federation, tmp_path: Path) -> None:
    """docs/federation.md composes from schema.graphql (no server or token needed)."""
    out = tmp_path / "supergraph.graphql"
    composed = run_node(
        "federation/compose.mjs", str(out), "cockpit", federation.subgraph, str(ROOT / "schema.graphql"),
        "training", "http://127.0.0.1:1/", "federation/training.graphql",
    )  # fmt: skip
    assert composed.returncode == 0 and "hint:" not in composed.stderr, composed.stderr
    assert entity_keys(out.read_text()) == entity_keys(federation.supergraph)


async def test_a_query_crosses_both_subgraphs_with_the_callers_token(
    federation: Federation, cast: Cast, world: World
) -> None:
    # cockpit first (viewer, agents), then training `_entities` for trainingCompleted and rating
    admin = await post(
        federation.gateway,
        "{ viewer { user { email trainingCompleted } } agents(first: 10) { nodes { id name rating } } }",
        world.admin(cast.a),
    )
    assert admin == {
        "data": {
            "viewer": {"user": {"email": cast.a.admin_email, "trainingCompleted": False}},
            "agents": {"nodes": [{"id": cast.agent_a, "name": "Reviewer A", "rating": 4.5}]},
        }
    }
    member = await post(
        federation.gateway, "{ viewer { user { displayName trainingCompleted } } }", world.member(cast.a)
    )
    assert member == {"data": {"viewer": {"user": {"displayName": "Member", "trainingCompleted": True}}}}


async def test_references_from_the_other_subgraph_resolve_only_in_the_callers_account(
    federation: Federation, cast: Cast, world: World
) -> None:
    """training first (it lists users of both accounts), then our `_entities` with the caller's token:
    the other account's user resolves to nothing, so the gateway nulls it; none of its data leaves."""
    query = "{ trainingRoster { id email trainingCompleted } }"
    as_a = await post(federation.gateway, query, world.admin(cast.a))
    assert as_a["data"]["trainingRoster"] == [
        {"id": cast.a.gid("User", "member"), "email": cast.a.member_email, "trainingCompleted": True},
        {"id": cast.a.gid("User", "admin"), "email": cast.a.admin_email, "trainingCompleted": False},
        None,  # account B's user: our `_entities` answered null, and User.email is non-null
    ], as_a
    [completion] = as_a["extensions"]["valueCompletion"]
    assert completion["path"] == ["trainingRoster", 2, "email"]
    as_b = await post(federation.gateway, query, world.member(cast.b))
    assert as_b["data"]["trainingRoster"][:2] == [None, None], as_b
    assert as_b["data"]["trainingRoster"][2]["email"] == cast.b.member_email
    assert cast.b.domain not in json.dumps(as_a) and cast.a.domain not in json.dumps(as_b)


async def test_entities_of_another_account_are_null_on_our_subgraph(
    federation: Federation, cast: Cast, world: World
) -> None:
    """What a gateway sends us: `_entities` with representations by key. A token of account A asking
    for account B's User and Agent gets null for them, next to its own."""
    query = """query($r: [_Any!]!) { _entities(representations: $r) {
        __typename ... on User { id email } ... on Agent { id name } } }"""
    reps = [
        {"__typename": "User", "id": cast.a.gid("User", "member")},
        {"__typename": "User", "id": cast.b.gid("User", "member")},
        {"__typename": "Agent", "id": cast.agent_a},
        {"__typename": "Agent", "id": cast.agent_b},
    ]
    as_a = await post(federation.subgraph, query, world.admin(cast.a), {"r": reps})
    assert as_a == {
        "data": {
            "_entities": [
                {"__typename": "User", "id": cast.a.gid("User", "member"), "email": cast.a.member_email},
                None,
                {"__typename": "Agent", "id": cast.agent_a, "name": "Reviewer A"},
                None,
            ]
        },
        "extensions": as_a.get("extensions"),
    }
    as_b = await post(federation.subgraph, query, world.admin(cast.b), {"r": reps})
    assert [e and e["id"] for e in as_b["data"]["_entities"]] == [
        None,
        cast.b.gid("User", "member"),
        None,
        cast.agent_b,
    ]
    # a super admin acts in any account, so every representation resolves (as `nodes(ids:)` does)
    platform = await post(federation.subgraph, query, await world.super_admin(), {"r": reps})
    assert [e and e["id"] for e in platform["data"]["_entities"]] == [r["id"] for r in reps]


async def test_the_gateway_forwards_the_absence_of_a_token_and_the_request_id(federation: Federation) -> None:
    async with httpx.AsyncClient(timeout=30) as c:
        r = await c.post(
            federation.gateway,
            json={"query": "{ viewer { user { email trainingCompleted } } }"},
            headers={"x-request-id": "gateway-test-1"},
        )
    body = r.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert error["extensions"]["serviceName"] == "cockpit"
    assert error["extensions"]["requestId"] == "gateway-test-1"
    assert "stacktrace" not in error["extensions"]
