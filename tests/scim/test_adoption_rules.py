"""Adoption never hands a new hire a leaver's account, a user provisioned again after a SCIM DELETE comes
back as a MEMBER, and a PUT that does not assert `active` keeps the current value."""

from __future__ import annotations

import uuid
from typing import Any

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.domain.directory import service as directory
from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_USER, audit, patch, user_row
from tests.support.world import OP, World

UPDATE = """mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { role } userErrors { code } } }"""


def _user(login: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": login, "emails": [{"value": login, "primary": True}]} | extra


async def test_an_email_reused_with_another_external_id_is_not_adopted(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    t = who.tenant
    leaver = f"sam@{t.domain}"
    tenant = mint_for_system(t.account_id)
    async with world.db.tenant(tenant) as s:
        old = await directory.create_user(s, tenant, OP, email=leaver, display_name="Sam (2019)", external_id="HR-1")
    events = len(await audit(world, t.account_id))
    status, body = await scim_client(who).call("POST", "/Users", _user(leaver, externalId="HR-2"))
    assert status == 409 and body["scimType"] == "uniqueness", body
    assert "externalId" in body["detail"]
    assert len(await audit(world, t.account_id)) == events
    row = await user_row(world, t.account_id, str(old.id))
    assert row.external_id == "HR-1" and row.display_name == "Sam (2019)"
    # the same external id (or none sent) is the same person: adopted
    status, body = await scim_client(who).call("POST", "/Users", _user(leaver, externalId="HR-1"))
    assert status == 201 and body["id"] == str(old.id), body


async def test_a_user_provisioned_again_after_delete_comes_back_as_member(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    t = who.tenant
    scim = scim_client(who)
    login = f"ada@{t.domain}"
    status, ada = await scim.call("POST", "/Users", _user(login, externalId="E-7"))
    assert status == 201
    t.ids["ada"] = uuid.UUID(ada["id"])  # for t.gid
    r = await world.gql(UPDATE, {"i": {"id": t.gid("User", "ada"), "role": "ACCOUNT_ADMIN"}}, token=world.admin(t))
    assert r.data["updateUser"]["userErrors"] == [], r.body
    status, _ = await scim.call("DELETE", f"/Users/{ada['id']}")
    assert status == 204
    status, back = await scim.call("POST", "/Users", _user(login, externalId="E-7"))
    assert status == 201 and back["id"] == ada["id"] and back.get("active") is not False
    row = await user_row(world, t.account_id, ada["id"])
    assert row.role == "MEMBER" and row.deactivated_at is None
    names = [(e.action, (e.diff.get("after") or {}).get("role")) for e in await audit(world, t.account_id)]
    assert ("directory.user.updated", "MEMBER") in names  # the reset is audited


async def test_put_without_active_keeps_a_deactivated_user_deactivated(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    login = f"kim@{who.tenant.domain}"
    status, kim = await scim.call("POST", "/Users", _user(login, active=True))
    assert status == 201
    path = f"/Users/{kim['id']}"
    status, _ = await scim.call("PATCH", path, patch({"op": "replace", "value": {"active": False}}))
    assert status == 200
    status, body = await scim.call("PUT", path, _user(login, displayName="Kim K"))  # no `active`
    assert status == 200 and body["displayName"] == "Kim K" and body["active"] is False, body
    assert (await user_row(world, who.tenant.account_id, kim["id"])).deactivated_at is not None
    status, body = await scim.call("GET", path)
    assert body["active"] is False
    status, body = await scim.call("PUT", path, _user(login, displayName="Kim K", active=True))  # asserted: applied
    assert status == 200 and body["active"] is True
    assert (await user_row(world, who.tenant.account_id, kim["id"])).deactivated_at is None
    # a user created without `active` is active, and a PUT without it leaves it active
    status, lee = await scim.call("POST", "/Users", _user(f"lee@{who.tenant.domain}"))
    status, body = await scim.call("PUT", f"/Users/{lee['id']}", _user(f"lee@{who.tenant.domain}", nickName="L"))
    assert status == 200 and body.get("active") is not False
    assert (await user_row(world, who.tenant.account_id, lee["id"])).deactivated_at is None
