"""SCIM against the rest of the directory: a first sign-in racing a SCIM create of the same email, the
ETag of groups a GraphQL deleteUser leaves, the live-token cap under concurrent creates."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import ScimToken, User
from cockpit_graphql.domain.scim.tokens import create_token
from cockpit_graphql.types.ids import encode_id
from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, patch
from tests.support.world import OP, World


def _user(login: str) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": login, "emails": [{"value": login, "primary": True}], "active": True}


async def test_graphql_delete_user_bumps_the_version_of_the_groups_it_leaves(world: World, scim_client: Any) -> None:
    """docs/scim.md: "`meta.version` is a weak ETag ... it grows with every change (a group's with its
    memberships). PUT, PATCH and DELETE honour `If-Match` ...: a stale one is `412`." and "A user deleted
    through GraphQL (`deleteUser`) takes its SCIM row with it." """
    who = await scim_tenant(world)
    t = who.tenant
    scim = scim_client(who)
    _, a = await scim.call("POST", "/Users", _user(f"a@{t.domain}"))
    _, b = await scim.call("POST", "/Users", _user(f"b@{t.domain}"))
    status, group = await scim.call(
        "POST",
        "/Groups",
        {"schemas": [CORE_GROUP], "displayName": "Sales", "members": [{"value": a["id"]}, {"value": b["id"]}]},
    )
    assert status == 201, group
    version_before = group["meta"]["version"]

    r = await world.gql(
        "mutation($i: DeleteUserInput!) { deleteUser(input: $i) { deletedId userErrors { code } } }",
        {"i": {"id": encode_id("User", t.account_id, a["id"])}},
        token=world.admin(t),
    )
    assert r.data["deleteUser"]["userErrors"] == [], r.body

    status, now = await scim.call("GET", f"/Groups/{group['id']}")
    assert status == 200 and [m["value"] for m in now["members"]] == [b["id"]]  # the membership went away
    assert now["meta"]["version"] != version_before, "the group's members changed, its version did not"
    # A client holding the old representation must get 412, not overwrite blindly
    status, body = await scim.call(
        "PATCH",
        f"/Groups/{group['id']}",
        patch({"op": "replace", "path": "displayName", "value": "Sales EMEA"}),
        **{"If-Match": version_before},
    )
    assert status == 412, (status, body)


async def test_at_most_ten_live_scim_tokens_even_when_created_concurrently(world: World) -> None:
    """docs/scim.md: "At most 10 live tokens per account." """
    t = await world.tenant()
    tenant = mint_for_system(t.account_id)
    for i in range(8):
        async with world.db.tenant(tenant) as s:
            await create_token(s, tenant, OP, f"t{i}")
    create = """mutation($i: CreateScimTokenInput!) { createScimToken(input: $i) { secret userErrors { code } } }"""
    results = await asyncio.gather(
        *(world.gql(create, {"i": {"name": f"c{i}"}}, token=world.admin(t)) for i in range(4))
    )
    async with world.db.tenant(tenant) as s:
        live = await s.scalar(sa.select(sa.func.count()).select_from(ScimToken).where(ScimToken.revoked_at.is_(None)))
    assert live <= 10, (live, [r.body for r in results])


async def test_first_sign_in_racing_a_scim_create_of_the_same_email_is_not_a_500(
    world: World, scim_client: Any
) -> None:
    """api-conventions.md: errors that are not the user's are coded GraphQL errors; INTERNAL only for bugs.
    domain.md §1: "if none is linked yet, by verified email inside that account ... and the link is stored".
    An IdP provisions a user over SCIM at assignment and the user signs in at that moment: the first
    sign-in (JIT on) must either link to the user SCIM created or refuse with a code, never crash."""
    from cockpit_graphql.domain.directory import service as directory

    who = await scim_tenant(world)
    t = who.tenant
    async with world.db.tenant(mint_for_system(t.account_id)) as s:  # JIT on for this account
        await s.execute(sa.text("UPDATE accounts SET jit_enabled = true WHERE id = :id"), {"id": t.account_id})
    email = f"racer@{t.domain}"
    tenant = mint_for_system(t.account_id)
    # The SCIM side (any directory create of that email) has inserted the user but not committed yet...
    async with world.db.tenant(tenant) as s:
        await directory.create_user(s, tenant, OP, email=email)
        # ...when the user's first request arrives
        sign_in = asyncio.create_task(world.gql("{ viewer { role user { email } } }", token=world.token(t, email)))
        await asyncio.sleep(1.0)  # the sign-in found no user by email and is now blocked on the unique index
    try:
        r = await sign_in
    except Exception as exc:  # the app raised out of ASGI: a 500 for a real server
        raise AssertionError(f"sign-in crashed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    async with world.db.tenant(tenant) as s:
        assert len((await s.scalars(sa.select(User).where(User.email == email))).all()) == 1
    codes = [e.get("extensions", {}).get("code") for e in r.body.get("errors", [])]
    assert r.status != 500 and "INTERNAL" not in codes, (r.status, r.body)
