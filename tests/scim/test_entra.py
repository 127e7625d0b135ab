"""An Entra ID-style provisioning sequence, with Entra's habits: the enterprise extension, `meta` in
POST bodies, capitalised ops (`Add`, `Replace`, `Remove`), `emails[type eq "work"].value` paths,
members removed by `value`, `"False"` as a string, `excludedAttributes=members`, and DELETE after the
soft delete. Then the directory, the audit trail and the quality report are checked."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import ScimGroup
from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, ENTERPRISE, audit, memberships, patch, placement, user_row
from tests.support.world import World


def entra_user(upn: str, given: str, family: str, object_id: str) -> dict[str, Any]:
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": object_id,
        "userName": upn,
        "active": True,
        "displayName": f"{given} {family}",
        "emails": [{"primary": True, "type": "work", "value": upn}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE: {"department": "R&D", "employeeNumber": "42"},
    }


async def test_entra_sequence(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world, "Entra ID")
    account = who.tenant.account_id
    scim = scim_client(who)
    domain = who.tenant.domain

    status, found = await scim.call("GET", f'/Users?filter=userName+eq+"carol@{domain}"')
    assert status == 200 and found["totalResults"] == 0
    status, carol = await scim.call("POST", "/Users", entra_user(f"carol@{domain}", "Carol", "Chen", "e-carol"))
    assert status == 201, carol
    assert carol[ENTERPRISE] == {"department": "R&D", "employeeNumber": "42"}
    status, dave = await scim.call("POST", "/Users", entra_user(f"dave@{domain}", "Dave", "Diaz", "e-dave"))
    assert status == 201, dave
    status, found = await scim.call("GET", '/Users?filter=externalId+eq+"e-dave"')
    assert [r["id"] for r in found["Resources"]] == [dave["id"]]

    group_body = {"schemas": [CORE_GROUP], "externalId": "g-research", "displayName": "R&D / Research"}
    status, research = await scim.call("POST", "/Groups", group_body | {"meta": {"resourceType": "Group"}})
    assert status == 201, research
    add = {"op": "Add", "path": "members", "value": [{"value": carol["id"]}, {"value": dave["id"]}]}
    status, body = await scim.call("PATCH", f"/Groups/{research['id']}", patch(add))
    assert status == 200, body
    assert await placement(world, account, carol["id"]) == ("R&D", "Research")

    # Entra's attribute updates in one PATCH
    ops = patch(
        {"op": "Replace", "path": "displayName", "value": "Carol Chen-Li"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": f"carol.li@{domain}"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Research"},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": dave["id"]},  # Entra: a bare id
    )
    status, body = await scim.call("PATCH", f"/Users/{carol['id']}", ops)
    assert status == 200, body
    assert body["emails"][0]["value"] == f"carol.li@{domain}" and body[ENTERPRISE]["department"] == "Research"
    assert body[ENTERPRISE]["manager"]["value"] == dave["id"]
    row = await user_row(world, account, carol["id"])
    assert (row.email, row.display_name, row.external_id) == (f"carol.li@{domain}", "Carol Chen-Li", "e-carol")

    # Entra's group lookup leaves members out
    name_filter = quote(f'displayName eq "{research["displayName"]}"')
    status, found = await scim.call("GET", f"/Groups?excludedAttributes=members&filter={name_filter}")
    assert status == 200 and found["totalResults"] == 1 and "members" not in found["Resources"][0]
    status, found = await scim.call(
        "GET", f'/Groups?filter=id+eq+"{research["id"]}"+and+members[value+eq+"{dave["id"]}"]'
    )
    assert status == 200 and found["totalResults"] == 1

    # Removal by value (Entra), then deactivation with a string boolean
    remove = {"op": "Remove", "path": "members", "value": [{"value": carol["id"]}]}
    status, body = await scim.call("PATCH", f"/Groups/{research['id']}", patch(remove))
    assert status == 200 and [m["value"] for m in body["members"]] == [dave["id"]]
    assert await placement(world, account, carol["id"]) == ("Global", "Global")
    status, body = await scim.call(
        "PATCH", f"/Users/{carol['id']}", patch({"op": "Replace", "path": "active", "value": "False"})
    )
    assert status == 200 and body["active"] is False
    assert (await user_row(world, account, carol["id"])).deactivated_at is not None

    # Soft delete done, Entra deletes: the user stays in the directory, deactivated, and SCIM answers 404
    status, _ = await scim.call("DELETE", f"/Users/{carol['id']}")
    assert status == 204
    status, gone = await scim.call("GET", f"/Users/{carol['id']}")
    assert status == 404 and gone["status"] == "404"
    status, found = await scim.call("GET", f'/Users?filter=userName+eq+"carol@{domain}"')
    assert found["totalResults"] == 0
    row = await user_row(world, account, carol["id"])
    assert row.deactivated_at is not None and row.email == f"carol.li@{domain}"

    # Deleting the group: dave moves to the Global team; the Research team stays for the admin to decide
    status, _ = await scim.call("DELETE", f"/Groups/{research['id']}")
    assert status == 204
    assert await placement(world, account, dave["id"]) == ("Global", "Global")
    assert await memberships(world, account) == set()
    async with world.db.tenant(mint_for_system(account)) as s:
        assert await s.scalar(sa.select(sa.func.count()).select_from(ScimGroup)) == 0

    # Re-provisioning carol (same email) brings back the same directory user, active again
    again = entra_user(f"carol.li@{domain}", "Carol", "Chen-Li", "e-carol")
    status, back = await scim.call("POST", "/Users", again)
    assert status == 201 and back["id"] == carol["id"]
    assert (await user_row(world, account, carol["id"])).deactivated_at is None

    actions = [(e.action, e.actor_type) for e in await audit(world, account) if e.actor_type == "SCIM"]
    assert ("identity.scim_user.deleted", "SCIM") in actions
    assert ("identity.scim_group.deleted", "SCIM") in actions
    assert ("directory.user.reactivated", "SCIM") in actions

    query = """query($id: ID!) { node(id: $id) { ... on Account { directoryQuality {
        usersInDefaultTeam { count } emptyTeams { samples { name } } usersNotSeenInLastSync { count } } } } }"""
    r = await world.gql(query, {"id": who.tenant.account_gid}, token=world.admin(who.tenant))
    report = r.data["node"]["directoryQuality"]
    assert "Research" in {t["name"] for t in report["emptyTeams"]["samples"]}
    assert report["usersInDefaultTeam"]["count"] >= 3  # admin, carol, dave
