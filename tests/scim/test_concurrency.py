"""Identity providers send in parallel: concurrent SCIM writes of one account serialize on the account's
SCIM lock, so memberships, the home-team rule and team creation stay consistent, and nothing answers 5xx."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import Organization, ScimGroupMember
from tests.scim.conftest import scim_tenant
from tests.scim.helpers import CORE_GROUP, CORE_USER, memberships, patch, placement
from tests.support.world import World


async def test_parallel_provisioning_stays_consistent(world: World, scim_client: Any) -> None:
    who = await scim_tenant(world)
    scim = scim_client(who)
    domain = who.tenant.domain

    async def create(n: int) -> dict[str, Any]:
        body = {"schemas": [CORE_USER], "userName": f"u{n}@{domain}", "emails": [{"value": f"u{n}@{domain}"}]}
        status, user = await scim.call("POST", "/Users", body)
        assert status == 201, user
        return user

    users = await asyncio.gather(*(create(n) for n in range(8)))
    groups = await asyncio.gather(
        *(scim.call("POST", "/Groups", {"schemas": [CORE_GROUP], "displayName": f"Ops / Shift {n}"}) for n in range(3))
    )
    assert [s for s, _ in groups] == [201, 201, 201]
    calls = [
        scim.call("PATCH", f"/Groups/{g['id']}", patch({"op": "add", "path": "members", "value": [{"value": u["id"]}]}))
        for _, g in groups
        for u in users
    ]
    results = await asyncio.gather(*calls)
    assert {s for s, _ in results} == {200}, [b for s, b in results if s != 200]
    assert len(await memberships(world, who.tenant.account_id)) == 24
    names = {g["id"]: g["displayName"] for _, g in groups}
    async with world.db.tenant(mint_for_system(who.tenant.account_id)) as s:
        joins = (
            await s.execute(
                sa.select(ScimGroupMember.user_id, ScimGroupMember.group_id).order_by(
                    ScimGroupMember.joined_at, ScimGroupMember.group_id
                )
            )
        ).all()
        organizations = (await s.scalars(sa.select(Organization.name).where(Organization.name == "Ops"))).all()
    assert organizations == ["Ops"]  # created once, although three groups asked for it in parallel
    earliest: dict[str, str] = {}
    for user_id, group_id in joins:
        earliest.setdefault(str(user_id), names[str(group_id)])
    for u in users:  # the earliest-joined group wins (ties by group id)
        org, team = await placement(world, who.tenant.account_id, u["id"])
        assert f"{org} / {team}" == earliest[u["id"]], (u["id"], org, team, earliest[u["id"]])
