"""Agents through the API: transitions, validation, versions, who may do what, directory interplay."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cockpit_graphql.types.ids import encode_id
from tests.marketplace.helpers import (
    ERRORS,
    codes,
    create_agent,
    done,
    enable_personal_agents,
    mutate,
    ok,
    published,
)
from tests.policies.test_api import _guardrail
from tests.support.policies import catalog_model, model_gid
from tests.support.world import Tenant, World

STATUSES = ("DRAFT", "PUBLISHED", "ARCHIVED")
OPERATIONS = {"publishAgent": "PUBLISHED", "archiveAgent": "ARCHIVED", "deleteAgent": None}
ALLOWED = {
    ("DRAFT", "publishAgent"),
    ("DRAFT", "archiveAgent"),
    ("DRAFT", "deleteAgent"),
    ("PUBLISHED", "archiveAgent"),
}


async def _in_status(world: World, t: Tenant, status: str) -> str:
    agent = await create_agent(world, world.admin(t), f"A {uuid.uuid4().hex[:6]}", t.account_gid)
    if status in ("PUBLISHED", "ARCHIVED"):
        await done(world, "publishAgent", {"id": agent["id"]}, world.admin(t))
    if status == "ARCHIVED":
        await done(world, "archiveAgent", {"id": agent["id"]}, world.admin(t))
    return str(agent["id"])


async def test_every_transition_pair(world: World) -> None:
    t = await world.tenant()
    for status in STATUSES:
        for operation, target in OPERATIONS.items():
            agent = await _in_status(world, t, status)
            selection = "deletedAgentId" if operation == "deleteAgent" else "agent { status }"
            result = await mutate(world, operation, {"id": agent}, world.admin(t), selection)
            if (status, operation) in ALLOWED:
                assert result["userErrors"] == [], (status, operation, result)
                if target is not None:
                    assert result["agent"]["status"] == target
                else:
                    assert result["deletedAgentId"] == agent
                    node = await ok(world, "query($id: ID!) { node(id: $id) { id } }", {"id": agent}, world.admin(t))
                    assert node["node"] is None
            else:
                assert codes(result) == ["ILLEGAL_TRANSITION"], (status, operation, result)


async def test_create_validates_every_field(world: World) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    bad: list[tuple[dict[str, Any], list[str], str]] = [
        ({"name": "  "}, ["input", "name"], "REQUIRED"),
        ({"name": "x" * 201}, ["input", "name"], "TOO_LONG"),
        ({"name": "a", "description": "d" * 2001}, ["input", "description"], "TOO_LONG"),
        ({"name": "a", "category": "c" * 101}, ["input", "category"], "TOO_LONG"),
        ({"name": "a", "tags": [f"t{i}" for i in range(21)]}, ["input", "tags"], "INVALID"),
        ({"name": "a", "tags": ["x" * 51]}, ["input", "tags", "0"], "TOO_LONG"),
        ({"name": "a", "instructions": "i" * 20_001}, ["input", "instructions"], "TOO_LONG"),
        ({"name": "a", "modelId": model_gid(uuid.uuid4())}, ["input", "modelId"], "NOT_FOUND"),
        ({"name": "a", "modelId": t.account_gid}, ["input", "modelId"], "NOT_FOUND"),
        (
            {"name": "a", "connectionIds": [encode_id("Connection", t.account_id, uuid.uuid4())]},
            ["input", "connectionIds", "0"],
            "NOT_FOUND",
        ),
        (
            {
                "name": "a",
                "guardrailOverrides": [
                    {"guardrailId": encode_id("Guardrail", t.account_id, uuid.uuid4()), "state": "ENABLED"}
                ],
            },
            ["input", "guardrailOverrides", "0", "guardrailId"],
            "NOT_FOUND",
        ),
        ({"name": "a", "ownerId": "garbage"}, ["input", "ownerId"], "NOT_FOUND"),
    ]
    for payload, field, code in bad:
        payload.setdefault("ownerId", t.account_gid)
        result = await mutate(world, "createAgent", payload, admin)
        assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(field, code)], (payload, result)
        assert result["agent"] is None

    alpha = await catalog_model(world, "Alpha")
    pii = await _guardrail(world, t, "PII")
    agent = await create_agent(
        world,
        admin,
        "  Helpful   Bot ",
        t.gid("Team", "platform"),
        description=" Answers questions. ",
        category="Support",
        tags=["FAQ", " faq ", "Help  Desk", ""],
        instructions="Be kind.",
        modelId=model_gid(alpha),
        guardrailOverrides=[{"guardrailId": pii, "state": "DISABLED"}],
    )
    q = """query($id: ID!) { node(id: $id) { ... on Agent { name description category tags instructions
      model { displayName } guardrailOverrides { guardrail { name } state } owner { level } status version personal
      versions { totalCount nodes { version name } } } } }"""
    got = (await ok(world, q, {"id": agent["id"]}, admin))["node"]
    assert got == {
        "name": "Helpful Bot",
        "description": "Answers questions.",
        "category": "Support",
        "tags": ["faq", "help desk"],
        "instructions": "Be kind.",
        "model": {"displayName": "Alpha"},
        "guardrailOverrides": [{"guardrail": {"name": "PII"}, "state": "DISABLED"}],
        "owner": {"level": "TEAM"},
        "status": "DRAFT",
        "version": 1,
        "personal": False,
        "versions": {"totalCount": 1, "nodes": [{"version": 1, "name": "Helpful Bot"}]},
    }


async def test_updates_are_versioned(world: World) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    agent = (await create_agent(world, admin, "V", t.account_gid, category="one"))["id"]
    r = await done(
        world, "updateAgent", {"id": agent, "name": "V2", "category": None}, admin, "agent { name category version }"
    )
    assert r["agent"] == {"name": "V2", "category": None, "version": 2}
    same = await mutate(world, "updateAgent", {"id": agent, "name": "V2"}, admin)
    assert codes(same) == ["NOTHING_TO_CHANGE"]
    bad = await mutate(world, "updateAgent", {"id": agent, "name": ""}, admin)
    assert codes(bad) == ["REQUIRED"]
    await done(world, "publishAgent", {"id": agent}, admin)
    r = await done(world, "updateAgent", {"id": agent, "instructions": "new"}, admin, "agent { version status }")
    assert r["agent"] == {"version": 3, "status": "PUBLISHED"}  # a published edit is live at once
    q = """query($id: ID!, $after: String) { node(id: $id) { ... on Agent {
      versions(first: 2, after: $after) { pageInfo { hasNextPage endCursor }
        nodes { version name category instructions author } } } } }"""
    page = (await ok(world, q, {"id": agent}, admin))["node"]["versions"]
    assert [v["version"] for v in page["nodes"]] == [3, 2] and page["pageInfo"]["hasNextPage"]
    rest = (await ok(world, q, {"id": agent, "after": page["pageInfo"]["endCursor"]}, admin))["node"]["versions"]
    assert rest["nodes"] == [
        {"version": 1, "name": "V", "category": "one", "instructions": "", "author": rest["nodes"][0]["author"]}
    ]
    await done(world, "archiveAgent", {"id": agent}, admin)
    archived = await mutate(world, "updateAgent", {"id": agent, "name": "V3"}, admin)
    assert codes(archived) == ["ILLEGAL_TRANSITION"]


async def test_personal_agents_need_create_agents_and_may_only_enable_guardrails(world: World) -> None:
    t = await world.tenant()
    member = world.member(t)
    refused = await world.gql(
        f"mutation($i: CreateAgentInput!) {{ createAgent(input: $i) {{ agent {{ id }} {ERRORS} }} }}",
        {"i": {"name": "Mine"}},
        member,
    )
    assert refused.codes == ["FORBIDDEN"], refused.body  # CREATE_AGENTS is off by default
    await enable_personal_agents(world, t, t.gid("Team", "platform"))
    mine = await create_agent(world, member, "Mine")
    assert mine["personal"] is True and mine["owner"] == {"level": "USER", "id": t.gid("User", "member")}
    explicit = await create_agent(world, member, "Mine too", t.gid("User", "member"))
    assert explicit["personal"] is True
    pii = await _guardrail(world, t, "PII")
    r = await mutate(
        world,
        "updateAgent",
        {"id": mine["id"], "guardrailOverrides": [{"guardrailId": pii, "state": "DISABLED"}]},
        member,
    )
    assert [(e["field"], e["code"]) for e in r["userErrors"]] == [
        (["input", "guardrailOverrides", "0", "state"], "INVALID")
    ]
    await done(
        world,
        "updateAgent",
        {"id": mine["id"], "guardrailOverrides": [{"guardrailId": pii, "state": "ENABLED"}]},
        member,
    )

    # someone else's personal agent, an admin scope: not for members
    other = await mutate(world, "createAgent", {"name": "x", "ownerId": t.gid("User", "admin")}, member)
    assert codes(other) == ["INVALID"]
    team = await world.gql(
        "mutation($i: CreateAgentInput!) { createAgent(input: $i) { agent { id } } }",
        {"i": {"name": "x", "ownerId": t.gid("Team", "platform")}},
        member,
    )
    assert team.codes == ["FORBIDDEN"]
    admins = await published(world, t, "Admins'")
    assert codes(await mutate(world, "updateAgent", {"id": admins, "name": "mine"}, member)) == ["NOT_FOUND"]
    assert codes(await mutate(world, "archiveAgent", {"id": admins}, member)) == ["NOT_FOUND"]

    # admins see personal agents (governance), may archive or delete them, never edit them
    admin = world.admin(t)
    seen = await ok(
        world, "query { agents(filter: {ownerLevel: USER}) { totalCount nodes { name instructions } } }", None, admin
    )
    assert seen["agents"]["totalCount"] == 2
    assert codes(await mutate(world, "updateAgent", {"id": mine["id"], "name": "admin's"}, admin)) == ["INVALID"]
    await done(world, "deleteAgent", {"id": explicit["id"]}, admin, "deletedAgentId")
    await done(world, "archiveAgent", {"id": mine["id"]}, admin)
    # the owner still sees their archived agent; another member does not
    q = "query($id: ID!) { node(id: $id) { ... on Agent { status instructions } } }"
    assert (await ok(world, q, {"id": mine["id"]}, member))["node"] == {"status": "ARCHIVED", "instructions": ""}


async def test_members_see_only_their_own_and_their_audience(world: World) -> None:
    t = await world.tenant()
    admin, member = world.admin(t), world.member(t)
    hidden = await published(world, t, "Hidden", instructions="secret")
    draft = (await create_agent(world, admin, "Draft", t.account_gid))["id"]
    shown = await published(world, t, "Shown", instructions="secret")
    await done(world, "assignAgent", {"agentId": shown, "scopeId": t.gid("Team", "platform")}, admin)
    q = "query($id: ID!) { node(id: $id) { ... on Agent { name instructions } } }"
    for agent in (hidden, draft):
        assert (await ok(world, q, {"id": agent}, member))["node"] is None
    assert (await ok(world, q, {"id": shown}, member))["node"] == {"name": "Shown", "instructions": None}
    assert (await ok(world, q, {"id": hidden}, admin))["node"] == {"name": "Hidden", "instructions": "secret"}
    forbidden = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Agent { assignments { mode } } } }", {"id": shown}, member
    )
    assert forbidden.codes == ["FORBIDDEN"]
    listing = await world.gql("{ agents { totalCount } }", None, member)
    assert listing.codes == ["FORBIDDEN"]


async def test_other_accounts_agents_do_not_exist(world: World) -> None:
    a, b = await world.tenant(), await world.tenant()
    theirs = await published(world, b, "B's")
    admin_a = world.admin(a)
    assert (await ok(world, "query($id: ID!) { node(id: $id) { id } }", {"id": theirs}, admin_a))["node"] is None
    ents = await ok(
        world,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Agent { id } } }",
        {"r": [{"__typename": "Agent", "id": theirs}]},
        admin_a,
    )
    assert ents["_entities"] == [None]
    for name, payload in (
        ("updateAgent", {"id": theirs, "name": "x"}),
        ("archiveAgent", {"id": theirs}),
        ("assignAgent", {"agentId": theirs, "scopeId": a.account_gid}),
        ("assignAgent", {"agentId": await published(world, a, "A's"), "scopeId": b.account_gid}),
    ):
        assert codes(await mutate(world, name, payload, admin_a)) == ["NOT_FOUND"], name
    listing = await ok(world, "query($a: ID) { agents(accountId: $a) { totalCount } }", {"a": b.account_gid}, admin_a)
    assert listing["agents"]["totalCount"] == 0
    root = await world.super_admin()
    listing = await ok(world, "query($a: ID) { agents(accountId: $a) { nodes { id } } }", {"a": b.account_gid}, root)
    assert [n["id"] for n in listing["agents"]["nodes"]] == [theirs]


async def test_admin_list_filters(world: World) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    await published(world, t, "Alpha", category="Sales", tags=["crm"])
    await create_agent(world, admin, "Beta", t.gid("Organization", "eng"), description="about CRM things")
    q = "query($f: AgentFilter) { agents(filter: $f) { totalCount nodes { name } } }"

    async def names(f: dict[str, Any]) -> list[str]:
        return [n["name"] for n in (await ok(world, q, {"f": f}, admin))["agents"]["nodes"]]

    assert await names({}) == ["Alpha", "Beta"]
    assert await names({"statuses": ["DRAFT"]}) == ["Beta"]
    assert await names({"ownerLevel": "ORGANIZATION"}) == ["Beta"]
    assert await names({"ownerId": t.account_gid}) == ["Alpha"]
    assert await names({"category": "sales"}) == ["Alpha"]
    assert await names({"tag": "CRM"}) == ["Alpha"]
    assert await names({"search": "crm"}) == ["Beta"]
    assert await names({"search": "%"}) == []


@pytest.mark.parametrize("level", ["Organization", "Team"])
async def test_deleting_a_scope_that_owns_agents(world: World, level: str) -> None:
    t = await world.tenant()
    admin = world.admin(t)
    org = (
        await ok(world, 'mutation { createOrganization(input: {name: "Temp"}) { organization { id } } }', None, admin)
    )["createOrganization"]["organization"]["id"]
    team = (
        await ok(
            world,
            'mutation($o: ID!) { createTeam(input: {name: "T", organizationId: $o}) { team { id } } }',
            {"o": org},
            admin,
        )
    )["createTeam"]["team"]["id"]
    owner = org if level == "Organization" else team
    agent = await published(world, t, "Owned", owner=owner)
    other = await published(world, t, "Assigned")
    await done(world, "assignAgent", {"agentId": other, "scopeId": team}, admin)
    delete_team = "mutation($i: DeleteTeamInput!) { deleteTeam(input: $i) { deletedId userErrors { code } } }"
    delete_org = (
        "mutation($i: DeleteOrganizationInput!) { deleteOrganization(input: $i) { deletedId userErrors { code } } }"
    )
    if level == "Team":
        r = await ok(world, delete_team, {"i": {"id": team}}, admin)
        assert [e["code"] for e in r["deleteTeam"]["userErrors"]] == ["NOT_EMPTY"]
    await done(world, "archiveAgent", {"id": agent}, admin)
    assert (await ok(world, delete_team, {"i": {"id": team}}, admin))["deleteTeam"]["userErrors"] == []
    r = await ok(world, delete_org, {"i": {"id": org}}, admin)
    assert r["deleteOrganization"]["userErrors"] == []
    q = "query($id: ID!) { node(id: $id) { ... on Agent { owner { level } assignments { mode } } } }"
    assert (await ok(world, q, {"id": agent}, admin))["node"]["owner"] == {"level": "ACCOUNT"}  # archived: kept
    assert (await ok(world, q, {"id": other}, admin))["node"]["assignments"] == []  # the deleted team's went


async def test_deleting_a_user_deletes_their_personal_agents_and_installs(world: World) -> None:
    t = await world.tenant()
    await enable_personal_agents(world, t)
    admin, member = world.admin(t), world.member(t)
    mine = (await create_agent(world, member, "Mine"))["id"]
    shared = await published(world, t, "Shared")
    await done(world, "assignAgent", {"agentId": shared, "scopeId": t.gid("User", "member")}, admin)
    await done(world, "installAgent", {"agentId": shared}, member, "item { installed }")
    r = await ok(
        world,
        "mutation($i: DeleteUserInput!) { deleteUser(input: $i) { deletedId userErrors { code } } }",
        {"i": {"id": t.gid("User", "member")}},
        admin,
    )
    assert r["deleteUser"]["userErrors"] == []
    q = "query($id: ID!) { node(id: $id) { ... on Agent { id assignments { mode } } } }"
    assert (await ok(world, q, {"id": mine}, admin))["node"] is None
    assert (await ok(world, q, {"id": shared}, admin))["node"]["assignments"] == []
