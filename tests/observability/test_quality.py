"""Account.directoryQuality: each check against planted cases, samples capped at 10, isolation and roles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.tables import OidcIdentity, User
from cockpit_graphql.domain.directory import service as directory
from tests.support.world import OP, Tenant, World

CHECKS = (
    "usersWithoutExternalId",
    "usersInDefaultTeam",
    "duplicateEmails",
    "missingEmails",
    "usersWithoutIdentity",
    "usersNotSeenInLastSync",
)
QUERY = (
    "query($id: ID!) { node(id: $id) { ... on Account { directoryQuality { "
    + " ".join(f"{c} {{ count samples {{ email }} }}" for c in CHECKS)
    + " emptyTeams { count samples { name } } emptyOrganizations { count samples { name } }"
    + " lastIdpSyncAt idpSyncToleranceSeconds } } } }"
)
T = datetime(2026, 1, 1, 12, tzinfo=UTC)


async def _users(world: World, t: Tenant, specs: list[dict[str, Any]]) -> None:
    """Insert users as a faulty sync could leave them (bypassing the service's normalisation)."""
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        for spec in specs:
            identity = spec.pop("identity", False)
            user = User(account_id=t.account_id, home_team_id=spec.pop("team", t.ids["platform"]), **spec)
            s.add(user)
            await s.flush()
            if identity:
                s.add(
                    OidcIdentity(
                        account_id=t.account_id,
                        user_id=user.id,
                        issuer=t.issuer,
                        subject=f"sub-{uuid.uuid4().hex}",
                        email=user.email,
                    )
                )
                await s.flush()


async def _quality(world: World, t: Tenant, token: str) -> Any:
    r = await world.gql(QUERY, {"id": t.account_gid}, token)
    assert r.errors == [], r.body
    return r.data["node"]["directoryQuality"] if r.data["node"] else None


def _emails(check: dict[str, Any]) -> set[str]:
    return {s["email"] for s in check["samples"]}


async def test_each_check_finds_its_planted_cases(world: World) -> None:
    t = await world.tenant()
    d = t.domain
    await _users(
        world,
        t,
        [
            {"email": f"fresh@{d}", "external_id": "e1", "last_seen_in_idp_at": T, "identity": True},
            {"email": f"recent@{d}", "external_id": "e2", "last_seen_in_idp_at": T - timedelta(minutes=10)},
            {
                "email": f"stale@{d}",
                "external_id": "e3",
                "last_seen_in_idp_at": T - timedelta(hours=2),
                "team": t.ids["global_team"],
            },
            {"email": f" case@{d} "},  # lower-case (a check constraint) but untrimmed
            {"email": f"case@{d}", "external_id": " "},
            {"email": "", "external_id": "e4", "last_seen_in_idp_at": T},
        ],
    )
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        await directory.create_team(s, mint_for_system(t.account_id), OP, t.ids["eng"], "Empty")
        hollow = await directory.create_organization(s, mint_for_system(t.account_id), OP, "Hollow")
        await directory.create_team(s, mint_for_system(t.account_id), OP, hollow.id, "Nobody")
    admin = world.admin(t)  # its first request links the admin's identity
    q = await _quality(world, t, admin)
    admin_e, member_e = t.admin_email, t.member_email

    assert q["usersWithoutExternalId"]["count"] == 4
    assert _emails(q["usersWithoutExternalId"]) == {admin_e, member_e, f" case@{d} ", f"case@{d}"}
    assert _emails(q["usersInDefaultTeam"]) == {admin_e, f"stale@{d}"}
    assert q["usersInDefaultTeam"]["count"] == 2
    assert _emails(q["duplicateEmails"]) == {f" case@{d} ", f"case@{d}"}
    assert q["duplicateEmails"]["count"] == 2
    assert q["missingEmails"]["count"] == 1 and _emails(q["missingEmails"]) == {""}
    assert q["usersWithoutIdentity"]["count"] == 6
    assert admin_e not in _emails(q["usersWithoutIdentity"]) and f"fresh@{d}" not in _emails(q["usersWithoutIdentity"])
    assert q["emptyTeams"] == {"count": 2, "samples": [{"name": "Empty"}, {"name": "Nobody"}]}
    assert q["emptyOrganizations"] == {"count": 1, "samples": [{"name": "Hollow"}]}
    assert q["lastIdpSyncAt"] == T.isoformat() and q["idpSyncToleranceSeconds"] == 3600
    assert _emails(q["usersNotSeenInLastSync"]) == {admin_e, member_e, f"stale@{d}", f" case@{d} ", f"case@{d}"}
    assert q["usersNotSeenInLastSync"]["count"] == 5


async def test_a_clean_directory_reports_zero_and_no_sync_means_no_stale_users(world: World) -> None:
    t = await world.tenant()
    q = await _quality(world, t, world.admin(t))
    assert q["duplicateEmails"] == {"count": 0, "samples": []}
    assert q["missingEmails"] == {"count": 0, "samples": []}
    assert q["emptyTeams"]["count"] == 0 and q["emptyOrganizations"]["count"] == 0
    assert q["lastIdpSyncAt"] is None and q["usersNotSeenInLastSync"] == {"count": 0, "samples": []}


async def test_samples_are_capped_and_accounts_isolated(world: World) -> None:
    a, b = await world.tenant(), await world.tenant()
    async with world.db.tenant(mint_for_system(b.account_id)) as s:
        for i in range(12):
            await directory.create_team(s, mint_for_system(b.account_id), OP, b.ids["eng"], f"Empty {i:02d}")
    await _users(world, b, [{"email": f"x{i}@{b.domain}", "team": b.ids["global_team"]} for i in range(11)])
    qb = await _quality(world, b, world.admin(b))
    assert qb["emptyTeams"]["count"] == 12 and len(qb["emptyTeams"]["samples"]) == 10
    assert qb["usersInDefaultTeam"]["count"] == 12 and len(qb["usersInDefaultTeam"]["samples"]) == 10
    qa = await _quality(world, a, world.admin(a))
    assert qa["emptyTeams"]["count"] == 0 and qa["usersInDefaultTeam"]["count"] == 1
    # another account answers as if it did not exist
    assert await _quality(world, b, world.admin(a)) is None
    # members may not read it
    r = await world.gql(QUERY, {"id": a.account_gid}, world.member(a))
    assert "FORBIDDEN" in r.codes, r.body
    # super admins read any account
    root = await world.super_admin()
    assert (await _quality(world, b, root))["emptyTeams"]["count"] == 12


async def test_users_without_an_email_are_missing_not_duplicated(world: World) -> None:
    t = await world.tenant()
    tenant = mint_for_system(t.account_id)
    async with world.db.tenant(tenant) as s:  # what SCIM stores for users whose IdP sent no email
        for external_id in ("scim-1", "scim-2"):
            await directory.create_user(s, tenant, OP, email="", external_id=external_id, allow_missing_email=True)
    q = await _quality(world, t, world.admin(t))
    assert q["missingEmails"]["count"] == 2
    assert q["duplicateEmails"] == {"count": 0, "samples": []}
