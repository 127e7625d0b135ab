"""Directory rules: Global defaults, moves, deletes with moveMembersTo, last admin, validation, paging."""

from __future__ import annotations

from typing import Any

import pytest

from cockpit_graphql.types.ids import decode_id
from tests.support.world import Tenant, World


async def mutate(world: World, token: str, name: str, input_type: str, selection: str, payload: dict[str, Any]) -> Any:
    q = f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {selection} userErrors {{ field code message }} }} }}"
    r = await world.gql(q, {"i": payload}, token=token)
    assert r.errors == [], r.body
    return r.data[name]


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["userErrors"]]


@pytest.fixture
async def t(world: World) -> Tenant:
    return await world.tenant()


async def test_global_defaults_are_protected(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    for name, input_type, payload in [
        ("deleteOrganization", "DeleteOrganizationInput", {"id": t.gid("Organization", "global_org")}),
        ("deleteTeam", "DeleteTeamInput", {"id": t.gid("Team", "global_team")}),
        ("updateTeam", "UpdateTeamInput", {"id": t.gid("Team", "global_team"), "name": "Other"}),
        (
            "moveTeam",
            "MoveTeamInput",
            {"id": t.gid("Team", "global_team"), "organizationId": t.gid("Organization", "eng")},
        ),
    ]:
        result = await mutate(world, admin, name, input_type, "__typename", payload)
        assert codes(result) == ["DEFAULT_PROTECTED"], name


async def test_delete_requires_empty_or_move_members_to(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    result = await mutate(world, admin, "deleteTeam", "DeleteTeamInput", "deletedId", {"id": t.gid("Team", "platform")})
    assert codes(result) == ["NOT_EMPTY"] and result["deletedId"] is None
    result = await mutate(
        world,
        admin,
        "deleteTeam",
        "DeleteTeamInput",
        "deletedId",
        {"id": t.gid("Team", "platform"), "moveMembersTo": t.gid("Team", "global_team")},
    )
    assert result["userErrors"] == [] and result["deletedId"] == t.gid("Team", "platform")
    r = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Team { users { totalCount nodes { email } } } } }",
        {"id": t.gid("Team", "global_team")},
        token=admin,
    )
    assert t.member_email in [n["email"] for n in r.data["node"]["users"]["nodes"]]


async def test_delete_organization_moves_its_teams(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    result = await mutate(
        world,
        admin,
        "deleteOrganization",
        "DeleteOrganizationInput",
        "deletedId",
        {"id": t.gid("Organization", "eng"), "moveMembersTo": t.gid("Organization", "eng")},
    )
    assert codes(result) == ["INVALID_TARGET"]
    result = await mutate(
        world,
        admin,
        "deleteOrganization",
        "DeleteOrganizationInput",
        "deletedId",
        {"id": t.gid("Organization", "eng"), "moveMembersTo": t.gid("Organization", "global_org")},
    )
    assert result["userErrors"] == []
    r = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Team { organization { isDefault } } } }",
        {"id": t.gid("Team", "platform")},
        token=admin,
    )
    assert r.data["node"]["organization"]["isDefault"] is True


async def test_team_name_clash_on_move(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    await mutate(
        world,
        admin,
        "createTeam",
        "CreateTeamInput",
        "team { id }",
        {"organizationId": t.gid("Organization", "global_org"), "name": "PLATFORM"},
    )
    result = await mutate(
        world,
        admin,
        "moveTeam",
        "MoveTeamInput",
        "team { id }",
        {"id": t.gid("Team", "platform"), "organizationId": t.gid("Organization", "global_org")},
    )
    assert codes(result) == ["DUPLICATE"]


async def test_last_admin_cannot_be_demoted_or_deleted(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    demote = await mutate(
        world, admin, "updateUser", "UpdateUserInput", "user { role }", {"id": t.gid("User", "admin"), "role": "MEMBER"}
    )
    assert codes(demote) == ["LAST_ADMIN"]
    promote = await mutate(
        world,
        admin,
        "updateUser",
        "UpdateUserInput",
        "user { role }",
        {"id": t.gid("User", "member"), "role": "ACCOUNT_ADMIN"},
    )
    assert promote["user"]["role"] == "ACCOUNT_ADMIN"
    demote = await mutate(
        world, admin, "updateUser", "UpdateUserInput", "user { role }", {"id": t.gid("User", "admin"), "role": "MEMBER"}
    )
    assert demote["userErrors"] == [] and demote["user"]["role"] == "MEMBER"


async def test_user_validation_and_roles_from_database(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    bad = await mutate(world, admin, "createUser", "CreateUserInput", "user { id }", {"email": "not-an-email"})
    assert bad["userErrors"] == [
        {"field": ["input", "email"], "code": "INVALID", "message": bad["userErrors"][0]["message"]}
    ]
    dup = await mutate(world, admin, "createUser", "CreateUserInput", "user { id }", {"email": t.member_email.upper()})
    assert codes(dup) == ["DUPLICATE"]
    sa_role = await mutate(
        world, admin, "createUser", "CreateUserInput", "user { id }", {"email": f"x@{t.domain}", "role": "SUPER_ADMIN"}
    )
    assert codes(sa_role) == ["INVALID"]
    ok = await mutate(
        world,
        admin,
        "createUser",
        "CreateUserInput",
        "user { email role homeTeam { isDefault } }",
        {"email": f"  New.Person@{t.domain.upper()} ", "displayName": "New"},
    )
    assert ok["user"] == {"email": f"new.person@{t.domain}", "role": "MEMBER", "homeTeam": {"isDefault": True}}


async def test_blank_and_long_names(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    blank = await mutate(
        world, admin, "createOrganization", "CreateOrganizationInput", "organization { id }", {"name": "   "}
    )
    assert codes(blank) == ["REQUIRED"]
    long = await mutate(
        world, admin, "createOrganization", "CreateOrganizationInput", "organization { id }", {"name": "x" * 201}
    )
    assert codes(long) == ["TOO_LONG"]
    wrong_type = await mutate(
        world,
        admin,
        "createTeam",
        "CreateTeamInput",
        "team { id }",
        {"organizationId": t.gid("Team", "platform"), "name": "Y"},
    )
    assert wrong_type["userErrors"][0]["field"] == ["input", "organizationId"]


async def test_members_cannot_manage_or_list_users(world: World, t: Tenant) -> None:
    member = world.member(t)
    r = await world.gql('mutation { createOrganization(input: {name: "M"}) { organization { id } } }', token=member)
    assert r.codes == ["FORBIDDEN"]
    r = await world.gql("{ viewer { account { users { totalCount } } } }", token=member)
    assert r.codes == ["FORBIDDEN"]
    r = await world.gql("query($id: ID!) { node(id: $id) { id } }", {"id": t.gid("User", "admin")}, token=member)
    assert r.codes == ["FORBIDDEN"]
    r = await world.gql(
        "{ viewer { user { email homeTeam { name organization { name } } } account { name } } }", token=member
    )
    assert r.errors == [] and r.data["viewer"]["user"]["homeTeam"]["organization"]["name"] == "Engineering"


async def test_keyset_pagination_forwards_and_backwards(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    for i in range(7):
        await mutate(
            world,
            admin,
            "createTeam",
            "CreateTeamInput",
            "team { id }",
            {"organizationId": t.gid("Organization", "eng"), "name": f"Squad {i}"},
        )
    q = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) { node(id: $id) {
      ... on Organization { teams(first: $first, after: $after, last: $last, before: $before) {
        totalCount edges { cursor node { name } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } }"""
    org = t.gid("Organization", "eng")
    names: list[str] = []
    after = None
    while True:
        r = await world.gql(q, {"id": org, "first": 3, "after": after}, token=admin)
        page = r.data["node"]["teams"]
        assert page["totalCount"] == 8
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == sorted(names) and len(names) == 8
    r = await world.gql(q, {"id": org, "last": 3}, token=admin)
    tail = r.data["node"]["teams"]
    assert [e["node"]["name"] for e in tail["edges"]] == names[-3:]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    r = await world.gql(q, {"id": org, "last": 2, "before": tail["pageInfo"]["startCursor"]}, token=admin)
    assert [e["node"]["name"] for e in r.data["node"]["teams"]["edges"]] == names[-5:-3]


async def test_filters_and_ordering(world: World, t: Tenant) -> None:
    admin = world.admin(t)
    q = """query($f: UserListFilter, $o: DirectoryOrder) { viewer { account {
      users(filter: $f, orderBy: $o) { totalCount nodes { email } } } } }"""
    r = await world.gql(q, {"f": {"role": "ACCOUNT_ADMIN"}}, token=admin)
    assert [n["email"] for n in r.data["viewer"]["account"]["users"]["nodes"]] == [t.admin_email]
    r = await world.gql(q, {"f": {"search": "MEMB"}}, token=admin)
    assert r.data["viewer"]["account"]["users"]["totalCount"] == 1
    r = await world.gql(q, {"o": {"field": "NAME", "direction": "DESC"}}, token=admin)
    emails = [n["email"] for n in r.data["viewer"]["account"]["users"]["nodes"]]
    assert emails == sorted(emails, reverse=True)
    r = await world.gql(q, {"f": {"search": "100%_"}}, token=admin)
    assert r.data["viewer"]["account"]["users"]["totalCount"] == 0


async def test_super_admin_creates_and_manages_accounts(world: World) -> None:
    token = await world.super_admin()
    r = await world.gql(
        """mutation($i: CreateAccountInput!) { createAccount(input: $i) {
        account { id name status creditsPerUsd sso { issuer allowedEmailDomains jitEnabled jitDefaultRole }
          organizations { nodes { name isDefault } } teams { nodes { name isDefault } } users { nodes { email role } } }
        userErrors { field code message } } }""",
        {
            "i": {
                "name": "Initech",
                "externalOrgId": "initech-org",
                "creditsPerUsd": "1500.25",
                "sso": {
                    "issuer": "https://idp.initech.test",
                    "allowedEmailDomains": ["Initech.test", "initech.test"],
                    "jitEnabled": True,
                },
                "initialAdminEmail": "boss@initech.test",
            }
        },
        token=token,
    )
    assert r.errors == [], r.body
    account = r.data["createAccount"]["account"]
    assert account["creditsPerUsd"] == "1500.25" and account["status"] == "ACTIVE"
    assert account["sso"] == {
        "issuer": "https://idp.initech.test",
        "allowedEmailDomains": ["initech.test"],
        "jitEnabled": True,
        "jitDefaultRole": "MEMBER",
    }
    assert account["organizations"]["nodes"] == [{"name": "Global", "isDefault": True}]
    assert account["teams"]["nodes"] == [{"name": "Global", "isDefault": True}]
    assert account["users"]["nodes"] == [{"email": "boss@initech.test", "role": "ACCOUNT_ADMIN"}]
    dup = await world.gql(
        """mutation($i: CreateAccountInput!) { createAccount(input: $i) { userErrors { code } } }""",
        {"i": {"name": "Again", "externalOrgId": "initech-org", "sso": {"issuer": "https://idp.initech.test"}}},
        token=token,
    )
    assert dup.data["createAccount"]["userErrors"] == [{"code": "DUPLICATE"}]
    bad = await world.gql(
        """mutation($i: CreateAccountInput!) { createAccount(input: $i) { userErrors { code } } }""",
        {"i": {"name": "Bad", "externalOrgId": "bad", "sso": {"issuer": "ftp://nope"}}},
        token=token,
    )
    assert bad.data["createAccount"]["userErrors"] == [{"code": "INVALID"}]
    r = await world.gql(
        "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { userErrors { code } } }",
        {"i": {"name": "No account named"}},
        token=token,
    )
    assert r.data["createOrganization"]["userErrors"] == [{"code": "NOT_FOUND"}]
    r = await world.gql(
        "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { name } } }",
        {"i": {"name": "Ops", "accountId": account["id"]}},
        token=token,
    )
    assert r.data["createOrganization"]["organization"] == {"name": "Ops"}


@pytest.mark.parametrize(
    ("kind", "delete", "extra"),
    [
        ("Team", "deleteTeam", {"moveMembersTo": "global_team"}),
        ("User", "deleteUser", {}),
    ],
)
async def test_a_deleted_scope_takes_its_assignments_and_settings_with_it(
    world: World, t: Tenant, kind: str, delete: str, extra: dict[str, str]
) -> None:
    """Connection assignments, policy settings, budget caps: nothing keeps pointing at a deleted node."""
    from cockpit_graphql.auth.tenant import mint_for_system
    from cockpit_graphql.db.tables import BudgetCap, ConnectionAssignment, PolicySetting

    admin = world.admin(t)
    scope = t.gid("Team", "platform") if kind == "Team" else t.gid("User", "member")
    connection = await mutate(
        world,
        admin,
        "createConnection",
        "CreateConnectionInput",
        "connection { id assignedTo { level } }",
        {"name": "S", "type": "SLACK", "config": {"workspace": "w"}, "scopeId": scope},
    )
    assert connection["connection"]["assignedTo"] == [{"level": kind.upper()}], connection
    for name, input_type, payload in (
        ("setFeatureFlag", "SetFeatureFlagInput", {"scopeId": scope, "flag": "CREATE_AGENTS", "enabled": True}),
        ("setConnectionMode", "SetConnectionModeInput", {"scopeId": scope, "mode": "ADMIN_MANAGED"}),
    ):
        assert (await mutate(world, admin, name, input_type, "__typename", payload))["userErrors"] == [], name
    r = await world.gql(
        "mutation($i: SetBudgetPlanInput!) { setBudgetPlan(input: $i) { userErrors { code } } }",
        {"i": {"creditsPerCycle": "100", "renewalDay": 1}},
        token=admin,
    )
    assert r.data["setBudgetPlan"]["userErrors"] == [], r.body
    payload = {"scopeId": scope, "credits": "5"}
    cap = await mutate(world, admin, "setBudgetCap", "SetBudgetCapInput", "__typename", payload)
    assert cap["userErrors"] == []
    tables = (ConnectionAssignment, PolicySetting, BudgetCap)

    async def rows_of_scope() -> dict[str, int]:
        import sqlalchemy as sa

        scope_id = decode_id(scope).id
        async with world.db.tenant(mint_for_system(t.account_id)) as s:
            return {
                table.__tablename__: await s.scalar(
                    sa.select(sa.func.count()).select_from(table).where(table.scope_id == scope_id)
                )
                for table in tables
            }

    assert await rows_of_scope() == {"connection_assignments": 1, "policy_settings": 2, "budget_caps": 1}
    payload = {"id": scope, **{k: t.gid("Team", v) for k, v in extra.items()}}
    result = await mutate(world, admin, delete, f"{delete[0].upper()}{delete[1:]}Input", "deletedId", payload)
    assert result["userErrors"] == [], result
    assert await rows_of_scope() == {"connection_assignments": 0, "policy_settings": 0, "budget_caps": 0}
    r = await world.gql(
        "query($id: ID!) { node(id: $id) { ... on Connection { assignedTo { level } } } }",
        {"id": connection["connection"]["id"]},
        token=admin,
    )
    assert r.data["node"]["assignedTo"] == [], r.body
