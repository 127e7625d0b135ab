"""The account always keeps an active admin: SCIM cannot deactivate or delete the last one (400
mutability), and GraphQL's LAST_ADMIN checks count only active admins (a deactivated admin cannot sign
in, so it does not keep the account managed)."""

from __future__ import annotations

from typing import Any

from tests.scim.conftest import ScimTenant, scim_tenant
from tests.scim.helpers import CORE_USER, audit, patch, user_row
from tests.support.world import World

UPDATE = """mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { role } userErrors { code } } }"""
DELETE = """mutation($i: DeleteUserInput!) { deleteUser(input: $i) { userErrors { code } } }"""


def _user(login: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": login, "emails": [{"value": login, "primary": True}]} | extra


async def _adopt_admin(world: World, scim_client: Any) -> tuple[ScimTenant, Any, dict[str, Any]]:
    who = await scim_tenant(world)
    scim = scim_client(who)
    status, admin = await scim.call("POST", "/Users", _user(who.tenant.admin_email, active=True))
    assert status == 201 and admin["id"] == str(who.tenant.ids["admin"]), admin
    return who, scim, admin


async def test_scim_cannot_deactivate_or_delete_the_last_active_admin(world: World, scim_client: Any) -> None:
    who, scim, admin = await _adopt_admin(world, scim_client)
    path = f"/Users/{admin['id']}"
    events = len(await audit(world, who.tenant.account_id))
    for method, body in [
        ("PATCH", patch({"op": "replace", "value": {"active": False}})),
        ("PATCH", patch({"op": "replace", "path": "active", "value": "False"})),
        ("PUT", _user(who.tenant.admin_email, active=False)),
        ("DELETE", None),
    ]:
        status, answer = await scim.call(method, path, body)
        assert status == 400 and answer["scimType"] == "mutability", (method, answer)
        assert "last active admin" in answer["detail"]
    row = await user_row(world, who.tenant.account_id, admin["id"])
    assert row.deactivated_at is None
    status, still = await scim.call("GET", path)
    assert status == 200 and still["active"] is True
    assert len(await audit(world, who.tenant.account_id)) == events  # nothing was written

    # with another active admin, the same deactivation goes through
    r = await world.gql(
        UPDATE, {"i": {"id": who.tenant.gid("User", "member"), "role": "ACCOUNT_ADMIN"}}, token=world.admin(who.tenant)
    )
    assert r.data["updateUser"]["userErrors"] == []
    status, answer = await scim.call("PATCH", path, patch({"op": "replace", "value": {"active": False}}))
    assert status == 200 and answer["active"] is False
    assert (await user_row(world, who.tenant.account_id, admin["id"])).deactivated_at is not None


async def test_graphql_last_admin_counts_only_active_admins(world: World, scim_client: Any) -> None:
    """A deactivated admin no longer lets the last active one be demoted or deleted."""
    who, scim, _ = await _adopt_admin(world, scim_client)
    t = who.tenant
    admin = world.admin(t)
    r = await world.gql(UPDATE, {"i": {"id": t.gid("User", "member"), "role": "ACCOUNT_ADMIN"}}, token=admin)
    assert r.data["updateUser"]["userErrors"] == []
    status, member = await scim.call("POST", "/Users", _user(t.member_email))  # adopts the (now admin) member
    assert status == 201 and member["id"] == str(t.ids["member"])
    status, _ = await scim.call("PATCH", f"/Users/{member['id']}", patch({"op": "replace", "value": {"active": False}}))
    assert status == 200  # allowed: the admin is still active

    demote = await world.gql(UPDATE, {"i": {"id": t.gid("User", "admin"), "role": "MEMBER"}}, token=admin)
    assert [e["code"] for e in demote.data["updateUser"]["userErrors"]] == ["LAST_ADMIN"], demote.body
    delete = await world.gql(DELETE, {"i": {"id": t.gid("User", "admin")}}, token=admin)
    assert [e["code"] for e in delete.data["deleteUser"]["userErrors"]] == ["LAST_ADMIN"], delete.body
    # the deactivated admin keeps no one locked in: it may be demoted
    demote = await world.gql(UPDATE, {"i": {"id": t.gid("User", "member"), "role": "MEMBER"}}, token=admin)
    assert demote.data["updateUser"]["userErrors"] == [] and demote.data["updateUser"]["user"]["role"] == "MEMBER"
    row = await user_row(world, t.account_id, str(t.ids["admin"]))
    assert row.role == "ACCOUNT_ADMIN" and row.deactivated_at is None
