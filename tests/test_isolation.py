"""The isolation matrix: another account's ids answer exactly as if they did not exist."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.domain.policies import service as policies
from cockpit_graphql.domain.policies.guardrail_types import GuardrailMode, GuardrailType
from cockpit_graphql.schema import schema
from cockpit_graphql.types.ids import NO_ACCOUNT, encode_id
from tests.support.budgets import give_budget_history
from tests.support.world import OP, Tenant, World

NODE_QUERY = "query($id: ID!) { node(id: $id) { id __typename } }"
ENTITIES = """query($reps: [_Any!]!) { _entities(representations: $reps) {
  ... on Account { id name } ... on Organization { id name } ... on Team { id name } ... on User { id email } } }"""


def foreign_ids(b: Tenant) -> dict[str, str]:
    return {
        "Account": b.account_gid,
        "Organization": b.gid("Organization", "eng"),
        "Team": b.gid("Team", "platform"),
        "User": b.gid("User", "member"),
    }


async def test_node_hides_other_accounts_budget_entities(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    for gid in (b.gid("Settlement", "settlement"), b.gid("Reservation", "reservation")):
        r = await world.gql(NODE_QUERY, {"id": gid}, token=world.admin(a))
        assert r.errors == [] and r.data == {"node": None}
    own = await world.gql(NODE_QUERY, {"id": b.gid("Settlement", "settlement")}, token=world.admin(b))
    assert own.data["node"]["__typename"] == "Settlement"
    member = await world.gql(NODE_QUERY, {"id": b.gid("Settlement", "settlement")}, token=world.member(b))
    assert member.codes == ["FORBIDDEN"]


@pytest.fixture(scope="module")
async def pair(world: World) -> tuple[Tenant, Tenant]:
    a, b = await world.tenant(), await world.tenant()
    b.ids |= await give_budget_history(world, b)  # a plan, a held reservation and a settlement to aim at
    tenant_b = mint_for_system(b.account_id)
    async with world.db.tenant(tenant_b) as s:  # and a guardrail
        guardrail = await policies.create_guardrail(
            s, tenant_b, OP, "B's guardrail", GuardrailType.PROMPT_INJECTION, GuardrailMode.BLOCK, {}
        )
    b.ids["guardrail"] = guardrail.id
    return a, b


async def test_node_and_nodes_hide_other_accounts(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    token = world.admin(a)
    for type_name, gid in foreign_ids(b).items():
        r = await world.gql(NODE_QUERY, {"id": gid}, token=token)
        assert r.status == 200 and r.errors == [], (type_name, r.body)
        assert r.data == {"node": None}, type_name
    r = await world.gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": list(foreign_ids(b).values())}, token=token
    )
    assert r.errors == [] and r.data == {"nodes": [None, None, None, None]}
    # Own ids resolve, so the nulls above are the tenancy rule and not a broken resolver.
    r = await world.gql(NODE_QUERY, {"id": a.gid("Team", "platform")}, token=token)
    assert r.data["node"]["__typename"] == "Team"


async def test_forged_ids_with_own_account_but_foreign_rows(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    forged = {
        "Organization": encode_id("Organization", a.account_id, b.ids["eng"]),
        "Team": encode_id("Team", a.account_id, b.ids["platform"]),
        "User": encode_id("User", a.account_id, b.ids["member"]),
    }
    for gid in forged.values():
        r = await world.gql(NODE_QUERY, {"id": gid}, token=world.admin(a))
        assert r.errors == [] and r.data == {"node": None}


async def test_entities_respect_tenancy(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    reps = [{"__typename": t, "id": gid} for t, gid in foreign_ids(b).items()]
    r = await world.gql(ENTITIES, {"reps": reps}, token=world.admin(a))
    assert r.errors == [] and r.data == {"_entities": [None, None, None, None]}
    own = [{"__typename": "Team", "id": a.gid("Team", "platform")}]
    r = await world.gql(ENTITIES, {"reps": own}, token=world.admin(a))
    assert r.data["_entities"][0]["name"] == "Platform"
    anonymous = await world.gql(ENTITIES, {"reps": own})
    assert anonymous.data["_entities"] == [None] and "UNAUTHENTICATED" in anonymous.codes


@pytest.mark.parametrize(
    "rep",
    [
        {"__typename": "Nope", "id": "x"},
        {"id": "x"},
        {"__typename": 5, "id": "x"},
        {"__typename": "Query", "id": "x"},
        {"__typename": "Node", "id": "x"},
        {"__typename": "Viewer", "id": "x"},
        {"__typename": "User"},
        {"__typename": "User", "id": 5},
        {"__typename": "User", "id": {}},
        {"__typename": "User", "id": []},
        {"__typename": "User", "id": None},
        {"__typename": "Team", "id": "x", "name": "y"},
        "abc",
        5,
        [],
    ],
)
async def test_a_malformed_representation_is_bad_user_input(
    world: World, pair: tuple[Tenant, Tenant], rep: object
) -> None:
    """Each was INTERNAL (strawberry read the representation blindly); now an error at its own index,
    while the representations around it resolve as before (own: the entity, another account's: null)."""
    a, b = pair
    own = {"__typename": "Team", "id": a.gid("Team", "platform")}
    foreign = {"__typename": "Team", "id": b.gid("Team", "platform")}
    r = await world.gql(ENTITIES, {"reps": [own, rep, foreign]}, token=world.admin(a))
    assert r.data == {"_entities": [{"id": own["id"], "name": "Platform"}, None, None]}, r.body
    assert r.codes == ["BAD_USER_INPUT"] and r.errors[0]["path"] == ["_entities", 1], r.body
    assert r.errors[0]["message"].startswith("Representation 1: "), r.body


async def test_a_malformed_inline_representation_is_bad_user_input(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, _ = pair
    r = await world.gql('{ _entities(representations: [{__typename: "User"}]) { __typename } }', token=world.admin(a))
    assert r.data == {"_entities": [None]} and r.codes == ["BAD_USER_INPUT"], r.body


async def test_account_query_hides_other_accounts(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    r = await world.gql("query($id: ID) { account(id: $id) { name } }", {"id": b.account_gid}, token=world.admin(a))
    assert r.errors == [] and r.data == {"account": None}
    r = await world.gql("{ accounts { totalCount } }", token=world.admin(a))
    assert r.codes == ["FORBIDDEN"] and r.data is None


def _mutation_cases(a: Tenant, b: Tenant) -> dict[str, tuple[str, dict[str, object], str]]:
    """Every mutation, called by A's admin with B's ids: (selection, input, expected outcome)."""
    return {
        "createOrganization": ("organization { id }", {"name": "X", "accountId": b.account_gid}, "NOT_FOUND"),
        "updateOrganization": ("organization { id }", {"id": b.gid("Organization", "eng"), "name": "X"}, "NOT_FOUND"),
        "deleteOrganization": ("deletedId", {"id": b.gid("Organization", "eng")}, "NOT_FOUND"),
        "createTeam": ("team { id }", {"organizationId": b.gid("Organization", "eng"), "name": "X"}, "NOT_FOUND"),
        "updateTeam": ("team { id }", {"id": b.gid("Team", "platform"), "name": "X"}, "NOT_FOUND"),
        "moveTeam": (
            "team { id }",
            {"id": a.gid("Team", "platform"), "organizationId": b.gid("Organization", "eng")},
            "NOT_FOUND",
        ),
        "deleteTeam": ("deletedId", {"id": b.gid("Team", "platform")}, "NOT_FOUND"),
        "createUser": ("user { id }", {"email": f"x@{a.domain}", "homeTeamId": b.gid("Team", "platform")}, "NOT_FOUND"),
        "updateUser": ("user { id }", {"id": b.gid("User", "member"), "displayName": "X"}, "NOT_FOUND"),
        "moveUser": ("user { id }", {"id": a.gid("User", "member"), "teamId": b.gid("Team", "platform")}, "NOT_FOUND"),
        "deleteUser": ("deletedId", {"id": b.gid("User", "member")}, "NOT_FOUND"),
        "createAccount": (
            "account { id }",
            {"name": "X", "externalOrgId": "x", "sso": {"issuer": "https://x.test"}},
            "FORBIDDEN",
        ),
        "updateAccount": ("account { id }", {"id": b.account_gid, "name": "X"}, "FORBIDDEN"),
        "suspendAccount": ("account { id }", {"id": b.account_gid}, "FORBIDDEN"),
        "reactivateAccount": ("account { id }", {"id": b.account_gid}, "FORBIDDEN"),
        "updateAccountEntitlements": ("account { id }", {"id": b.account_gid, "allowAllModels": False}, "FORBIDDEN"),
        "setAccountRateLimit": (
            "account { id }",
            {"accountId": b.account_gid, "capacity": 1, "refillPerSecond": 1},
            "FORBIDDEN",
        ),
        "setBudgetPlan": (
            "plan { id }",
            {"accountId": b.account_gid, "creditsPerCycle": "5", "renewalDay": 1},
            "NOT_FOUND",
        ),
        "setBudgetCap": ("scope { id }", {"scopeId": b.gid("Team", "platform"), "credits": "1"}, "NOT_FOUND"),
        "clearBudgetCap": ("scope { id }", {"scopeId": b.gid("User", "member")}, "NOT_FOUND"),
        "setDefaultUserCap": ("scope { id }", {"scopeId": b.account_gid, "credits": "1"}, "NOT_FOUND"),
        "clearDefaultUserCap": ("scope { id }", {"scopeId": b.gid("Organization", "eng")}, "NOT_FOUND"),
        "adjustCredits": ("entry { id }", {"accountId": b.account_gid, "credits": "5", "reason": "x"}, "NOT_FOUND"),
        "renewBudgetCycle": ("renewals { expired }", {"accountId": b.account_gid}, "NOT_FOUND"),
        "authorizeUsage": (
            "authorization { allowed }",
            {"userId": b.gid("User", "member"), "estimatedCredits": "1"},
            "NOT_FOUND",
        ),
        "recordUsage": (
            "result { replayed }",
            {"idempotencyKey": "k", "userId": b.gid("User", "member"), "costUsd": "1"},
            "NOT_FOUND",
        ),
        "recordUsageBatch": (
            "results { replayed }",
            {"events": [{"idempotencyKey": "k", "costUsd": "1", "userId": b.gid("User", "member")}]},
            "NOT_FOUND",
        ),
        "settleReservation": (
            "result { replayed }",
            {
                "reservationId": b.gid("Reservation", "reservation"),
                "usage": {"idempotencyKey": "k", "costUsd": "1", "userId": b.gid("User", "member")},
            },
            "NOT_FOUND",
        ),
        "releaseReservation": (
            "reservation { id }",
            {"reservationId": b.gid("Reservation", "reservation")},
            "NOT_FOUND",
        ),
        "invoiceSettlement": ("settlement { id }", {"id": b.gid("Settlement", "settlement")}, "NOT_FOUND"),
        "settleSettlement": (
            "settlement { id }",
            {"id": b.gid("Settlement", "settlement"), "externalReference": "x"},
            "NOT_FOUND",
        ),
        "writeOffSettlement": (
            "settlement { id }",
            {"id": b.gid("Settlement", "settlement"), "reason": "x"},
            "FORBIDDEN",
        ),
        "setModelAccess": ("scope { id }", {"scopeId": b.gid("Team", "platform"), "denyModelIds": []}, "NOT_FOUND"),
        "clearModelAccess": ("scope { id }", {"scopeId": b.account_gid}, "NOT_FOUND"),
        "setFeatureFlag": (
            "scope { id }",
            {"scopeId": b.gid("User", "member"), "flag": "CREATE_AGENTS", "enabled": True},
            "NOT_FOUND",
        ),
        "clearFeatureFlag": (
            "scope { id }",
            {"scopeId": b.gid("Organization", "eng"), "flag": "CREATE_AGENTS"},
            "NOT_FOUND",
        ),
        "setConnectionMode": ("scope { id }", {"scopeId": b.account_gid, "mode": "SELF_MANAGED_ALLOWED"}, "NOT_FOUND"),
        "clearConnectionMode": ("scope { id }", {"scopeId": b.gid("Team", "platform")}, "NOT_FOUND"),
        "createGuardrail": (
            "guardrail { id }",
            {
                "accountId": b.account_gid,
                "name": "X",
                "type": "WEBHOOK",
                "mode": "MONITOR",
                "config": {"url": "https://x.test"},
            },
            "NOT_FOUND",
        ),
        "updateGuardrail": ("guardrail { id }", {"id": b.gid("Guardrail", "guardrail"), "name": "X"}, "NOT_FOUND"),
        "deleteGuardrail": ("deletedGuardrailId", {"id": b.gid("Guardrail", "guardrail")}, "NOT_FOUND"),
        # B's guardrail at A's scope, and A's scope with B's guardrail: neither is found
        "setGuardrailState": (
            "scope { id }",
            {"scopeId": a.account_gid, "guardrailId": b.gid("Guardrail", "guardrail"), "state": "ENABLED"},
            "NOT_FOUND",
        ),
        "clearGuardrailState": (
            "scope { id }",
            {"scopeId": b.account_gid, "guardrailId": b.gid("Guardrail", "guardrail")},
            "NOT_FOUND",
        ),
        # Platform mutations (the model catalog) belong to no account: every account admin is refused.
        "createModel": (
            "model { id }",
            {"provider": "OPENAI", "providerModelId": "x", "capabilities": ["CHAT"]},
            "FORBIDDEN",
        ),
        "updateModel": (
            "model { id }",
            {"id": encode_id("Model", NO_ACCOUNT, uuid.uuid4()), "displayName": "X"},
            "FORBIDDEN",
        ),
        "deleteModel": ("deletedModelId", {"id": encode_id("Model", NO_ACCOUNT, uuid.uuid4())}, "FORBIDDEN"),
        "reconcileIdentities": ("dryRun", {"accountId": b.account_gid}, "NOT_FOUND"),
        # Connections: B's connection (a forged id in B's account) is not found; A's admin has no
        # CREATE_CONNECTIONS, so a personal connection is refused before anything is written.
        "createConnection": (
            "connection { id }",
            {"accountId": b.account_gid, "name": "X", "type": "SLACK", "config": {"workspace": "x"}},
            "NOT_FOUND",
        ),
        "createPersonalConnection": (
            "connection { id }",
            {"name": "X", "type": "SLACK", "config": {"workspace": "x"}},
            "FORBIDDEN",
        ),
        "updateConnection": (
            "connection { id }",
            {"id": encode_id("Connection", b.account_id, uuid.uuid4()), "name": "X"},
            "NOT_FOUND",
        ),
        "deleteConnection": (
            "deletedConnectionId",
            {"id": encode_id("Connection", b.account_id, uuid.uuid4())},
            "NOT_FOUND",
        ),
        "assignConnection": (
            "connection { id }",
            {"connectionId": encode_id("Connection", b.account_id, uuid.uuid4()), "scopeId": a.account_gid},
            "NOT_FOUND",
        ),
        "unassignConnection": (
            "connection { id }",
            {"connectionId": encode_id("Connection", a.account_id, uuid.uuid4()), "scopeId": b.gid("Team", "platform")},
            "NOT_FOUND",
        ),
        # agents and the marketplace: B's agent (or A's account for B's scope) is not found
        "createAgent": ("agent { id }", {"name": "X", "ownerId": b.account_gid}, "NOT_FOUND"),
        "updateAgent": (
            "agent { id }",
            {"id": encode_id("Agent", b.account_id, uuid.uuid4()), "name": "X"},
            "NOT_FOUND",
        ),
        "publishAgent": ("agent { id }", {"id": encode_id("Agent", b.account_id, uuid.uuid4())}, "NOT_FOUND"),
        "archiveAgent": ("agent { id }", {"id": encode_id("Agent", b.account_id, uuid.uuid4())}, "NOT_FOUND"),
        "deleteAgent": ("deletedAgentId", {"id": encode_id("Agent", b.account_id, uuid.uuid4())}, "NOT_FOUND"),
        "assignAgent": (
            "agent { id }",
            {"agentId": encode_id("Agent", b.account_id, uuid.uuid4()), "scopeId": b.gid("Team", "platform")},
            "NOT_FOUND",
        ),
        "unassignAgent": (
            "agent { id }",
            {"agentId": encode_id("Agent", b.account_id, uuid.uuid4()), "scopeId": b.account_gid},
            "NOT_FOUND",
        ),
        "installAgent": ("agent { id }", {"agentId": encode_id("Agent", b.account_id, uuid.uuid4())}, "NOT_FOUND"),
        "uninstallAgent": ("agent { id }", {"agentId": encode_id("Agent", b.account_id, uuid.uuid4())}, "NOT_FOUND"),
        "acknowledgeAnomaly": (
            "anomaly { id }",
            {"id": encode_id("CostAnomaly", b.account_id, uuid.uuid4())},
            "NOT_FOUND",
        ),
        # SCIM tokens: a token for B's account, and revoking a token id in B's account, are not found
        "createScimToken": ("token { id }", {"accountId": b.account_gid, "name": "X"}, "NOT_FOUND"),
        "revokeScimToken": ("token { id }", {"id": encode_id("ScimToken", b.account_id, uuid.uuid4())}, "NOT_FOUND"),
    }


async def _snapshot(world: World, t: Tenant) -> list[tuple[object, ...]]:
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        rows = await s.execute(
            sa.text(
                "SELECT 'o', id::text, name, '' FROM organizations UNION ALL "
                "SELECT 't', id::text, name, organization_id::text FROM teams UNION ALL "
                "SELECT 'u', id::text, email || display_name || role, home_team_id::text FROM users UNION ALL "
                "SELECT 'p', id::text, credits_per_cycle::text, version::text FROM budget_plans UNION ALL "
                "SELECT 'c', scope_id::text, coalesce(cap, -1)::text, coalesce(default_user_cap, -1)::text "
                "FROM budget_caps UNION ALL "
                "SELECT 'l', id::text, kind, amount::text FROM ledger_entries UNION ALL "
                "SELECT 'r', id::text, status, credits::text FROM budget_reservations UNION ALL "
                "SELECT 's', id::text, status, coalesce(external_reference, '') FROM settlements UNION ALL "
                "SELECT 'e', id::text, idempotency_key, credits::text FROM usage_events ORDER BY 1, 2"
            )
        )
        return [tuple(r) for r in rows]


async def test_every_mutation_with_foreign_ids_changes_nothing(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    cases = _mutation_cases(a, b)
    mutation_fields = set(schema._schema.mutation_type.fields)  # type: ignore[union-attr]
    assert set(cases) == mutation_fields, "every mutation needs an isolation case"
    before = await _snapshot(world, b)
    for name, (selection, payload, expected) in cases.items():
        input_type = schema._schema.mutation_type.fields[name].args["input"].type  # type: ignore[union-attr]
        q = (
            f"mutation($input: {input_type}) {{ {name}(input: $input) {{ {selection} "
            f"userErrors {{ field code message }} }} }}"
        )
        r = await world.gql(q, {"input": payload}, token=world.admin(a))
        assert r.status == 200, (name, r.body)
        if expected == "FORBIDDEN":
            assert r.codes == ["FORBIDDEN"], (name, r.body)
        else:
            assert r.errors == [], (name, r.body)
            result = r.data[name]
            assert [e["code"] for e in result["userErrors"]] == ["NOT_FOUND"], (name, result)
    assert await _snapshot(world, b) == before


async def test_account_admins_cannot_change_the_platform_catalog(world: World, pair: tuple[Tenant, Tenant]) -> None:
    root = await world.super_admin()
    r = await world.gql(
        "mutation($i: CreateModelInput!) { createModel(input: $i) { model { id displayName } } }",
        {"i": {"provider": "OPENAI", "providerModelId": f"iso-{uuid.uuid4().hex[:8]}", "capabilities": ["CHAT"]}},
        token=root,
    )
    model = r.data["createModel"]["model"]
    for t in pair:
        for q, payload in (
            (
                "mutation($i: UpdateModelInput!) { updateModel(input: $i) { model { id } } }",
                {"id": model["id"], "displayName": "mine"},
            ),
            ("mutation($i: DeleteModelInput!) { deleteModel(input: $i) { deletedModelId } }", {"id": model["id"]}),
        ):
            for token in (world.admin(t), world.member(t)):
                refused = await world.gql(q, {"i": payload}, token=token)
                assert refused.codes == ["FORBIDDEN"] and refused.data is None, refused.body
    r = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Model { displayName } } }",
        {"id": model["id"]},
        token=world.member(pair[1]),
    )
    assert r.data["node"] == {"displayName": model["displayName"]}  # unchanged, and readable by any signed-in user


async def test_app_role_sees_only_its_tenant_without_any_filter(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, _ = pair
    async with world.db.tenant(mint_for_system(a.account_id)) as s:
        for table in ("organizations", "teams", "users", "audit_events"):
            accounts = set((await s.scalars(sa.text(f"SELECT DISTINCT account_id FROM {table}"))).all())
            assert accounts == {a.account_id}, table
    async with world.db.platform() as s:  # no account set: tenant tables are empty
        for table in ("organizations", "teams", "users", "oidc_identities", "audit_events"):
            assert await s.scalar(sa.text(f"SELECT count(*) FROM {table}")) == 0, table
        assert await s.scalar(sa.text("SELECT current_user")) == world.settings.app_db_role


async def test_app_role_cannot_write_into_another_tenant(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
        async with world.db.tenant(mint_for_system(a.account_id)) as s:
            await s.execute(
                sa.text("INSERT INTO organizations (account_id, id, name) VALUES (:b, :id, 'intruder')"),
                {"b": b.account_id, "id": uuid.uuid4()},
            )


async def test_app_role_cannot_rewrite_audit_or_bypass_rls(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, _ = pair
    with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
        async with world.db.tenant(mint_for_system(a.account_id)) as s:
            await s.execute(sa.text("DELETE FROM audit_events"))
    with pytest.raises(sa.exc.DBAPIError):
        async with world.db.tenant(mint_for_system(a.account_id)) as s:
            await s.execute(sa.text("ALTER TABLE users DISABLE ROW LEVEL SECURITY"))


async def test_effective_values_of_another_account_are_not_found(world: World, pair: tuple[Tenant, Tenant]) -> None:
    a, b = pair
    r = await world.gql(
        "query($u: ID!) { effectiveAccess(userId: $u) { allowed } }",
        {"u": b.gid("User", "member")},
        token=world.admin(a),
    )
    assert r.errors == [] and r.data == {"effectiveAccess": None}
    forged = encode_id("User", a.account_id, b.ids["member"])  # B's user under A's account: RLS finds nothing
    r = await world.gql(
        "query($u: ID!) { effectiveAccess(userId: $u) { allowed } }", {"u": forged}, token=world.admin(a)
    )
    assert r.errors == [] and r.data == {"effectiveAccess": None}
    r = await world.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": b.gid("Guardrail", "guardrail")}, token=world.admin(a)
    )
    assert r.data == {"node": None}


def test_every_tenant_model_takes_the_account_filter() -> None:
    """The tenant session's explicit account filter names the TenantScoped base (db/engine.py): a
    tenant table whose model forgot the mixin would be guarded by row-level security alone."""
    from sqlmodel import SQLModel

    from cockpit_graphql.db.tables import TENANT_MODELS, TENANT_TABLES
    from cockpit_graphql.db.tables.common import TenantScoped

    mapped = {m.class_ for m in SQLModel._sa_registry.mappers}  # type: ignore[attr-defined]
    scoped = {cls for cls in mapped if issubclass(cls, TenantScoped)}
    assert scoped == set(TENANT_MODELS)
    assert {cls.__tablename__ for cls in scoped} == set(TENANT_TABLES)  # type: ignore[attr-defined]
    assert all("account_id" in cls.__table__.c for cls in scoped)  # type: ignore[attr-defined]


async def test_a_plain_uuid_never_opens_a_tenant_transaction(world: World, pair: tuple[Tenant, Tenant]) -> None:
    """Only the auth layer mints TenantIds: Database.tenant() and enter_tenant() refuse a bare UUID."""
    from cockpit_graphql.db.engine import enter_tenant

    a, _ = pair
    with pytest.raises(TypeError, match="takes a TenantId"):
        async with world.db.tenant(a.account_id):  # type: ignore[arg-type]
            pass
    with pytest.raises(TypeError, match="takes a TenantId"):
        async with world.db.platform() as session:
            await enter_tenant(session, a.account_id)  # type: ignore[arg-type]
