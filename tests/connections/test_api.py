"""Connections through the API: CRUD and validation, personal connections under the flag and the mode,
assignments and `myConnections` along the chain, who may touch what, and secrets that never come out.

Every response body, log record and audit row of this module is kept and checked at the end for the
secret and for its ciphertext (test_zz_* runs last)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import AuditEvent, Connection
from cockpit_graphql.types.ids import encode_id
from tests.support.world import Response, Tenant, World

SECRET = f"xoxb-VERY-SECRET-{uuid.uuid4().hex}"
OTHER_SECRET = f"ghp_ROTATED-SECRET-{uuid.uuid4().hex}"
SEEN: list[str] = []  # every response body and log record of this module
SQL_LOGS: list[str] = []  # SQLAlchemy's statement log (at DEBUG it prints bound parameters)
TENANTS: list[Tenant] = []

CONN = "id name type config hasSecret secretUpdatedAt personal owner { email } assignedTo { level id } createdAt"
PAYLOAD = f"connection {{ {CONN} }} userErrors {{ field code message }}"
MY = f"{{ myConnections {{ totalCount nodes {{ {CONN} }} }} }}"
SLACK = {"workspace": "acme", "defaultChannel": "#ops"}


@pytest.fixture(autouse=True)
def _capture_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)  # every logger, every level (SQLAlchemy sets its own to WARNING: it too)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    yield
    for record in caplog.get_records("call"):
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        (SQL_LOGS if record.name.startswith("sqlalchemy.engine") else SEEN).append(text)


async def gql(world: World, query: str, variables: dict[str, Any] | None, token: str) -> Response:
    r = await world.gql(query, variables, token)
    SEEN.append(json.dumps(r.body))
    return r


async def tenant(world: World) -> Tenant:
    t = await world.tenant()
    TENANTS.append(t)
    return t


async def mutate(world: World, name: str, input_type: str, payload: dict[str, Any], token: str, sel: str = PAYLOAD):
    r = await gql(world, f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {sel} }} }}", {"i": payload}, token)
    return r


async def create(world: World, t: Tenant, name: str, **extra: Any) -> dict[str, Any]:
    payload = {"name": name, "type": "SLACK", "config": SLACK, **extra}
    r = await mutate(world, "createConnection", "CreateConnectionInput", payload, world.admin(t))
    assert r.errors == [] and r.data["createConnection"]["userErrors"] == [], r.body
    return r.data["createConnection"]["connection"]


async def policy(world: World, t: Tenant, mutation: str, input_type: str, payload: dict[str, Any]) -> None:
    sel = "userErrors { code }"
    r = await mutate(world, mutation, input_type, payload, world.admin(t), sel)
    assert r.errors == [] and r.data[mutation]["userErrors"] == [], r.body


def codes(r: Response, name: str) -> list[str]:
    assert r.errors == [], r.body
    return [e["code"] for e in r.data[name]["userErrors"]]


async def test_admin_connections_crud_and_validation(world: World) -> None:
    t = await tenant(world)
    made = await create(world, t, "Team Slack", secret=SECRET)
    assert made["type"] == "SLACK" and made["config"] == {"workspace": "acme", "defaultChannel": "#ops"}
    assert made["hasSecret"] is True and made["secretUpdatedAt"] and made["personal"] is False
    assert made["owner"] is None and made["assignedTo"] == []

    r = await mutate(
        world,
        "createConnection",
        "CreateConnectionInput",
        {
            "name": "Jira",
            "type": "JIRA",
            "config": {"baseUrl": "http://jira.example", "projectKeys": ["ops", "OK"], "apiToken": "x", "color": 1},
        },
        world.admin(t),
    )
    errors = r.data["createConnection"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["input", "config", "apiToken"], "INVALID"),
        (["input", "config", "color"], "INVALID"),
        (["input", "config", "baseUrl"], "INVALID"),
        (["input", "config", "projectKeys"], "INVALID"),
    ]
    assert "secret" in errors[0]["message"]
    r = await mutate(
        world,
        "createConnection",
        "CreateConnectionInput",
        {"name": "team slack", "type": "SLACK", "config": SLACK},
        world.admin(t),
    )
    assert codes(r, "createConnection") == ["DUPLICATE"]
    r = await mutate(
        world,
        "createConnection",
        "CreateConnectionInput",
        {"name": "MCP", "type": "MCP_SERVER", "config": {}},
        world.admin(t),
    )
    assert [e["field"] for e in r.data["createConnection"]["userErrors"]] == [["input", "config", "url"]]
    mcp = await create(world, t, "MCP", type="MCP_SERVER", config={"url": "https://mcp.example/sse"})
    assert mcp["config"] == {"url": "https://mcp.example/sse", "transport": "STREAMABLE_HTTP"}

    upd = "UpdateConnectionInput"
    r = await mutate(
        world,
        "updateConnection",
        upd,
        {"id": made["id"], "name": "Ops Slack", "config": {"workspace": "acme2"}},
        world.admin(t),
    )
    changed = r.data["updateConnection"]["connection"]
    assert changed["name"] == "Ops Slack" and changed["config"] == {"workspace": "acme2"}
    assert changed["secretUpdatedAt"] == made["secretUpdatedAt"]
    r = await mutate(world, "updateConnection", upd, {"id": made["id"], "secret": OTHER_SECRET}, world.admin(t))
    assert r.data["updateConnection"]["connection"]["secretUpdatedAt"] > made["secretUpdatedAt"]
    r = await mutate(
        world, "updateConnection", upd, {"id": made["id"], "secret": SECRET, "clearSecret": True}, world.admin(t)
    )
    assert codes(r, "updateConnection") == ["INVALID"]
    r = await mutate(world, "updateConnection", upd, {"id": made["id"], "clearSecret": True}, world.admin(t))
    assert r.data["updateConnection"]["connection"]["hasSecret"] is False
    r = await mutate(world, "updateConnection", upd, {"id": made["id"], "clearSecret": True}, world.admin(t))
    assert codes(r, "updateConnection") == ["NOTHING_TO_CHANGE"]
    r = await mutate(world, "updateConnection", upd, {"id": made["id"], "name": "Ops Slack"}, world.admin(t))
    assert codes(r, "updateConnection") == ["NOTHING_TO_CHANGE"]
    r = await mutate(world, "updateConnection", upd, {"id": made["id"], "secret": "   "}, world.admin(t))
    assert codes(r, "updateConnection") == ["REQUIRED"]

    listing = """query($f: ConnectionFilter) { connections(first: 10, filter: $f) { totalCount nodes { name } } }"""
    r = await gql(world, listing, {"f": None}, world.admin(t))
    assert r.data["connections"] == {"totalCount": 2, "nodes": [{"name": "MCP"}, {"name": "Ops Slack"}]}
    r = await gql(world, listing, {"f": {"type": "MCP_SERVER"}}, world.admin(t))
    assert r.data["connections"]["nodes"] == [{"name": "MCP"}]
    r = await gql(world, listing, {"f": {"personal": True}}, world.admin(t))
    assert r.data["connections"]["totalCount"] == 0

    r = await mutate(
        world,
        "deleteConnection",
        "DeleteConnectionInput",
        {"id": mcp["id"]},
        world.admin(t),
        "deletedConnectionId userErrors { code }",
    )
    assert r.data["deleteConnection"]["deletedConnectionId"] == mcp["id"]
    r = await gql(world, "query($id: ID!) { node(id: $id) { id } }", {"id": mcp["id"]}, world.admin(t))
    assert r.data["node"] is None

    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        events = (await s.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("connections.%")))).all()
    diffs = [e.diff for e in events]
    assert any((d["after"] or {}).get("secretChanged") is True for d in diffs)
    assert any((d["after"] or {}).get("secretCleared") is True for d in diffs)


async def test_a_secret_without_configured_keys_is_a_user_error(world: World, caplog: pytest.LogCaptureFixture) -> None:
    from cockpit_graphql.app import create_app

    t = await tenant(world)
    keyless = world.settings.model_copy(update={"connection_secret_keys": []})
    app = create_app(keyless, database=world.db)
    logging.getLogger().addHandler(caplog.handler)  # create_app re-configured the root logger
    caplog.set_level(logging.DEBUG)
    query = f"mutation($i: CreateConnectionInput!) {{ createConnection(input: $i) {{ {PAYLOAD} }} }}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:

        async def call(payload: dict[str, Any]) -> dict[str, Any]:
            r = await client.post(
                "/graphql",
                json={"query": query, "variables": {"i": payload}},
                headers={"Authorization": f"Bearer {world.admin(t)}"},
            )
            SEEN.append(r.text)
            assert r.status_code == 200 and "errors" not in r.json(), r.text
            return r.json()["data"]["createConnection"]

        refused = await call({"name": "S", "type": "SLACK", "config": SLACK, "secret": SECRET})
        assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["input", "secret"], "INVALID")]
        assert "CONNECTION_SECRET_KEYS" in refused["userErrors"][0]["message"]
        made = await call({"name": "S", "type": "SLACK", "config": SLACK})  # no secret: nothing to encrypt
        assert made["userErrors"] == [] and made["connection"]["hasSecret"] is False


async def test_personal_connections_need_the_flag_and_the_mode(world: World) -> None:
    t = await tenant(world)
    team, org = t.gid("Team", "platform"), t.gid("Organization", "eng")
    personal = {"name": "My GitHub", "type": "GITHUB", "config": {"organization": "me"}, "secret": SECRET}

    async def create_mine() -> Response:
        return await mutate(
            world, "createPersonalConnection", "CreatePersonalConnectionInput", personal, world.member(t)
        )

    assert (await create_mine()).codes == ["FORBIDDEN"]  # defaults: flag off, ADMIN_MANAGED
    await policy(
        world,
        t,
        "setFeatureFlag",
        "SetFeatureFlagInput",
        {"scopeId": team, "flag": "CREATE_CONNECTIONS", "enabled": True},
    )
    assert (await create_mine()).codes == ["FORBIDDEN"]  # the mode is still ADMIN_MANAGED
    await policy(
        world, t, "setConnectionMode", "SetConnectionModeInput", {"scopeId": org, "mode": "SELF_MANAGED_ALLOWED"}
    )
    r = await create_mine()
    mine = r.data["createPersonalConnection"]["connection"]
    assert mine["personal"] is True and mine["owner"] == {"email": t.member_email} and mine["hasSecret"] is True
    assert codes(await create_mine(), "createPersonalConnection") == ["DUPLICATE"]
    await policy(
        world,
        t,
        "setConnectionMode",
        "SetConnectionModeInput",
        {"scopeId": t.account_gid, "mode": "ADMIN_MANAGED", "locked": True},
    )
    personal["name"] = "Another"
    assert (await create_mine()).codes == ["FORBIDDEN"]  # a lock above wins

    # ADMIN_MANAGED: members use only the connections admins assigned (domain.md §3). The personal one stays,
    # its owner still reads it, and it is usable again once the mode allows it.
    r = await gql(world, MY, None, world.member(t))
    assert r.data["myConnections"] == {"totalCount": 0, "nodes": []}
    r = await gql(world, "query($id: ID!) { node(id: $id) { id } }", {"id": mine["id"]}, world.member(t))
    assert r.data["node"] == {"id": mine["id"]}
    access = "{ viewer { user { id } } }"
    me = (await gql(world, access, None, world.member(t))).data["viewer"]["user"]["id"]
    usable = "query($u: ID!) { effectiveAccess(userId: $u) { connections { name } } }"
    r = await gql(world, usable, {"u": me}, world.member(t))
    assert r.data["effectiveAccess"]["connections"] == [], r.body
    await policy(world, t, "clearConnectionMode", "ClearConnectionModeInput", {"scopeId": t.account_gid})
    r = await gql(world, MY, None, world.member(t))
    assert [c["name"] for c in r.data["myConnections"]["nodes"]] == ["My GitHub"]
    r = await gql(world, usable, {"u": me}, world.member(t))
    assert r.data["effectiveAccess"]["connections"] == [{"name": "My GitHub"}], r.body
    r = await mutate(
        world, "updateConnection", "UpdateConnectionInput", {"id": mine["id"], "secret": OTHER_SECRET}, world.member(t)
    )
    assert r.data["updateConnection"]["userErrors"] == []
    # admins see it (governance), may delete it, but not change it
    listing = "{ connections(filter: {personal: true}) { nodes { name owner { email } } } }"
    r = await gql(world, listing, None, world.admin(t))
    assert r.data["connections"]["nodes"] == [{"name": "My GitHub", "owner": {"email": t.member_email}}]
    r = await mutate(
        world, "updateConnection", "UpdateConnectionInput", {"id": mine["id"], "name": "Hijack"}, world.admin(t)
    )
    assert r.codes == ["FORBIDDEN"]
    r = await mutate(
        world,
        "assignConnection",
        "ConnectionAssignmentInput",
        {"connectionId": mine["id"], "scopeId": team},
        world.admin(t),
        "userErrors { field code }",
    )
    assert r.data["assignConnection"]["userErrors"] == [{"field": ["input", "connectionId"], "code": "INVALID"}]
    r = await mutate(
        world,
        "deleteConnection",
        "DeleteConnectionInput",
        {"id": mine["id"]},
        world.admin(t),
        "deletedConnectionId userErrors { code }",
    )
    assert r.data["deleteConnection"]["deletedConnectionId"] == mine["id"]
    assert (await gql(world, MY, None, world.member(t))).data["myConnections"] == {"totalCount": 0, "nodes": []}


async def test_assignments_and_my_connections_follow_the_chain(world: World) -> None:
    t = await tenant(world)
    team, org, user = t.gid("Team", "platform"), t.gid("Organization", "eng"), t.gid("User", "member")
    global_team = t.gid("Team", "global_team")
    a = await create(world, t, "A team", scopeId=team, secret=SECRET)
    assert a["assignedTo"] == [{"level": "TEAM", "id": team}]
    b = await create(world, t, "B org", scopeId=org)
    c = await create(world, t, "C nobody")
    d = await create(world, t, "D global team", scopeId=global_team)
    await create(world, t, "E account", scopeId=t.account_gid)

    async def mine() -> list[str]:
        r = await gql(world, MY, None, world.member(t))
        assert r.errors == [], r.body
        return [n["name"] for n in r.data["myConnections"]["nodes"]]

    assert await mine() == ["A team", "B org", "E account"]
    assign = {"connectionId": c["id"], "scopeId": user}
    sel = "connection { assignedTo { level id } } scope { level id } userErrors { field code }"
    r = await mutate(world, "assignConnection", "ConnectionAssignmentInput", assign, world.admin(t), sel)
    assert r.data["assignConnection"]["connection"]["assignedTo"] == [{"level": "USER", "id": user}]
    assert r.data["assignConnection"]["scope"] == {"level": "USER", "id": user}
    assert await mine() == ["A team", "B org", "C nobody", "E account"]
    r = await mutate(world, "assignConnection", "ConnectionAssignmentInput", assign, world.admin(t), sel)
    assert codes(r, "assignConnection") == ["NOTHING_TO_CHANGE"]
    r = await mutate(world, "unassignConnection", "ConnectionAssignmentInput", assign, world.admin(t), sel)
    assert r.data["unassignConnection"]["connection"]["assignedTo"] == []
    assert await mine() == ["A team", "B org", "E account"]
    r = await mutate(world, "unassignConnection", "ConnectionAssignmentInput", assign, world.admin(t), sel)
    assert codes(r, "unassignConnection") == ["NOTHING_TO_CHANGE"]
    bad = {"connectionId": c["id"], "scopeId": encode_id("Team", t.account_id, uuid.uuid4())}
    r = await mutate(world, "assignConnection", "ConnectionAssignmentInput", bad, world.admin(t), sel)
    assert codes(r, "assignConnection") == ["NOT_FOUND"]

    node = "query($id: ID!) { node(id: $id) { ... on Connection { name hasSecret } } }"
    assert (await gql(world, node, {"id": a["id"]}, world.member(t))).data["node"] == {
        "name": "A team",
        "hasSecret": True,
    }
    assert (await gql(world, node, {"id": c["id"]}, world.member(t))).data["node"] is None

    r = await mutate(
        world, "moveUser", "MoveUserInput", {"id": user, "teamId": global_team}, world.admin(t), "user { id }"
    )
    assert r.errors == [], r.body
    assert await mine() == ["D global team", "E account"]  # at once: nothing is cached
    assert (await gql(world, node, {"id": a["id"]}, world.member(t))).data["node"] is None
    assert (await gql(world, node, {"id": d["id"]}, world.member(t))).data["node"] == {
        "name": "D global team",
        "hasSecret": False,
    }
    assert b["id"]


async def test_members_cannot_touch_admin_or_other_members_connections(world: World) -> None:
    t = await tenant(world)
    team = t.gid("Team", "platform")
    admin_conn = await create(world, t, "Admin's", scopeId=team)
    await policy(
        world,
        t,
        "setFeatureFlag",
        "SetFeatureFlagInput",
        {"scopeId": t.account_gid, "flag": "CREATE_CONNECTIONS", "enabled": True},
    )
    await policy(
        world,
        t,
        "setConnectionMode",
        "SetConnectionModeInput",
        {"scopeId": t.account_gid, "mode": "SELF_MANAGED_ALLOWED"},
    )
    r = await mutate(
        world,
        "createUser",
        "CreateUserInput",
        {"email": f"other@{t.domain}", "homeTeamId": team},
        world.admin(t),
        "user { id }",
    )
    assert r.errors == [], r.body
    other_token = world.token(t, f"other@{t.domain}")
    r = await mutate(
        world,
        "createPersonalConnection",
        "CreatePersonalConnectionInput",
        {
            "name": "Other's",
            "type": "HTTP_API",
            "config": {"baseUrl": "https://api.example", "authHeader": "X-Key"},
            "secret": SECRET,
        },
        other_token,
    )
    others = r.data["createPersonalConnection"]["connection"]
    member = world.member(t)

    upd, dele = "UpdateConnectionInput", "DeleteConnectionInput"
    assert (await mutate(world, "updateConnection", upd, {"id": admin_conn["id"], "name": "X"}, member)).codes == [
        "FORBIDDEN"
    ]
    assert (
        await mutate(
            world, "deleteConnection", dele, {"id": admin_conn["id"]}, member, "deletedConnectionId userErrors { code }"
        )
    ).codes == ["FORBIDDEN"]
    r = await mutate(
        world,
        "assignConnection",
        "ConnectionAssignmentInput",
        {"connectionId": admin_conn["id"], "scopeId": t.gid("User", "member")},
        member,
        "userErrors { code }",
    )
    assert r.codes == ["FORBIDDEN"]
    r = await mutate(world, "updateConnection", upd, {"id": others["id"], "secret": "mine now"}, member)
    assert codes(r, "updateConnection") == ["NOT_FOUND"]
    r = await mutate(
        world, "deleteConnection", dele, {"id": others["id"]}, member, "deletedConnectionId userErrors { code }"
    )
    assert codes(r, "deleteConnection") == ["NOT_FOUND"]
    node = "query($id: ID!) { node(id: $id) { id } }"
    assert (await gql(world, node, {"id": others["id"]}, member)).data["node"] is None
    assert (await gql(world, "{ connections { totalCount } }", None, member)).codes == ["FORBIDDEN"]
    r = await gql(world, MY, None, other_token)
    assert [c["name"] for c in r.data["myConnections"]["nodes"]] == ["Admin's", "Other's"]

    # federation: _entities checks access like node
    ents = """query($r: [_Any!]!) { _entities(representations: $r) { ... on Connection { name } } }"""
    reps = [{"__typename": "Connection", "id": admin_conn["id"]}, {"__typename": "Connection", "id": others["id"]}]
    assert (await gql(world, ents, {"r": reps}, world.admin(t))).data["_entities"] == [
        {"name": "Admin's"},
        {"name": "Other's"},
    ]
    assert (await gql(world, ents, {"r": reps}, member)).data["_entities"] == [{"name": "Admin's"}, None]
    stranger = await tenant(world)
    assert (await gql(world, ents, {"r": reps}, world.admin(stranger))).data["_entities"] == [None, None]


async def test_a_page_of_connections_with_assignments_costs_constant_statements(world: World) -> None:
    q = """{ connections(first: 100) { totalCount nodes { name config hasSecret assignedTo { level id }
      owner { email } } } }"""
    counts = []
    for size in (2, 30):
        t = await tenant(world)
        for i in range(size):
            made = await create(world, t, f"C{i:03}", scopeId=t.gid("Team", "platform"), secret=SECRET)
            r = await mutate(
                world,
                "assignConnection",
                "ConnectionAssignmentInput",
                {"connectionId": made["id"], "scopeId": t.gid("Organization", "eng")},
                world.admin(t),
                "userErrors { code }",
            )
            assert r.data["assignConnection"]["userErrors"] == []
        r = await gql(world, q, None, world.admin(t))
        assert r.errors == [], r.body
        nodes = r.data["connections"]["nodes"]
        assert len(nodes) == size and all(len(n["assignedTo"]) == 2 for n in nodes)
        counts.append(r.statements)
    assert counts[0] == counts[1], counts


async def _stored(world: World) -> tuple[list[str], list[str]]:
    ciphertexts: list[str] = []
    audit: list[str] = []
    for t in TENANTS:
        async with world.db.tenant(mint_for_system(t.account_id)) as s:
            ciphertexts += [c for c in (await s.scalars(sa.select(Connection.secret_ciphertext))).all() if c]
            audit += [json.dumps(e.diff) + repr(e.__dict__) for e in (await s.scalars(sa.select(AuditEvent))).all()]
    return ciphertexts, audit


async def test_zz_secrets_never_appear_in_responses_logs_or_audit(world: World) -> None:
    """Runs last in this module: the secrets and their ciphertexts appear nowhere they could leak."""
    ciphertexts, audit = await _stored(world)
    assert ciphertexts, "the tests above stored secrets"
    assert all(SECRET not in c and OTHER_SECRET not in c for c in ciphertexts)
    haystacks = {"responses and logs": SEEN, "audit events": audit, "SQL debug logs": SQL_LOGS}
    for where, texts in haystacks.items():
        blob = "\n".join(texts)
        assert SECRET not in blob and OTHER_SECRET not in blob, f"a secret leaked into {where}"
    for where, texts in (("responses and logs", SEEN), ("audit events", audit)):
        blob = "\n".join(texts)
        leaked = [c for c in ciphertexts if c in blob]
        assert not leaked, f"a ciphertext leaked into {where}"
    assert len(SEEN) > 50 and SQL_LOGS


async def test_zz_sql_debug_logs_hide_ciphertexts(world: World) -> None:
    """Bound parameters never reach the SQL log (the engine hides them). Result rows are logged by
    SQLAlchemy at DEBUG only and hold the stored ciphertext when a connection row is read: that is
    the encrypted form, never the secret (the plaintext check above covers every SQL log line), and
    the runbook keeps `sqlalchemy.engine` at WARNING in production."""
    ciphertexts, _audit = await _stored(world)
    blob = "\n".join(text for text in SQL_LOGS if not text.startswith("Row "))
    assert not [c for c in ciphertexts if c in blob]
    assert any(text.startswith("Row ") for text in SQL_LOGS)  # the filter above is not vacuous


async def test_my_connections_is_a_cursor_page(world: World) -> None:
    t = await world.tenant()
    names = ["delta", "Alpha", "charlie", "Bravo", "echo"]
    for name in names:
        await create(world, t, name, scopeId=t.account_gid)
    seen: list[str] = []
    after = None
    while True:
        r = await gql(
            world,
            "query($a: String) { myConnections(first: 2, after: $a) { totalCount pageInfo { hasNextPage endCursor } "
            "nodes { name } } }",
            {"a": after},
            world.member(t),
        )
        page = r.data["myConnections"]
        assert page["totalCount"] == len(names)
        seen += [n["name"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == sorted(names)  # every connection once, in the cursor's order
    r = await gql(world, "{ myConnections(last: 2) { nodes { name } } }", None, world.member(t))
    assert [n["name"] for n in r.data["myConnections"]["nodes"]] == sorted(names)[-2:]
