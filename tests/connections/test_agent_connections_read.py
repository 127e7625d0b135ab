"""Agent.connections follows the one read rule of a connection (load_connection): seeing an agent never
shows a connection, its configuration or its owner that the caller could not read by id
(docs/connections.md: a member reads the ones they may use; an admin reads all)."""

from __future__ import annotations

from typing import Any

from tests.marketplace.helpers import assign, create_user, ok, published, user_token
from tests.support.world import Tenant, World

SLACK = {"workspace": "secret-ws", "defaultChannel": "#board"}
AGENT_CONNECTIONS = """query($id: ID!) { node(id: $id) { ... on Agent {
  connections { id name config personal owner { email } assignedTo { level } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id } }"


async def _connection(world: World, t: Tenant, name: str, scope_id: str | None = None) -> str:
    values: dict[str, Any] = {"name": name, "type": "SLACK", "config": SLACK}
    if scope_id is not None:
        values["scopeId"] = scope_id
    r = await world.gql(
        "mutation($i: CreateConnectionInput!) { createConnection(input: $i) { connection { id } "
        "userErrors { code } } }",
        {"i": values},
        world.admin(t),
    )
    assert r.errors == [] and r.data["createConnection"]["userErrors"] == [], r.body
    return str(r.data["createConnection"]["connection"]["id"])


async def test_a_member_sees_through_an_agent_only_the_connections_they_may_use(world: World) -> None:
    t = await world.tenant()
    admin, member = world.admin(t), world.member(t)
    hidden = await _connection(world, t, "Board Slack")  # assigned to nobody: the member may not use it
    shared = await _connection(world, t, "Team Slack", scope_id=t.account_gid)
    assert (await ok(world, NODE, {"id": hidden}, member))["node"] is None
    agent = await published(world, t, "Helper", connectionIds=[hidden, shared])
    await assign(world, t, agent, t.account_gid)

    seen = (await ok(world, AGENT_CONNECTIONS, {"id": agent}, member))["node"]["connections"]
    assert [c["id"] for c in seen] == [shared], seen

    every = (await ok(world, AGENT_CONNECTIONS, {"id": agent}, admin))["node"]["connections"]
    assert [c["id"] for c in every] == [hidden, shared]


async def test_another_members_personal_connection_and_email_stay_hidden_behind_an_agent(world: World) -> None:
    t = await world.tenant()
    admin, member = world.admin(t), world.member(t)
    for mutation, values in (
        ("setFeatureFlag", {"scopeId": t.account_gid, "flag": "CREATE_CONNECTIONS", "enabled": True}),
        ("setConnectionMode", {"scopeId": t.account_gid, "mode": "SELF_MANAGED_ALLOWED"}),
    ):
        input_type = mutation[0].upper() + mutation[1:] + "Input"
        r = await world.gql(
            f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ userErrors {{ code }} }} }}", {"i": values}, admin
        )
        assert r.errors == [] and r.data[mutation]["userErrors"] == [], r.body
    await create_user(world, t, "bob", t.gid("Team", "platform"))
    bob = user_token(world, t, "bob")
    r = await world.gql(
        "mutation($i: CreatePersonalConnectionInput!) { createPersonalConnection(input: $i) { connection { id } "
        "userErrors { code } } }",
        {"i": {"name": "Bob's GitHub", "type": "GITHUB", "config": {"organization": "bob-private"}}},
        bob,
    )
    assert r.errors == [] and r.data["createPersonalConnection"]["userErrors"] == [], r.body
    bobs = r.data["createPersonalConnection"]["connection"]["id"]
    assert (await ok(world, NODE, {"id": bobs}, member))["node"] is None
    agent = await published(world, t, "Helper", connectionIds=[bobs])
    await assign(world, t, agent, t.account_gid)

    assert (await ok(world, AGENT_CONNECTIONS, {"id": agent}, member))["node"]["connections"] == []
    (own,) = (await ok(world, AGENT_CONNECTIONS, {"id": agent}, bob))["node"]["connections"]
    assert own["id"] == bobs and own["personal"] is True
