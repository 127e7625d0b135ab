"""An Okta-style provisioning sequence, as Okta's SCIM 2.0 connector sends it: look up by userName, create
users, push groups (created empty, then PATCH members with add / remove by `members[value eq "…"]`),
rename a group by a path-less replace, update a profile by PUT, deactivate by `replace {active: false}`.
Then the directory, the audit trail and the quality report are checked."""

from __future__ import annotations

from typing import Any

from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, audit, memberships, patch, placement, user_row
from tests.support.world import World


def okta_user(login: str, first: str, last: str, okta_id: str) -> dict[str, Any]:
    return {
        "schemas": [CORE_USER],
        "userName": login,
        "name": {"givenName": first, "familyName": last},
        "emails": [{"primary": True, "value": login, "type": "work"}],
        "displayName": f"{first} {last}",
        "locale": "en-US",
        "externalId": okta_id,
        "groups": [],
        "active": True,
    }


async def test_okta_sequence(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world, "Okta")
    account = who.tenant.account_id
    scim = scim_client(who)
    domain = who.tenant.domain

    status, found = await scim.call("GET", f"/Users?filter=userName%20eq%20%22alice@{domain}%22&startIndex=1&count=100")
    assert status == 200 and found["totalResults"] == 0 and found.get("Resources", []) == []

    status, alice = await scim.call("POST", "/Users", okta_user(f"alice@{domain}", "Alice", "Archer", "00u1"))
    assert status == 201, alice
    assert alice["id"] and alice["meta"]["version"] == 'W/"1"' and alice["active"] is True
    status, bob = await scim.call("POST", "/Users", okta_user(f"bob@{domain}", "Bob", "Baker", "00u2"))
    assert status == 201, bob
    status, dup = await scim.call("POST", "/Users", okta_user(f"ALICE@{domain}", "A", "A", "00u9"))
    assert status == 409 and dup["scimType"] == "uniqueness"

    status, found = await scim.call("GET", f"/Users?filter=userName%20eq%20%22Alice@{domain}%22")
    assert status == 200 and [r["id"] for r in found["Resources"]] == [alice["id"]]  # userName is case-insensitive

    # Push groups: created empty, then members added
    status, platform = await scim.call(
        "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Engineering / Platform", "members": []}
    )
    assert status == 201, platform
    status, sales = await scim.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Sales", "members": []})
    assert status == 201, sales
    add = {"op": "add", "path": "members", "value": [{"value": alice["id"], "display": f"alice@{domain}"}]}
    status, body = await scim.call("PATCH", f"/Groups/{platform['id']}", patch(add))
    assert status == 200, body
    add_both = {
        "op": "add",
        "path": "members",
        "value": [
            {"value": bob["id"], "display": f"bob@{domain}"},
            {"value": alice["id"], "display": f"alice@{domain}"},
        ],
    }
    status, body = await scim.call("PATCH", f"/Groups/{sales['id']}", patch(add_both))
    assert status == 200 and {m["value"] for m in body["members"]} == {alice["id"], bob["id"]}

    # The existing Engineering organization gets a Platform team already (tests/support/world.py): reused
    assert await placement(world, account, alice["id"]) == ("Engineering", "Platform")  # earliest-joined group
    assert await placement(world, account, bob["id"]) == ("Global", "Sales")
    status, got = await scim.call("GET", f"/Users/{alice['id']}")
    assert {g["display"] for g in got["groups"]} == {"Engineering / Platform", "Sales"}

    # Remove alice from Platform: she follows her next group
    remove = {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'}
    status, body = await scim.call("PATCH", f"/Groups/{platform['id']}", patch(remove))
    assert status == 200 and "members" not in body
    assert await placement(world, account, alice["id"]) == ("Global", "Sales")

    # Rename Sales (Okta: replace without a path): members follow to the team the new name maps to
    rename = {"op": "replace", "value": {"id": sales["id"], "displayName": "Revenue / Sales EMEA"}}
    status, body = await scim.call("PATCH", f"/Groups/{sales['id']}", patch(rename))
    assert status == 200 and body["displayName"] == "Revenue / Sales EMEA"
    assert await placement(world, account, bob["id"]) == ("Revenue", "Sales EMEA")

    # Profile update by PUT (Okta sends the whole user)
    changed = okta_user(f"alice@{domain}", "Alice", "Archer-Smith", "00u1")
    status, body = await scim.call("PUT", f"/Users/{alice['id']}", changed)
    assert status == 200 and body["name"]["familyName"] == "Archer-Smith" and body["meta"]["version"] == 'W/"2"'
    assert (await user_row(world, account, alice["id"])).display_name == "Alice Archer-Smith"

    # Deactivation: Okta never deletes, it sets active false
    status, body = await scim.call("PATCH", f"/Users/{bob['id']}", patch({"op": "replace", "value": {"active": False}}))
    assert status == 200 and body["active"] is False
    bob_row = await user_row(world, account, bob["id"])
    assert bob_row.deactivated_at is not None and bob_row.last_seen_in_idp_at is not None
    status, body = await scim.call("GET", f"/Users/{bob['id']}")
    assert status == 200 and body["active"] is False  # still served: deactivated, not deleted

    # The audit trail: every change by the actor `scim` with the token id
    events = await audit(world, account)
    scim_events = [e for e in events if e.actor_type == "SCIM"]
    assert {e.actor_id for e in scim_events} == {str(who.token_id)}
    assert {e.actor_label for e in scim_events} == {"scim"}
    actions = [e.action for e in scim_events]
    assert actions.count("identity.scim_user.created") == 2
    assert actions.count("identity.scim_group.created") == 2
    assert "directory.team.created" in actions and "directory.organization.created" in actions
    assert "directory.user.moved" in actions and "directory.user.deactivated" in actions
    assert "identity.scim_group.updated" in actions and "identity.scim_user.updated" in actions
    assert len(await memberships(world, account)) == 2  # bob and alice in Sales EMEA

    # The quality report: provisioned users have external ids; nothing unmapped yet
    query = """query($id: ID!) { node(id: $id) { ... on Account { directoryQuality {
        usersWithoutExternalId { count } unmappedScimGroups { count samples { displayName } }
        usersNotSeenInLastSync { count } lastIdpSyncAt } } } }"""
    r = await world.gql(query, {"id": who.tenant.account_gid}, token=world.admin(who.tenant))
    report = r.data["node"]["directoryQuality"]
    assert report["unmappedScimGroups"]["count"] == 0
    assert report["lastIdpSyncAt"] is not None
    status, _ = await scim.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "global"})
    assert status == 201
    r = await world.gql(query, {"id": who.tenant.account_gid}, token=world.admin(who.tenant))
    report = r.data["node"]["directoryQuality"]
    assert report["unmappedScimGroups"] == {"count": 1, "samples": [{"displayName": "global"}]}
    # admin and member were never provisioned: no external id (bob is deactivated but still counted there)
    assert report["usersWithoutExternalId"]["count"] == 2
