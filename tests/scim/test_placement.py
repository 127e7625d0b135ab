"""The naming rule (pure) and users provisioned without any email."""

from __future__ import annotations

from typing import Any

import pytest

from cockpit_graphql.domain.scim.placement import TeamPath, team_path
from cockpit_graphql.types.ids import encode_id
from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, user_row
from tests.support.world import World


@pytest.mark.parametrize(
    ("name", "separator", "expected"),
    [
        ("Engineering / Platform", " / ", TeamPath("Engineering", "Platform")),
        ("  Sales   EMEA ", " / ", TeamPath(None, "Sales EMEA")),
        ("Global / Support", " / ", TeamPath(None, "Support")),
        ("global", " / ", None),  # the Global team: unmapped
        ("Global / Global", " / ", None),
        ("A / B / C", " / ", TeamPath("A", "B / C")),  # split once: the organization is the first part
        ("R&D:Research", ":", TeamPath("R&D", "Research")),
        ("Engineering / Platform", "", TeamPath(None, "Engineering / Platform")),  # empty separator: never split
        (" / Platform", " / ", None),  # blank organization
        ("x" * 201, " / ", None),  # too long for a team name
    ],
)
def test_naming_rule(name: str, separator: str, expected: TeamPath | None) -> None:
    assert team_path(name, separator) == expected


async def test_users_without_email_are_kept_and_reported(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    ids = []
    for login in ("jdoe", "rroe"):  # a userName that is not an address, no emails: Zitadel-style logins
        status, user = await scim.call("POST", "/Users", {"schemas": [CORE_USER], "userName": login})
        assert status == 201, user
        ids.append(user["id"])
    assert [(await user_row(world, who.tenant.account_id, i)).email for i in ids] == ["", ""]
    query = """query($id: ID!) { node(id: $id) { ... on Account { directoryQuality {
        missingEmails { count samples { displayName } } } } } }"""
    r = await world.gql(query, {"id": who.tenant.account_gid}, token=world.admin(who.tenant))
    assert r.data["node"]["directoryQuality"]["missingEmails"]["count"] == 2
    # an email arriving later fills the directory
    status, body = await scim.call(
        "PUT", f"/Users/{ids[0]}", {"schemas": [CORE_USER], "userName": "jdoe", "emails": [{"value": "J@Corp.example"}]}
    )
    assert status == 200, body
    assert (await user_row(world, who.tenant.account_id, ids[0])).email == "j@corp.example"


async def test_deleting_a_mapped_team_unmaps_its_groups(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    t = who.tenant
    scim = scim_client(who)
    status, user = await scim.call("POST", "/Users", {"schemas": [CORE_USER], "userName": f"ida@{t.domain}"})
    status, group = await scim.call(
        "POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": "Support", "members": [{"value": user["id"]}]}
    )
    assert status == 201
    row = await user_row(world, t.account_id, user["id"])
    r = await world.gql(
        "mutation($i: DeleteTeamInput!) { deleteTeam(input: $i) { deletedId userErrors { code } } }",
        {"i": {"id": encode_id("Team", t.account_id, row.home_team_id), "moveMembersTo": t.gid("Team", "global_team")}},
        token=world.admin(t),
    )
    assert r.data["deleteTeam"]["userErrors"] == [], r.body
    query = """query($id: ID!) { node(id: $id) { ... on Account { directoryQuality {
        unmappedScimGroups { samples { scimId } } } } } }"""
    r = await world.gql(query, {"id": t.account_gid}, token=world.admin(t))
    assert r.data["node"]["directoryQuality"]["unmappedScimGroups"]["samples"] == [{"scimId": group["id"]}]
    status, body = await scim.call("GET", f"/Groups/{group['id']}")
    assert status == 200 and [m["value"] for m in body["members"]] == [user["id"]]  # memberships kept
