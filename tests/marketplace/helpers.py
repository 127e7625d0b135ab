"""Marketplace test helpers: agents, assignments and installs through the API."""

from __future__ import annotations

from typing import Any

from tests.support.world import Tenant, World

AGENT_FIELDS = "id name status version personal owner { level id }"
ERRORS = "userErrors { field code message }"


async def ok(world: World, query: str, variables: dict[str, Any] | None, token: str) -> Any:
    r = await world.gql(query, variables or {}, token)
    assert r.errors == [], r.body
    return r.data


async def mutate(world: World, name: str, payload: dict[str, Any], token: str, selection: str = "") -> dict[str, Any]:
    """Run a mutation `name` with `input: payload`; returns its payload (userErrors included)."""
    input_type = name[0].upper() + name[1:] + "Input"
    sel = selection or f"agent {{ {AGENT_FIELDS} }}"
    data = await ok(
        world, f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {sel} {ERRORS} }} }}", {"i": payload}, token
    )
    return data[name]


async def done(world: World, name: str, payload: dict[str, Any], token: str, selection: str = "") -> dict[str, Any]:
    result = await mutate(world, name, payload, token, selection)
    assert result["userErrors"] == [], (name, result)
    return result


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["userErrors"]]


async def create_agent(world: World, token: str, name: str, owner: str | None = None, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": name, **extra}
    if owner is not None:
        payload["ownerId"] = owner
    return (await done(world, "createAgent", payload, token))["agent"]


async def published(world: World, t: Tenant, name: str, owner: str | None = None, **extra: Any) -> str:
    """An admin-owned agent (default: owned by the account), published."""
    agent = await create_agent(world, world.admin(t), name, owner or t.account_gid, **extra)
    await done(world, "publishAgent", {"id": agent["id"]}, world.admin(t))
    return str(agent["id"])


async def assign(world: World, t: Tenant, agent: str, scope: str, mode: str = "AVAILABLE") -> None:
    await done(world, "assignAgent", {"agentId": agent, "scopeId": scope, "mode": mode}, world.admin(t))


async def enable_personal_agents(world: World, t: Tenant, scope: str | None = None) -> None:
    r = await world.gql(
        "mutation($i: SetFeatureFlagInput!) { setFeatureFlag(input: $i) { userErrors { code } } }",
        {"i": {"scopeId": scope or t.account_gid, "flag": "CREATE_AGENTS", "enabled": True}},
        world.admin(t),
    )
    assert r.errors == [] and r.data["setFeatureFlag"]["userErrors"] == [], r.body


MARKET = """query($f: MarketplaceFilter, $first: Int, $after: String) {
  marketplace(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { agent { id name } via mode inWorkspace installed removable assignedAt { level } } } }"""
WORKSPACE = (
    """query { workspace(first: 100) { totalCount nodes { agent { id name } via mode inWorkspace removable } } }"""
)


async def marketplace(world: World, token: str, **filters: Any) -> dict[str, dict[str, Any]]:
    """The member's whole marketplace by agent id."""
    data = await ok(world, MARKET, {"f": filters or None, "first": 100}, token)
    conn = data["marketplace"]
    assert conn["totalCount"] == len(conn["nodes"]), conn
    return {n["agent"]["id"]: n for n in conn["nodes"]}


async def workspace(world: World, token: str) -> dict[str, dict[str, Any]]:
    conn = (await ok(world, WORKSPACE, None, token))["workspace"]
    assert conn["totalCount"] == len(conn["nodes"]), conn
    return {n["agent"]["id"]: n for n in conn["nodes"]}


AUDIENCE = """query($id: ID!, $after: String) { node(id: $id) { ... on Agent {
  audience(first: 100, after: $after) { totalCount inWorkspaceCount countsByScope { scope { level id } mode users }
    pageInfo { hasNextPage endCursor }
    nodes { user { id email } via mode inWorkspace installedByUser assignedAt { level id } } } } } }"""


async def audience(world: World, t: Tenant, agent: str) -> dict[str, Any]:
    data = await ok(world, AUDIENCE, {"id": agent}, world.admin(t))
    return data["node"]["audience"]


async def create_user(world: World, t: Tenant, local: str, team: str) -> str:
    data = await ok(
        world,
        "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } userErrors { code } } }",
        {"i": {"email": f"{local}@{t.domain}", "homeTeamId": team}},
        world.admin(t),
    )
    return str(data["createUser"]["user"]["id"])


def user_token(world: World, t: Tenant, local: str) -> str:
    return world.token(t, f"{local}@{t.domain}")
