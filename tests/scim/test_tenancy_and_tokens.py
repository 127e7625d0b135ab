"""SCIM tokens through GraphQL (value once, listed without it, revoked at once) and tenancy: a token of
account A never reads nor writes account B."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import ScimTokenRoute, User
from tests.scim.conftest import ScimTenant, scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, patch, user_row
from tests.support.world import World

CREATE = """mutation($i: CreateScimTokenInput!) { createScimToken(input: $i) {
  token { id name tokenPrefix revoked createdBy } secret scimBaseUrlPath userErrors { code field } } }"""
REVOKE = """mutation($i: RevokeScimTokenInput!) { revokeScimToken(input: $i) {
  token { revoked revokedAt } userErrors { code } } }"""
LIST = "query { scimTokens(first: 10) { totalCount nodes { id name tokenPrefix revoked lastUsedAt } } }"


def _user(login: str) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": login, "emails": [{"value": login, "primary": True}], "active": True}


async def test_tokens_are_shown_once_listed_without_value_and_revoked_at_once(
    world: World, client: httpx.AsyncClient, scim_client: Any
) -> None:
    t = await world.tenant()
    r = await world.gql(CREATE, {"i": {"name": "Okta production"}}, token=world.admin(t))
    created = r.data["createScimToken"]
    assert created["userErrors"] == [] and created["scimBaseUrlPath"] == "/scim/v2"
    secret = created["secret"]
    assert secret.startswith("cks_") and created["token"]["tokenPrefix"] == secret[:12]
    async with world.db.platform() as s:  # only the hash is stored
        hashes = set((await s.scalars(sa.select(ScimTokenRoute.token_hash))).all())
    assert hashlib.sha256(secret.encode()).hexdigest() in hashes and secret not in hashes

    who = ScimTenant(t, secret, None)
    status, _ = await scim_client(who).call("GET", "/Users")
    assert status == 200
    listed = (await world.gql(LIST, token=world.admin(t))).data["scimTokens"]
    assert listed["totalCount"] == 1 and listed["nodes"][0]["lastUsedAt"] is not None
    assert secret not in str(listed)

    r = await world.gql(REVOKE, {"i": {"id": created["token"]["id"]}}, token=world.admin(t))
    assert r.data["revokeScimToken"]["token"]["revoked"] is True
    status, body = await scim_client(who).call("GET", "/Users")
    assert status == 401 and body["status"] == "401"
    r = await world.gql(REVOKE, {"i": {"id": created["token"]["id"]}}, token=world.admin(t))
    assert [e["code"] for e in r.data["revokeScimToken"]["userErrors"]] == ["ILLEGAL_TRANSITION"]

    # members may not manage tokens; another account's admin does not find them
    r = await world.gql(LIST, token=world.member(t))
    assert r.codes == ["FORBIDDEN"]
    other = await world.tenant()
    r = await world.gql(REVOKE, {"i": {"id": created["token"]["id"]}}, token=world.admin(other))
    assert [e["code"] for e in r.data["revokeScimToken"]["userErrors"]] == ["NOT_FOUND"]
    r = await world.gql(CREATE, {"i": {"name": "x", "accountId": t.account_gid}}, token=world.admin(other))
    assert [e["code"] for e in r.data["createScimToken"]["userErrors"]] == ["NOT_FOUND"]

    # no token, a JWT, a made-up token: 401 SCIM errors, GraphQL's authentication is not involved
    for headers in ({}, {"Authorization": f"Bearer {world.admin(t)}"}, {"Authorization": "Bearer cks_nope"}):
        response = await client.get("/scim/v2/Users", headers=headers)
        assert response.status_code == 401 and response.json()["schemas"] == [
            "urn:ietf:params:scim:api:messages:2.0:Error"
        ]


async def test_a_token_of_account_a_never_reads_or_writes_account_b(world: World, scim_client: Any) -> None:
    a, b = await scim_tenant(world, "A"), await scim_tenant(world, "B")
    scim_a, scim_b = scim_client(a), scim_client(b)
    status, user_b = await scim_b.call("POST", "/Users", _user(f"bea@{b.tenant.domain}"))
    assert status == 201
    status, group_b = await scim_b.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "B team"})
    assert status == 201
    status, user_a = await scim_a.call("POST", "/Users", _user(f"abe@{a.tenant.domain}"))
    assert status == 201

    for path in (f"/Users/{user_b['id']}", f"/Groups/{group_b['id']}"):
        assert (await scim_a.call("GET", path))[0] == 404
        assert (await scim_a.call("DELETE", path))[0] == 404
        assert (await scim_a.call("PATCH", path, patch({"op": "replace", "path": "externalId", "value": "x"})))[
            0
        ] == 404
    status, _ = await scim_a.call("PUT", f"/Users/{user_b['id']}", _user(f"bea@{b.tenant.domain}"))
    assert status == 404
    # listing and filters only ever see the token's account
    status, listed = await scim_a.call("GET", "/Users")
    assert {r["id"] for r in listed["Resources"]} == {user_a["id"]}
    status, found = await scim_a.call("GET", f'/Users?filter=userName+eq+"bea@{b.tenant.domain}"')
    assert found["totalResults"] == 0
    status, found = await scim_a.call("GET", f'/Groups?filter=id+eq+"{group_b["id"]}"')
    assert found["totalResults"] == 0
    # A cannot put B's user into A's group
    status, group_a = await scim_a.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "A team"})
    add = patch({"op": "add", "path": "members", "value": [{"value": user_b["id"]}]})
    status, body = await scim_a.call("PATCH", f"/Groups/{group_a['id']}", add)
    assert status == 400 and body["scimType"] == "invalidValue"
    status, body = await scim_a.call(
        "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "A2", "members": [{"value": user_b["id"]}]}
    )
    assert status == 400
    # B is untouched
    row = await user_row(world, b.tenant.account_id, user_b["id"])
    assert row.deactivated_at is None and row.external_id is None
    status, group = await scim_b.call("GET", f"/Groups/{group_b['id']}")
    assert status == 200 and group["displayName"] == "B team"


async def test_a_deactivated_user_cannot_sign_in(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    t = who.tenant
    r = await world.gql("{ viewer { role } }", token=world.member(t))
    assert r.errors == []
    status, user = await scim_client(who).call("POST", "/Users", _user(t.member_email))  # adopts the member
    assert status == 201 and user["id"] == str(t.ids["member"])
    status, _ = await scim_client(who).call(
        "PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "active", "value": False})
    )
    assert status == 200
    r = await world.gql("{ viewer { role } }", token=world.member(t))
    assert r.codes == ["UNAUTHENTICATED"] and r.status == 401
    q = "query($id: ID!) { node(id: $id) { ... on User { active deactivatedAt } } }"
    r = await world.gql(q, {"id": t.gid("User", "member")}, token=world.admin(t))
    assert r.data["node"]["active"] is False and r.data["node"]["deactivatedAt"]
    status, _ = await scim_client(who).call(
        "PATCH", f"/Users/{user['id']}", patch({"op": "replace", "path": "active", "value": True})
    )
    r = await world.gql("{ viewer { role } }", token=world.member(t))
    assert r.errors == []


async def test_a_suspended_account_is_refused_and_the_trail_names_the_token(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    status, _ = await scim.call("POST", "/Users", _user(f"gus@{who.tenant.domain}"))
    assert status == 201
    trail = """query { auditEvents(filter: {actorType: SCIM}, first: 20) { totalCount nodes {
        name actor { type id label userId } target { type id } } } }"""
    r = await world.gql(trail, token=world.admin(who.tenant))
    events = r.data["auditEvents"]["nodes"]
    assert r.errors == [] and events, r.body
    assert {(e["actor"]["type"], e["actor"]["id"], e["actor"]["label"]) for e in events} == {
        ("SCIM", str(who.token_id), "scim")
    }
    assert {"identity.scim_user.created"} <= {e["name"] for e in events}

    fresh = await scim_tenant(world)  # a token not used yet (no route remembered)
    await _suspend(world, fresh.tenant)
    status, body = await scim_client(fresh).call("GET", "/Users")
    assert status == 403 and body["status"] == "403"


async def _suspend(world: World, tenant: Any) -> None:
    r = await world.gql(
        "mutation($i: AccountStatusInput!) { suspendAccount(input: $i) { userErrors { code } } }",
        {"i": {"id": tenant.account_gid}},
        token=await world.super_admin(),
    )
    assert r.data["suspendAccount"]["userErrors"] == []


async def test_a_suspension_stops_a_token_whose_route_is_remembered(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    status, _ = await scim.call("GET", "/Users")  # the process now remembers the token's route (5 s)
    assert status == 200
    await _suspend(world, who.tenant)
    status, body = await scim.call("POST", "/Users", _user(f"late@{who.tenant.domain}"))
    assert status == 403 and body["status"] == "403", body
    status, body = await scim.call("GET", "/Users")
    assert status == 403, body
    async with world.db.tenant(mint_for_system(who.tenant.account_id)) as s:
        assert (
            await s.scalar(
                sa.select(sa.func.count()).select_from(User).where(User.email == f"late@{who.tenant.domain}")
            )
            == 0
        )
