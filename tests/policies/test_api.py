"""Policies through the API: settings, effective values with traces, permissions, userErrors."""

from __future__ import annotations

import uuid
from typing import Any

from cockpit_graphql.domain.models.catalog import Capability
from tests.support.policies import catalog_model, entitle, model_gid
from tests.support.world import Tenant, World

SETTINGS = "userErrors { field code message } settings { flags { flag enabled locked } }"


async def _set(world: World, t: Tenant, mutation: str, input_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    r = await world.gql(
        f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ {SETTINGS} }} }}", {"i": payload}, world.admin(t)
    )
    assert r.errors == [], r.body
    return r.data[mutation]


async def _ok(world: World, t: Tenant, mutation: str, input_type: str, payload: dict[str, Any]) -> None:
    result = await _set(world, t, mutation, input_type, payload)
    assert result["userErrors"] == [], result


async def _guardrail(world: World, t: Tenant, name: str) -> str:
    r = await world.gql(
        "mutation($i: CreateGuardrailInput!) { createGuardrail(input: $i) { guardrail { id } userErrors { code } } }",
        {"i": {"name": name, "type": "PII_REDACTION", "mode": "REDACT", "config": {"entities": ["EMAIL"]}}},
        world.admin(t),
    )
    assert r.data["createGuardrail"]["userErrors"] == [], r.body
    return r.data["createGuardrail"]["guardrail"]["id"]


USER_EFFECTIVE = """
query($id: ID!) { node(id: $id) { ... on User {
  effectiveModels { allowed { displayName } defaultModel { displayName } defaultFrom { level }
    trace { source scope { level } removed { displayName } defaultOutcome } }
  effectiveFlags { flag enabled locked decidedBy decidedAt { level } trace { source scope { level } enabled outcome } }
  effectiveGuardrails { guardrail { name } enabled enforced decidedBy trace { source scope { level } state outcome } }
  effectiveConnectionMode { mode locked decidedBy decidedAt { level } }
} } }
"""


async def test_effective_values_follow_the_chain_with_traces(world: World) -> None:
    t = await world.tenant()
    alpha = await catalog_model(world, "Alpha")
    beta = await catalog_model(world, "Beta")
    painter = await catalog_model(world, "Painter", Capability.IMAGE)
    await entitle(world, t, [alpha, beta, painter], disabled_features=["CREATE_CONNECTIONS"])
    org, team, user = t.gid("Organization", "eng"), t.gid("Team", "platform"), t.gid("User", "member")

    await _ok(world, t, "setModelAccess", "SetModelAccessInput", {"scopeId": org, "denyModelIds": [model_gid(beta)]})
    await _ok(world, t, "setModelAccess", "SetModelAccessInput", {"scopeId": team, "defaultModelId": model_gid(alpha)})
    await _ok(world, t, "setModelAccess", "SetModelAccessInput", {"scopeId": user, "defaultModelId": model_gid(beta)})
    await _ok(
        world,
        t,
        "setFeatureFlag",
        "SetFeatureFlagInput",
        {"scopeId": t.account_gid, "flag": "CREATE_AGENTS", "enabled": True, "locked": True},
    )
    await _ok(
        world, t, "setFeatureFlag", "SetFeatureFlagInput", {"scopeId": team, "flag": "CREATE_AGENTS", "enabled": False}
    )
    await _ok(
        world,
        t,
        "setFeatureFlag",
        "SetFeatureFlagInput",
        {"scopeId": team, "flag": "CREATE_CONNECTIONS", "enabled": True},
    )
    pii = await _guardrail(world, t, "PII")
    await _guardrail(world, t, "Unset")
    await _ok(
        world,
        t,
        "setGuardrailState",
        "SetGuardrailStateInput",
        {"scopeId": t.account_gid, "guardrailId": pii, "state": "ENABLED", "enforced": True},
    )
    await _ok(
        world,
        t,
        "setGuardrailState",
        "SetGuardrailStateInput",
        {"scopeId": user, "guardrailId": pii, "state": "DISABLED"},
    )
    await _ok(world, t, "setConnectionMode", "SetConnectionModeInput", {"scopeId": org, "mode": "SELF_MANAGED_ALLOWED"})

    r = await world.gql(USER_EFFECTIVE, {"id": user}, world.member(t))  # members read their own
    assert r.errors == [], r.body
    me = r.data["node"]

    models = me["effectiveModels"]
    assert [m["displayName"] for m in models["allowed"]] == ["Alpha"]
    assert models["defaultModel"] == {"displayName": "Alpha"} and models["defaultFrom"] == {"level": "TEAM"}
    steps = [
        (s["source"], (s["scope"] or {}).get("level"), [m["displayName"] for m in s["removed"]], s["defaultOutcome"])
        for s in models["trace"]
    ]
    assert steps[1:] == [
        ("SCOPE", "ORGANIZATION", ["Beta"], None),
        ("SCOPE", "TEAM", [], "APPLIED"),
        ("SCOPE", "USER", [], "NOT_ALLOWED"),  # Beta is denied above: the nearest *allowed* default wins
        ("RULE", None, ["Painter"], None),  # IMAGE_GENERATION is off by default
    ]
    assert steps[0][0] == "ENTITLEMENT"  # the shared catalog holds other tests' models; the entitlement drops them

    flags = {f["flag"]: f for f in me["effectiveFlags"]}
    agents = flags["CREATE_AGENTS"]
    assert agents["enabled"] is True and agents["locked"] is True and agents["decidedAt"] == {"level": "ACCOUNT"}
    assert [(s["source"], s["outcome"]) for s in agents["trace"]] == [
        ("DEFAULT", "OVERRIDDEN"),
        ("SCOPE", "APPLIED"),
        ("SCOPE", "BLOCKED_BY_LOCK"),
    ]
    connections = flags["CREATE_CONNECTIONS"]
    assert connections["enabled"] is False and connections["decidedBy"] == "ENTITLEMENT"
    assert connections["trace"][-1]["outcome"] == "BLOCKED_BY_ENTITLEMENT"
    assert flags["MODEL_SELECTION"]["enabled"] is True and flags["MODEL_SELECTION"]["decidedBy"] == "DEFAULT"

    guardrails = {g["guardrail"]["name"]: g for g in me["effectiveGuardrails"]}
    assert guardrails["PII"]["enabled"] is True and guardrails["PII"]["enforced"] is True
    assert [s["outcome"] for s in guardrails["PII"]["trace"]] == ["OVERRIDDEN", "APPLIED", "BLOCKED_BY_LOCK"]
    assert guardrails["Unset"]["enabled"] is False and guardrails["Unset"]["decidedBy"] == "DEFAULT"

    mode = me["effectiveConnectionMode"]
    assert mode == {
        "mode": "SELF_MANAGED_ALLOWED",
        "locked": False,
        "decidedBy": "SCOPE",
        "decidedAt": {"level": "ORGANIZATION"},
    }


ACCESS = """
query($u: ID!, $m: ID) { effectiveAccess(userId: $u, modelId: $m) {
  allowed reasons modelChoice model { displayName } budget { remaining } bindingScope { level }
  flags { flag enabled } guardrails { guardrail { name } enabled } connectionMode { mode }
} }
"""


async def test_effective_access_answers_the_runtime(world: World) -> None:
    t = await world.tenant()
    alpha = await catalog_model(world, "Alpha")
    beta = await catalog_model(world, "Beta")
    await entitle(world, t, [alpha, beta])
    user = t.gid("User", "member")
    await _ok(
        world,
        t,
        "setModelAccess",
        "SetModelAccessInput",
        {"scopeId": t.account_gid, "denyModelIds": [model_gid(beta)], "defaultModelId": model_gid(alpha)},
    )

    r = await world.gql(ACCESS, {"u": user}, world.admin(t))
    assert r.errors == [], r.body
    access = r.data["effectiveAccess"]
    assert access["allowed"] is False and access["reasons"] == ["NO_PLAN"]
    assert access["model"] == {"displayName": "Alpha"} and access["modelChoice"] == "DEFAULT"

    r = await world.gql(
        "mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) { userErrors { code } } }",
        {"i": {"creditsPerCycle": "1000", "renewalDay": 1, "overflowPolicy": "BLOCK"}},
        world.admin(t),
    )
    assert r.data["setBudgetPlan"]["userErrors"] == [], r.body
    r = await world.gql(ACCESS, {"u": user}, world.admin(t))
    access = r.data["effectiveAccess"]
    assert access["allowed"] is True and access["reasons"] == []
    assert float(access["budget"]["remaining"]) == 1000
    assert access["bindingScope"] == {"level": "ACCOUNT"}

    r = await world.gql(ACCESS, {"u": user, "m": model_gid(beta)}, world.admin(t))
    assert r.data["effectiveAccess"]["reasons"] == ["MODEL_NOT_ALLOWED"]
    assert r.data["effectiveAccess"]["model"] is None

    # with MODEL_SELECTION off the request is ignored and the default model is used
    await _ok(
        world,
        t,
        "setFeatureFlag",
        "SetFeatureFlagInput",
        {"scopeId": t.gid("Team", "platform"), "flag": "MODEL_SELECTION", "enabled": False},
    )
    r = await world.gql(ACCESS, {"u": user, "m": model_gid(beta)}, world.admin(t))
    assert r.data["effectiveAccess"]["allowed"] is True
    assert r.data["effectiveAccess"]["modelChoice"] == "DEFAULT"

    # a member asks about themself; not about someone else
    r = await world.gql(ACCESS, {"u": user}, world.member(t))
    assert r.errors == [] and r.data["effectiveAccess"]["allowed"] is True
    r = await world.gql(ACCESS, {"u": t.gid("User", "admin")}, world.member(t))
    assert r.codes == ["FORBIDDEN"]


async def _errors(
    world: World, t: Tenant, mutation: str, input_type: str, payload: dict[str, Any], selection: str = ""
) -> list[tuple[list[str] | None, str]]:
    r = await world.gql(
        f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ {selection} userErrors {{ field code }} }} }}",
        {"i": payload},
        world.admin(t),
    )
    assert r.errors == [], r.body
    return [(e["field"], e["code"]) for e in r.data[mutation]["userErrors"]]


async def test_bad_input_is_a_user_error_and_writes_nothing(world: World) -> None:
    t = await world.tenant()
    alpha = await catalog_model(world, "Alpha")
    team = t.gid("Team", "platform")
    ghost = model_gid(uuid.uuid4())
    cases = [
        (
            "setModelAccess",
            "SetModelAccessInput",
            {"scopeId": team, "allowModelIds": [model_gid(alpha), ghost]},
            [(["input", "allowModelIds", "1"], "NOT_FOUND")],
        ),
        (
            "setModelAccess",
            "SetModelAccessInput",
            {"scopeId": team, "denyModelIds": ["junk"]},
            [(["input", "denyModelIds", "0"], "NOT_FOUND")],
        ),
        (
            "setModelAccess",
            "SetModelAccessInput",
            {"scopeId": team, "denyModelIds": [model_gid(alpha)], "defaultModelId": model_gid(alpha)},
            [(["input", "defaultModelId"], "INVALID")],
        ),
        ("setModelAccess", "SetModelAccessInput", {"scopeId": "nope"}, [(["input", "scopeId"], "NOT_FOUND")]),
        (
            "setFeatureFlag",
            "SetFeatureFlagInput",
            {"scopeId": team, "flag": "FLY", "enabled": True},
            [(["input", "flag"], "NOT_FOUND")],
        ),
        (
            "clearFeatureFlag",
            "ClearFeatureFlagInput",
            {"scopeId": team, "flag": "CREATE_AGENTS"},
            [(["input", "scopeId"], "NOTHING_TO_CHANGE")],
        ),
        (
            "clearConnectionMode",
            "ClearConnectionModeInput",
            {"scopeId": team},
            [(["input", "scopeId"], "NOTHING_TO_CHANGE")],
        ),
        (
            "createGuardrail",
            "CreateGuardrailInput",
            {"name": "W", "type": "WEBHOOK", "mode": "BLOCK", "config": {"url": "http://x", "timeoutMs": 5, "x": 1}},
            [
                (["input", "config", "x"], "INVALID"),
                (["input", "config", "url"], "INVALID"),
                (["input", "config", "timeoutMs"], "INVALID"),
            ],
        ),
        (  # urllib raises on an unclosed IPv6 bracket: it was INTERNAL
            "createGuardrail",
            "CreateGuardrailInput",
            {"name": "W", "type": "WEBHOOK", "mode": "BLOCK", "config": {"url": "https://[oops/x"}},
            [(["input", "config", "url"], "INVALID")],
        ),
        (
            "createGuardrail",
            "CreateGuardrailInput",
            {"name": "T", "type": "TOPIC_BLOCK", "mode": "REDACT", "config": {"topics": ["a"]}},
            [(["input", "mode"], "INVALID")],
        ),
        (
            "createGuardrail",
            "CreateGuardrailInput",
            {"name": " ", "type": "PROMPT_INJECTION", "mode": "BLOCK"},
            [(["input", "name"], "REQUIRED")],
        ),
        (
            "createGuardrail",
            "CreateGuardrailInput",
            {"name": "S", "type": "CONTENT_SAFETY", "mode": "BLOCK", "config": {"threshold": 2}},
            [(["input", "config", "threshold"], "INVALID")],
        ),
    ]
    before = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Team { policySettings { flags { flag } } } } }",
        {"id": team},
        world.admin(t),
    )
    for mutation, input_type, payload, expected in cases:
        assert await _errors(world, t, mutation, input_type, payload) == expected, (mutation, payload)
    guardrail = await _guardrail(world, t, "PII")
    assert await _errors(
        world,
        t,
        "createGuardrail",
        "CreateGuardrailInput",
        {"name": "pii", "type": "PROMPT_INJECTION", "mode": "BLOCK"},
    ) == [(["input", "name"], "DUPLICATE")]
    assert await _errors(
        world,
        t,
        "setGuardrailState",
        "SetGuardrailStateInput",
        {"scopeId": team, "guardrailId": guardrail, "state": "DISABLED", "enforced": True},
    ) == [(["input", "enforced"], "INVALID")]
    assert await _errors(world, t, "updateGuardrail", "UpdateGuardrailInput", {"id": guardrail}) == [
        (["input", "id"], "NOTHING_TO_CHANGE")
    ]
    after = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Team { policySettings { flags { flag } } } } }",
        {"id": team},
        world.admin(t),
    )
    assert before.data == after.data == {"node": {"policySettings": {"flags": []}}}


async def test_who_may_read_and_change_policies(world: World) -> None:
    t = await world.tenant()
    member = world.member(t)
    r = await world.gql(
        "mutation($i: SetFeatureFlagInput!) { setFeatureFlag(input: $i) { userErrors { code } } }",
        {"i": {"scopeId": t.gid("User", "member"), "flag": "CREATE_AGENTS", "enabled": True}},
        member,
    )
    assert r.codes == ["FORBIDDEN"]
    for query in (
        "query($id: ID!) { node(id: $id) { ... on Team { effectiveFlags { flag } } } }",
        "query($id: ID!) { node(id: $id) { ... on User { policySettings { flags { flag } } } } }",
    ):
        scope = t.gid("Team", "platform") if "Team" in query else t.gid("User", "member")
        r = await world.gql(query, {"id": scope}, member)
        assert r.codes == ["FORBIDDEN"], (query, r.body)
    r = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on User { effectiveFlags { flag } } } }",
        {"id": t.gid("User", "admin")},
        member,
    )
    assert r.codes == ["FORBIDDEN"]  # members read only their own effective values
    r = await world.gql("{ featureFlags { key default builtIn } }", token=member)
    assert {f["key"] for f in r.data["featureFlags"]} >= {
        "CREATE_CONNECTIONS",
        "CREATE_AGENTS",
        "IMAGE_GENERATION",
        "MODEL_SELECTION",
    }
    r = await world.gql("{ viewer { account { guardrails { name } } } }", token=member)
    assert r.codes == ["FORBIDDEN"]


async def test_deleting_a_guardrail_removes_its_settings(world: World) -> None:
    t = await world.tenant()
    guardrail = await _guardrail(world, t, "Doomed")
    await _ok(
        world,
        t,
        "setGuardrailState",
        "SetGuardrailStateInput",
        {"scopeId": t.gid("Team", "platform"), "guardrailId": guardrail, "state": "ENABLED"},
    )
    r = await world.gql(
        "mutation($i: DeleteGuardrailInput!) { deleteGuardrail(input: $i) { deletedGuardrailId userErrors { code } } }",
        {"i": {"id": guardrail}},
        world.admin(t),
    )
    assert r.data["deleteGuardrail"] == {"deletedGuardrailId": guardrail, "userErrors": []}
    r = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Team { policySettings { guardrails { state } } "
        "effectiveGuardrails { enabled } } } }",
        {"id": t.gid("Team", "platform")},
        world.admin(t),
    )
    assert r.data["node"] == {"policySettings": {"guardrails": []}, "effectiveGuardrails": []}


async def test_effective_policies_of_a_page_of_users_cost_constant_statements(world: World) -> None:
    q = """query($id: ID!) { node(id: $id) { ... on Team { users(first: 100) { nodes { email
      effectiveModels { allowed { displayName } defaultModel { displayName } trace { removed { displayName } } }
      effectiveFlags { flag enabled } effectiveGuardrails { guardrail { name } enabled }
      effectiveConnectionMode { mode } policySettings { flags { flag } } } } } } }"""
    counts = []
    for size in (2, 40):
        t = await world.tenant()
        alpha = await catalog_model(world, "Alpha")
        await entitle(world, t, [alpha])
        await _guardrail(world, t, "PII")
        team = t.gid("Team", "platform")
        await _ok(
            world, t, "setModelAccess", "SetModelAccessInput", {"scopeId": team, "defaultModelId": model_gid(alpha)}
        )
        for i in range(size):
            r = await world.gql(
                "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
                {"i": {"email": f"u{i}@{t.domain}", "homeTeamId": team}},
                world.admin(t),
            )
            user = r.data["createUser"]["user"]["id"]
            await _ok(
                world,
                t,
                "setFeatureFlag",
                "SetFeatureFlagInput",
                {"scopeId": user, "flag": "CREATE_AGENTS", "enabled": i % 2 == 0},
            )
        r = await world.gql(q, {"id": team}, world.admin(t))
        assert r.errors == [], r.body
        nodes = r.data["node"]["users"]["nodes"]
        assert len(nodes) == size + 1
        assert all(n["effectiveModels"]["defaultModel"] == {"displayName": "Alpha"} for n in nodes)
        counts.append(r.statements)
    assert counts[0] == counts[1], counts


async def test_effective_access_is_never_stale(world: World) -> None:
    """No policy data is cached between requests: every change is in the very next answer. With a plan,
    so that the answers after the first come from the one-call path (cockpit_access_read())."""
    t = await world.tenant()
    plan = {"creditsPerCycle": "100", "renewalDay": 1, "overflowPolicy": "BLOCK"}
    r = await world.gql(
        "mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) { userErrors { code } } }",
        {"i": plan},
        world.admin(t),
    )
    assert r.data["setBudgetPlan"]["userErrors"] == [], r.body
    alpha = await catalog_model(world, "Alpha")
    beta = await catalog_model(world, "Beta")
    await entitle(world, t, [alpha, beta])
    user = t.gid("User", "member")
    await _ok(
        world,
        t,
        "setModelAccess",
        "SetModelAccessInput",
        {"scopeId": t.account_gid, "defaultModelId": model_gid(alpha)},
    )
    root = await world.super_admin()

    async def chosen() -> str | None:
        r = await world.gql(ACCESS, {"u": user}, world.admin(t))
        model = r.data["effectiveAccess"]["model"]
        return model["displayName"] if model else None

    assert await chosen() == "Alpha"
    r = await world.gql(ACCESS, {"u": user}, world.admin(t))
    assert r.statements == 2, r.statements  # the one-call path from here on
    await _ok(
        world,
        t,
        "setModelAccess",
        "SetModelAccessInput",
        {"scopeId": t.gid("Team", "platform"), "defaultModelId": model_gid(beta)},
    )
    assert await chosen() == "Beta"  # a nearer default
    r = await world.gql(
        "mutation($i: UpdateModelInput!) { updateModel(input: $i) { userErrors { code } } }",
        {"i": {"id": model_gid(beta), "enabled": False}},
        root,
    )
    assert r.data["updateModel"]["userErrors"] == []
    assert await chosen() == "Alpha"  # the catalog disabled Beta
    r = await world.gql(
        "mutation($i: UpdateAccountEntitlementsInput!) "
        "{ updateAccountEntitlements(input: $i) { userErrors { code } } }",
        {"i": {"id": t.account_gid, "allowAllModels": False, "allowedModelIds": [model_gid(beta)]}},
        root,
    )
    assert r.data["updateAccountEntitlements"]["userErrors"] == []
    assert await chosen() is None  # the entitlement leaves no enabled model


async def test_effective_access_for_many_users_is_batched(world: World) -> None:
    """Aliases of effectiveAccess in one request share one transaction: the statement count does
    not grow with the number of users asked about."""
    t = await world.tenant()
    alpha = await catalog_model(world, "Alpha")
    await entitle(world, t, [alpha])
    users = [t.gid("User", "member"), t.gid("User", "admin")]
    for i in range(6):
        r = await world.gql(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            {"i": {"email": f"b{i}@{t.domain}", "homeTeamId": t.gid("Team", "platform")}},
            world.admin(t),
        )
        users.append(r.data["createUser"]["user"]["id"])

    async def ask(ids: list[str]) -> tuple[int, dict[str, Any]]:
        fields = " ".join(
            f'u{i}: effectiveAccess(userId: "{u}") {{ allowed reasons budget {{ remaining }} }}'
            for i, u in enumerate(ids)
        )
        r = await world.gql(f"{{ {fields} }}", token=world.admin(t))
        assert r.errors == [], r.body
        return r.statements, r.data

    one, data = await ask(users[:1])
    many, data = await ask(users)
    assert one == many, (one, many)
    assert len(data) == len(users)
    assert all(v["reasons"] == ["NO_MODEL_AVAILABLE", "NO_PLAN"] for v in data.values())  # no default, no plan


async def _default_model(world: World, t: Tenant, name: str, **prices: str) -> uuid.UUID:
    """A catalog model the account is entitled to and uses by default."""
    model = await catalog_model(world, name, **prices)
    await entitle(world, t, [model])
    default = {"scopeId": t.account_gid, "defaultModelId": model_gid(model)}
    await _ok(world, t, "setModelAccess", "SetModelAccessInput", default)
    return model


ALLOCATION_FIELDS = (
    "scope { level id } hasPlan cap capSource spent reserved remaining bindingScope { level id } "
    "allocatedToChildren poolHeadroom overflowHeadroom "
    "trace { scope { level id } cap capSource capSourceScope { level id } spent reserved headroom }"
)


async def test_effective_access_reads_in_one_statement_what_the_users_own_fields_read(world: World) -> None:
    """Once the account's renewal day is known, the runtime's question costs two statements
    (authentication, and ONE call reading the placement, policy inputs and budget snapshot outside a
    transaction), and its budget, models, flags, guardrails and connection mode equal the user's own
    effective fields, which read them through the general paths (a team cap, a default user cap and a
    flag at the team make the chain non-trivial)."""
    t = await world.tenant()
    await _default_model(world, t, "Alpha")
    team = t.gid("Team", "platform")
    await _ok(
        world,
        t,
        "setFeatureFlag",
        "SetFeatureFlagInput",
        {"scopeId": team, "flag": "IMAGE_GENERATION", "enabled": True},
    )
    for mutation, input_type, payload in (
        (
            "setBudgetPlan",
            "SetBudgetPlanInput",
            {"creditsPerCycle": "1000", "renewalDay": 1, "overflowPolicy": "BLOCK"},
        ),
        ("setBudgetCap", "SetBudgetCapInput", {"scopeId": team, "credits": "300"}),
        ("setDefaultUserCap", "SetBudgetCapInput", {"scopeId": t.account_gid, "credits": "120.5"}),
    ):
        r = await world.gql(
            f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ userErrors {{ code }} }} }}",
            {"i": payload},
            world.admin(t),
        )
        assert r.data[mutation]["userErrors"] == [], r.body
    user = t.gid("User", "member")
    policies = USER_EFFECTIVE.split("... on User {")[1].rsplit("} } }", 1)[0]
    access = (
        "query($u: ID!) { effectiveAccess(userId: $u) { allowed "
        f"budget {{ {ALLOCATION_FIELDS} }} models {{ allowed {{ displayName }} defaultModel {{ displayName }} }} "
        "flags { flag enabled locked decidedBy } guardrails { guardrail { name } enabled enforced } "
        "connectionMode { mode locked decidedBy } } }"
    )
    await world.gql(access, {"u": user}, world.admin(t))  # the first call may learn the renewal day
    r = await world.gql(access, {"u": user}, world.admin(t))
    assert r.errors == [], r.body
    assert r.statements == 2, r.statements
    answer = r.data["effectiveAccess"]
    own = await world.gql(
        f"query($id: ID!) {{ node(id: $id) {{ ... on User {{ effectiveAllocation {{ {ALLOCATION_FIELDS} }} "
        f"{policies} }} }} }}",
        {"id": user},
        world.admin(t),
    )
    assert own.errors == [], own.body
    mine = own.data["node"]
    assert answer["allowed"] is True
    assert answer["budget"] == mine["effectiveAllocation"]
    assert answer["budget"]["remaining"] == "120.500000" and answer["budget"]["capSource"] == "DEFAULT"
    assert answer["models"]["allowed"] == mine["effectiveModels"]["allowed"]
    assert answer["models"]["defaultModel"] == mine["effectiveModels"]["defaultModel"] == {"displayName": "Alpha"}
    flags = [{k: f[k] for k in ("flag", "enabled", "locked", "decidedBy")} for f in mine["effectiveFlags"]]
    assert answer["flags"] == flags and {"flag": "IMAGE_GENERATION", "enabled": True} in [
        {"flag": f["flag"], "enabled": f["enabled"]} for f in flags
    ]
    guardrails = [{k: g[k] for k in ("guardrail", "enabled", "enforced")} for g in mine["effectiveGuardrails"]]
    assert answer["guardrails"] == guardrails
    mode = mine["effectiveConnectionMode"]
    assert answer["connectionMode"] == {k: mode[k] for k in ("mode", "locked", "decidedBy")}


MODEL_FIELDS = (
    "id provider providerModelId displayName capabilities inputUsdPerMillionTokens outputUsdPerMillionTokens "
    "enabled deprecated createdAt updatedAt"
)


async def test_the_chosen_model_comes_with_the_answer_exactly_as_the_catalog_has_it(world: World) -> None:
    """effectiveAccess reads the chosen model's row with the policy inputs: `model { … }` costs no
    statement of its own, and every field equals what `node(id:)` reads from the catalog table
    (prices to the last decimal, timestamps to the microsecond)."""
    t = await world.tenant()
    priced = await _default_model(world, t, "Priced", price_in="2.1234567891", price_out="0.0000000001")
    user = t.gid("User", "member")
    plain = await world.gql("query($u: ID!) { effectiveAccess(userId: $u) { allowed } }", {"u": user}, world.admin(t))
    with_model = await world.gql(
        f"query($u: ID!) {{ effectiveAccess(userId: $u) {{ allowed model {{ {MODEL_FIELDS} }} }} }}",
        {"u": user},
        world.admin(t),
    )
    assert with_model.errors == [], with_model.body
    assert with_model.statements == plain.statements, (with_model.statements, plain.statements)
    node = await world.gql(
        f'{{ node(id: "{model_gid(priced)}") {{ ... on Model {{ {MODEL_FIELDS} }} }} }}', token=world.admin(t)
    )
    assert node.errors == [], node.body
    assert with_model.data["effectiveAccess"]["model"] == node.data["node"]
    assert node.data["node"]["inputUsdPerMillionTokens"] == "2.1234567891"


async def test_an_account_has_at_most_max_guardrails(world: World, monkeypatch: Any) -> None:
    from cockpit_graphql.domain.policies import service

    monkeypatch.setattr(service, "MAX_GUARDRAILS", 2)
    t = await world.tenant()
    await _guardrail(world, t, "One")
    await _guardrail(world, t, "Two")
    errors = await _errors(
        world,
        t,
        "createGuardrail",
        "CreateGuardrailInput",
        {"name": "Three", "type": "PROMPT_INJECTION", "mode": "BLOCK"},
    )
    assert errors == [(["input", "name"], "INVALID")]
