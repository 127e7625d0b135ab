"""The marketplace, the workspace and the audience view through the API: assignments, installs, moves."""

from __future__ import annotations

from typing import Any

from tests.marketplace.helpers import (
    MARKET,
    assign,
    audience,
    codes,
    create_agent,
    create_user,
    done,
    enable_personal_agents,
    marketplace,
    mutate,
    ok,
    published,
    user_token,
    workspace,
)
from tests.policies.test_api import _guardrail
from tests.support.policies import catalog_model, model_gid
from tests.support.world import Tenant, World

ITEM = "item { via mode inWorkspace installed removable }"


async def _move_user(world: World, t: Tenant, user: str, team: str) -> None:
    r = await ok(
        world,
        "mutation($i: MoveUserInput!) { moveUser(input: $i) { userErrors { code } } }",
        {"i": {"id": user, "teamId": team}},
        world.admin(t),
    )
    assert r["moveUser"]["userErrors"] == []


async def test_assignment_rules(world: World) -> None:
    t = await world.tenant()
    admin, member = world.admin(t), world.member(t)
    draft = (await create_agent(world, admin, "Draft", t.account_gid))["id"]
    r = await mutate(world, "assignAgent", {"agentId": draft, "scopeId": t.account_gid}, admin)
    assert codes(r) == ["ILLEGAL_TRANSITION"]
    agent = await published(world, t, "Bot")
    r = await mutate(world, "assignAgent", {"agentId": agent, "scopeId": "nope"}, admin)
    assert codes(r) == ["NOT_FOUND"]
    await assign(world, t, agent, t.gid("Team", "platform"))
    again = await mutate(world, "assignAgent", {"agentId": agent, "scopeId": t.gid("Team", "platform")}, admin)
    assert codes(again) == ["NOTHING_TO_CHANGE"]
    await assign(world, t, agent, t.gid("Team", "platform"), "INSTALLED")  # upsert: the mode changes
    q = "query($id: ID!) { node(id: $id) { ... on Agent { assignments { scope { level } mode } } } }"
    assert (await ok(world, q, {"id": agent}, admin))["node"]["assignments"] == [
        {"scope": {"level": "TEAM"}, "mode": "INSTALLED"}
    ]
    members_try = await world.gql(
        "mutation($i: AssignAgentInput!) { assignAgent(input: $i) { agent { id } } }",
        {"i": {"agentId": agent, "scopeId": t.account_gid}},
        member,
    )
    assert members_try.codes == ["FORBIDDEN"]
    await done(world, "unassignAgent", {"agentId": agent, "scopeId": t.gid("Team", "platform")}, admin)
    r = await mutate(world, "unassignAgent", {"agentId": agent, "scopeId": t.gid("Team", "platform")}, admin)
    assert codes(r) == ["NOT_FOUND"]
    assert await marketplace(world, member) == {}


async def test_install_rules_and_the_workspace(world: World) -> None:
    t = await world.tenant()
    member = world.member(t)
    available = await published(world, t, "Available")
    installed = await published(world, t, "Installed")
    outside = await published(world, t, "Outside")
    await assign(world, t, available, t.gid("Organization", "eng"))
    await assign(world, t, installed, t.account_gid, "INSTALLED")
    await assign(world, t, outside, t.gid("Team", "global_team"))

    market = await marketplace(world, member)
    assert set(market) == {available, installed}
    assert market[available] | {"agent": None} == {
        "agent": None,
        "via": "ASSIGNED",
        "mode": "AVAILABLE",
        "inWorkspace": False,
        "installed": False,
        "removable": True,
        "assignedAt": [{"level": "ORGANIZATION"}],
    }
    assert market[installed]["inWorkspace"] is True and market[installed]["removable"] is False
    assert set(await workspace(world, member)) == {installed}

    r = await mutate(world, "installAgent", {"agentId": installed}, member, ITEM)
    assert codes(r) == ["INVALID"]  # admins installed it: nothing to install
    r = await mutate(world, "installAgent", {"agentId": outside}, member, ITEM)
    assert codes(r) == ["NOT_FOUND"]  # not in the member's audience
    r = await done(world, "installAgent", {"agentId": available}, member, ITEM)
    assert r["item"] == {
        "via": "ASSIGNED",
        "mode": "AVAILABLE",
        "inWorkspace": True,
        "installed": True,
        "removable": True,
    }
    assert codes(await mutate(world, "installAgent", {"agentId": available}, member, ITEM)) == ["NOTHING_TO_CHANGE"]
    assert set(await workspace(world, member)) == {installed, available}
    r = await mutate(world, "uninstallAgent", {"agentId": installed}, member, ITEM)
    assert codes(r) == ["NOTHING_TO_CHANGE"]
    await done(world, "uninstallAgent", {"agentId": available}, member, ITEM)
    assert set(await workspace(world, member)) == {installed}
    # installed, then admins switch the assignment to INSTALLED: it cannot be removed
    await done(world, "installAgent", {"agentId": available}, member, ITEM)
    await assign(world, t, available, t.gid("Organization", "eng"), "INSTALLED")
    assert codes(await mutate(world, "uninstallAgent", {"agentId": available}, member, ITEM)) == ["INVALID"]


async def test_moves_change_what_users_see_at_once_and_installs_come_back(world: World) -> None:
    t = await world.tenant()
    admin, member = world.admin(t), world.member(t)
    user = t.gid("User", "member")
    eng_agent = await published(world, t, "Eng")
    team_agent = await published(world, t, "Platform")
    await assign(world, t, eng_agent, t.gid("Organization", "eng"))
    await assign(world, t, team_agent, t.gid("Team", "platform"))
    await done(world, "installAgent", {"agentId": team_agent}, member, ITEM)
    assert set(await marketplace(world, member)) == {eng_agent, team_agent}
    assert set(await workspace(world, member)) == {team_agent}

    await _move_user(world, t, user, t.gid("Team", "global_team"))  # out of Engineering/Platform
    assert await marketplace(world, member) == {}
    assert await workspace(world, member) == {}
    assert (await ok(world, "query($id: ID!) { node(id: $id) { id } }", {"id": team_agent}, member))["node"] is None
    aud = await audience(world, t, team_agent)
    assert aud["totalCount"] == 0 and aud["nodes"] == []

    await _move_user(world, t, user, t.gid("Team", "platform"))  # back: the install is active again
    assert set(await workspace(world, member)) == {team_agent}

    # moving the team out of Engineering drops the organization's agent, keeps the team's
    org = (
        await ok(world, 'mutation { createOrganization(input: {name: "Other"}) { organization { id } } }', None, admin)
    )["createOrganization"]["organization"]["id"]
    r = await ok(
        world,
        "mutation($i: MoveTeamInput!) { moveTeam(input: $i) { userErrors { code } } }",
        {"i": {"id": t.gid("Team", "platform"), "organizationId": org}},
        admin,
    )
    assert r["moveTeam"]["userErrors"] == []
    assert set(await marketplace(world, member)) == {team_agent}
    await assign(world, t, eng_agent, org)
    assert set(await marketplace(world, member)) == {eng_agent, team_agent}

    # unassigned: the install stays recorded but inactive; reassigned: back in the workspace
    await done(world, "unassignAgent", {"agentId": team_agent, "scopeId": t.gid("Team", "platform")}, admin)
    assert set(await workspace(world, member)) == set()
    await assign(world, t, team_agent, user)
    assert set(await workspace(world, member)) == {team_agent}

    # archived: leaves every marketplace and workspace, for good
    await done(world, "archiveAgent", {"id": team_agent}, admin)
    assert set(await marketplace(world, member)) == {eng_agent}
    assert await workspace(world, member) == {}
    assert (await audience(world, t, team_agent))["totalCount"] == 0


async def test_personal_agents_are_in_their_owners_workspace_only(world: World) -> None:
    t = await world.tenant()
    await enable_personal_agents(world, t)
    member = world.member(t)
    await create_user(world, t, "peer", t.gid("Team", "platform"))
    peer = user_token(world, t, "peer")
    mine = (await create_agent(world, member, "Mine"))["id"]
    assert (await workspace(world, member))[mine]["via"] == "OWN"
    assert await marketplace(world, peer) == {}
    await done(world, "publishAgent", {"id": mine}, member)
    await assign(world, t, mine, t.gid("Team", "platform"))  # admins may share a published personal agent
    assert (await marketplace(world, peer))[mine]["via"] == "ASSIGNED"
    own = (await marketplace(world, member))[mine]
    assert own["via"] == "OWN" and own["inWorkspace"] is True and own["removable"] is False
    aud = await audience(world, t, mine)
    assert aud["totalCount"] == 2
    assert {n["via"] for n in aud["nodes"]} == {"OWN", "ASSIGNED"}
    assert aud["countsByScope"] == [
        {"scope": {"level": "TEAM", "id": t.gid("Team", "platform")}, "mode": "AVAILABLE", "users": 2}
    ]
    await done(world, "archiveAgent", {"id": mine}, member)
    assert await marketplace(world, member) == {} and await marketplace(world, peer) == {}


async def test_audience_view_pages_and_counts(world: World) -> None:
    t = await world.tenant()
    agent = await published(world, t, "Wide")
    for i in range(5):
        await create_user(world, t, f"u{i}", t.gid("Team", "platform"))
    await assign(world, t, agent, t.gid("Organization", "eng"))
    await assign(world, t, agent, t.gid("Team", "platform"), "INSTALLED")
    aud = await audience(world, t, agent)
    emails = [n["user"]["email"] for n in aud["nodes"]]
    assert emails == sorted(emails) and len(emails) == 6  # member + 5
    assert aud["totalCount"] == 6 and aud["inWorkspaceCount"] == 6
    assert {(c["scope"]["level"], c["mode"], c["users"]) for c in aud["countsByScope"]} == {
        ("ORGANIZATION", "AVAILABLE", 6),
        ("TEAM", "INSTALLED", 6),
    }
    assert all(n["mode"] == "INSTALLED" and len(n["assignedAt"]) == 2 for n in aud["nodes"])
    q = """query($id: ID!, $after: String) { node(id: $id) { ... on Agent {
      audience(first: 4, after: $after) { pageInfo { hasNextPage endCursor } nodes { user { email } } } } } }"""
    first = (await ok(world, q, {"id": agent}, world.admin(t)))["node"]["audience"]
    second = (await ok(world, q, {"id": agent, "after": first["pageInfo"]["endCursor"]}, world.admin(t)))["node"][
        "audience"
    ]
    assert first["pageInfo"]["hasNextPage"] and not second["pageInfo"]["hasNextPage"]
    assert [n["user"]["email"] for n in first["nodes"] + second["nodes"]] == emails
    forbidden = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Agent { audience { totalCount } } } }", {"id": agent}, world.member(t)
    )
    assert forbidden.codes == ["FORBIDDEN"]


async def test_marketplace_search_filters_and_pages(world: World) -> None:
    t = await world.tenant()
    member = world.member(t)
    specs: list[tuple[str, dict[str, Any]]] = [
        ("Writer", {"category": "Content", "tags": ["text", "blog"], "description": "Writes posts"}),
        ("Analyst", {"category": "Data", "tags": ["sql"], "description": "Reads 100% of the data"}),
        ("Coder", {"category": "Engineering", "tags": ["code", "text"]}),
    ]
    for name, extra in specs:
        agent = await published(world, t, name, **extra)
        await assign(world, t, agent, t.account_gid)

    async def names(**f: Any) -> list[str]:
        return sorted(n["agent"]["name"] for n in (await marketplace(world, member, **f)).values())

    assert await names() == ["Analyst", "Coder", "Writer"]
    assert await names(search="POST") == ["Writer"]
    assert await names(search="100%") == ["Analyst"]
    assert await names(category="data") == ["Analyst"]
    assert await names(tag="TEXT") == ["Coder", "Writer"]
    assert await names(tag="text", search="cod") == ["Coder"]
    page = (await ok(world, MARKET, {"first": 2}, member))["marketplace"]
    assert [n["agent"]["name"] for n in page["nodes"]] == ["Analyst", "Coder"] and page["pageInfo"]["hasNextPage"]
    rest = (await ok(world, MARKET, {"first": 2, "after": page["pageInfo"]["endCursor"]}, member))["marketplace"]
    assert [n["agent"]["name"] for n in rest["nodes"]] == ["Writer"] and not rest["pageInfo"]["hasNextPage"]
    viewer = await ok(world, "{ viewer { marketplace { totalCount } workspace { totalCount } } }", None, member)
    assert viewer["viewer"] == {"marketplace": {"totalCount": 3}, "workspace": {"totalCount": 0}}


async def test_a_marketplace_page_costs_constant_statements(world: World) -> None:
    q = """{ marketplace(first: 100) { totalCount edges { cursor node { via mode inWorkspace removable installed
      agent { id name description tags instructions model { displayName } connectionIds connections { id name type }
        guardrailOverrides { guardrail { name } state } owner { level } } } } } }"""
    counts = []
    for size in (5, 100):
        t = await world.tenant()
        member = world.member(t)
        alpha = await catalog_model(world, "Alpha")
        beta = await catalog_model(world, "Beta")
        pii = await _guardrail(world, t, "PII")
        inject = await _guardrail(world, t, "Injection")
        for i in range(size):
            agent = await published(
                world,
                t,
                f"Agent {i:03}",
                modelId=model_gid(alpha if i % 2 else beta),
                guardrailOverrides=[{"guardrailId": pii if i % 2 else inject, "state": "ENABLED"}],
            )
            await assign(world, t, agent, t.gid("Team", "platform"), "INSTALLED" if i % 3 == 0 else "AVAILABLE")
            if i % 3 == 1:
                await done(world, "installAgent", {"agentId": agent}, member, ITEM)
        r = await world.gql(q, None, member)
        assert r.errors == [], r.body
        conn = r.data["marketplace"]
        assert conn["totalCount"] == size and len(conn["edges"]) == size
        assert sum(e["node"]["inWorkspace"] for e in conn["edges"]) == len([i for i in range(size) if i % 3 != 2])
        counts.append(r.statements)
    assert counts[0] == counts[1], counts
