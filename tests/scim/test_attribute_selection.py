"""`attributes` / `excludedAttributes` may name an attribute by its full URN (RFC 7644 §3.10): the members
of a group are loaded (or spared) the same either way."""

from __future__ import annotations

from typing import Any

from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER
from tests.support.world import World


async def test_members_selected_by_their_urn_are_returned(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    login = f"uma@{who.tenant.domain}"
    status, user = await scim.call("POST", "/Users", {"schemas": [CORE_USER], "userName": login})
    assert status == 201
    body = {"schemas": [CORE_GROUP], "displayName": "Urn", "members": [{"value": user["id"]}]}
    status, _ = await scim.call("POST", "/Groups", body)
    assert status == 201
    for attributes in (
        f"{CORE_GROUP}:members",
        f"{CORE_GROUP}:members.value",
        "members",
        f"{CORE_GROUP.upper()}:Members",
    ):
        status, page = await scim.call("GET", f"/Groups?attributes={attributes}")
        assert status == 200, page
        assert [m["value"] for m in page["Resources"][0].get("members", [])] == [user["id"]], (attributes, page)
    for excluded in (f"{CORE_GROUP}:members", "members"):
        status, page = await scim.call("GET", f"/Groups?excludedAttributes={excluded}")
        assert status == 200 and "members" not in page["Resources"][0], (excluded, page)
        assert page["Resources"][0]["displayName"] == "Urn"
