"""effectiveAccess with an agent: the audience rule decides, and the agent's model, guardrail
override and connections (limited to those the user may use) apply."""

from __future__ import annotations

from typing import Any

from tests.policies.test_api import _guardrail, _ok
from tests.support.policies import catalog_model, entitle, model_gid
from tests.support.world import Tenant, World

ACCESS = """query($u: ID!, $a: ID) { effectiveAccess(userId: $u, agentId: $a) {
  allowed reasons agentId modelChoice model { displayName } connections { name }
  guardrails { guardrail { name } enabled decidedBy trace { source outcome } } } }"""


async def _create(world: World, t: Tenant, mutation: str, payload: dict[str, Any], field: str) -> str:
    r = await world.gql(
        f"mutation($i: {mutation[0].upper() + mutation[1:]}Input!) {{ {mutation}(input: $i) "
        f"{{ {field} {{ id }} userErrors {{ field code message }} }} }}",
        {"i": payload},
        world.admin(t),
    )
    assert r.errors == [] and r.data[mutation]["userErrors"] == [], r.body
    return str(r.data[mutation][field]["id"])


async def test_effective_access_runs_an_agent_of_the_users_audience(world: World) -> None:
    t = await world.tenant()
    alpha = await catalog_model(world, "Alpha")
    beta = await catalog_model(world, "Beta")
    await entitle(world, t, [alpha, beta])
    await _ok(
        world,
        t,
        "setModelAccess",
        "SetModelAccessInput",
        {"scopeId": t.account_gid, "defaultModelId": model_gid(alpha)},
    )
    r = await world.gql(
        "mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) { userErrors { code } } }",
        {"i": {"creditsPerCycle": "1000", "renewalDay": 1, "overflowPolicy": "BLOCK"}},
        world.admin(t),
    )
    assert r.data["setBudgetPlan"]["userErrors"] == []
    enforced = await _guardrail(world, t, "Enforced")
    optional = await _guardrail(world, t, "Optional")
    for guardrail, is_enforced in ((enforced, True), (optional, False)):
        await _ok(
            world,
            t,
            "setGuardrailState",
            "SetGuardrailStateInput",
            {"scopeId": t.account_gid, "guardrailId": guardrail, "state": "ENABLED", "enforced": is_enforced},
        )
    slack = {"workspace": "acme"}
    mine = await _create(
        world,
        t,
        "createConnection",
        {"name": "Team Slack", "type": "SLACK", "config": slack, "scopeId": t.gid("Team", "platform")},
        "connection",
    )
    other = await _create(
        world,
        t,
        "createConnection",
        {"name": "Global Slack", "type": "SLACK", "config": slack, "scopeId": t.gid("Team", "global_team")},
        "connection",
    )
    agent = await _create(
        world,
        t,
        "createAgent",
        {
            "name": "Helper",
            "ownerId": t.account_gid,
            "modelId": model_gid(beta),
            "connectionIds": [mine, other],
            "guardrailOverrides": [
                {"guardrailId": enforced, "state": "DISABLED"},
                {"guardrailId": optional, "state": "DISABLED"},
            ],
        },
        "agent",
    )
    member, admin = t.gid("User", "member"), t.gid("User", "admin")

    async def access(user: str) -> dict[str, Any]:
        r = await world.gql(ACCESS, {"u": user, "a": agent}, world.admin(t))
        assert r.errors == [], r.body
        return r.data["effectiveAccess"]

    draft = await access(member)  # a draft agent is nobody's to run
    assert draft["allowed"] is False and draft["reasons"] == ["AGENT_NOT_AVAILABLE"]

    await _create(world, t, "publishAgent", {"id": agent}, "agent")
    await _create(
        world,
        t,
        "assignAgent",
        {"agentId": agent, "scopeId": t.gid("Organization", "eng"), "mode": "AVAILABLE"},
        "agent",
    )
    ok = await access(member)  # in Engineering → Platform: inside the audience
    assert ok["allowed"] is True and ok["reasons"] == [] and ok["agentId"] == agent
    assert ok["model"] == {"displayName": "Beta"} and ok["modelChoice"] == "AGENT"
    assert ok["connections"] == [{"name": "Team Slack"}]  # Global Slack is assigned outside the member's chain
    guardrails = {g["guardrail"]["name"]: g for g in ok["guardrails"]}
    assert guardrails["Enforced"]["enabled"] is True  # an admin agent cannot disable an enforced guardrail
    assert guardrails["Enforced"]["trace"][-1] == {"source": "AGENT", "outcome": "BLOCKED_BY_LOCK"}
    assert guardrails["Optional"]["enabled"] is False and guardrails["Optional"]["decidedBy"] == "AGENT"

    outside = await access(admin)  # the admin sits in the Global team, outside Engineering
    assert outside["allowed"] is False and outside["reasons"] == ["AGENT_NOT_AVAILABLE"]

    await _create(world, t, "archiveAgent", {"id": agent}, "agent")
    archived = await access(member)
    assert archived["reasons"] == ["AGENT_NOT_AVAILABLE"]

    foreign = await world.tenant()  # another account's agent is never available, whatever it is
    r = await world.gql(ACCESS, {"u": foreign.gid("User", "member"), "a": agent}, world.admin(foreign))
    assert r.errors == [], r.body
    assert r.data["effectiveAccess"]["reasons"][0] == "AGENT_NOT_AVAILABLE"
    assert r.data["effectiveAccess"]["connections"] == []


async def test_an_agent_uses_a_members_personal_connection_only_under_self_managed(world: World) -> None:
    """domain.md §3: under ADMIN_MANAGED members use only the connections admins assigned to them, so an
    agent that names a member's personal connection runs without it; under SELF_MANAGED_ALLOWED with it."""
    t = await world.tenant()
    model = await catalog_model(world, "Alpha")
    await entitle(world, t, [model])
    await _ok(
        world,
        t,
        "setModelAccess",
        "SetModelAccessInput",
        {"scopeId": t.account_gid, "defaultModelId": model_gid(model)},
    )
    for mutation, values in (
        ("setFeatureFlag", {"scopeId": t.account_gid, "flag": "CREATE_CONNECTIONS", "enabled": True}),
        ("setConnectionMode", {"scopeId": t.account_gid, "mode": "SELF_MANAGED_ALLOWED"}),
    ):
        await _ok(world, t, mutation, mutation[0].upper() + mutation[1:] + "Input", values)
    r = await world.gql(
        "mutation($i: CreatePersonalConnectionInput!) { createPersonalConnection(input: $i) { connection { id } "
        "userErrors { code } } }",
        {"i": {"name": "My GitHub", "type": "GITHUB", "config": {"organization": "mine"}}},
        world.member(t),
    )
    assert r.errors == [] and r.data["createPersonalConnection"]["userErrors"] == [], r.body
    personal = r.data["createPersonalConnection"]["connection"]["id"]
    agent = await _create(
        world, t, "createAgent", {"name": "Helper", "ownerId": t.account_gid, "connectionIds": [personal]}, "agent"
    )
    await _create(world, t, "publishAgent", {"id": agent}, "agent")
    await _create(world, t, "assignAgent", {"agentId": agent, "scopeId": t.account_gid, "mode": "AVAILABLE"}, "agent")

    async def connections() -> list[dict[str, str]]:
        r = await world.gql(ACCESS, {"u": t.gid("User", "member"), "a": agent}, world.admin(t))
        assert r.errors == [] and r.data["effectiveAccess"]["reasons"] == ["NO_PLAN"], r.body  # in its audience
        return list(r.data["effectiveAccess"]["connections"])

    assert await connections() == [{"name": "My GitHub"}]
    await _ok(
        world, t, "setConnectionMode", "SetConnectionModeInput", {"scopeId": t.account_gid, "mode": "ADMIN_MANAGED"}
    )
    assert await connections() == []
