"""Identity reconciliation: identities refused at sign-in are kept, and reconcileIdentities links
them by verified email without guessing (linked / ambiguous / conflicting / unmatched)."""

from __future__ import annotations

import uuid
from typing import Any

from cockpit_graphql.types.ids import encode_id
from tests.support.world import Tenant, World

RECONCILE = """mutation($i: ReconcileIdentitiesInput!) { reconcileIdentities(input: $i) {
  dryRun userErrors { code }
  linked { subject email reason user { email } } ambiguous { subject reason }
  conflicting { subject reason } unmatched { subject reason } } }"""


def _sign_in(world: World, t: Tenant, sub: str, email: str | None, verified: bool = True) -> str:
    return world.keys.token(iss=t.issuer, sub=sub, org=t.external_org_id, email=email, verified=verified)


async def _try(world: World, token: str) -> list[str]:
    return (await world.gql("{ viewer { role } }", token=token)).codes


async def _reconcile(world: World, t: Tenant, dry_run: bool) -> dict[str, Any]:
    r = await world.gql(RECONCILE, {"i": {"dryRun": dry_run}}, world.admin(t))
    assert r.errors == [] and r.data["reconcileIdentities"]["userErrors"] == [], r.body
    return r.data["reconcileIdentities"]


def _subjects(result: dict[str, Any], outcome: str) -> dict[str, str]:
    return {c["subject"]: c["reason"] for c in result[outcome]}


async def test_refused_sign_ins_are_reconciled_by_verified_email_without_guessing(world: World) -> None:
    t = await world.tenant()  # JIT off: unknown users are refused
    await world.gql("{ viewer { role } }", token=world.admin(t))  # the admin links by email
    attempts = {
        "later-user": _sign_in(world, t, "later-user", f"late@{t.domain}"),
        "twin-a": _sign_in(world, t, "twin-a", f"twin@{t.domain}"),
        "twin-b": _sign_in(world, t, "twin-b", f"twin@{t.domain}"),
        "unverified": _sign_in(world, t, "unverified", f"shy@{t.domain}", verified=False),
        "foreign": _sign_in(world, t, "foreign", "someone@elsewhere.example"),
        "second-admin": _sign_in(world, t, "second-admin", t.admin_email),  # the admin already has a subject
        "anonymous": _sign_in(world, t, "anonymous", None),
    }
    for token in attempts.values():
        assert await _try(world, token) == ["UNAUTHENTICATED"]
    assert await _try(world, attempts["later-user"]) == ["UNAUTHENTICATED"]  # counted again, kept once

    for local in ("late", "twin", "shy"):  # the users arrive later (by SCIM or an admin)
        r = await world.gql(
            "mutation($i: CreateUserInput!) { createUser(input: $i) { userErrors { code } } }",
            {"i": {"email": f"{local}@{t.domain}"}},
            world.admin(t),
        )
        assert r.data["createUser"]["userErrors"] == []

    preview = await _reconcile(world, t, dry_run=True)
    assert preview["dryRun"] is True and _subjects(preview, "linked") == {"later-user": "MATCHED_VERIFIED_EMAIL"}
    assert _subjects(await _reconcile(world, t, dry_run=True), "linked") == {"later-user": "MATCHED_VERIFIED_EMAIL"}

    done = await _reconcile(world, t, dry_run=False)
    assert done["linked"] == [
        {
            "subject": "later-user",
            "email": f"late@{t.domain}",
            "reason": "MATCHED_VERIFIED_EMAIL",
            "user": {"email": f"late@{t.domain}"},
        }
    ]
    assert _subjects(done, "ambiguous") == {
        "twin-a": "SEVERAL_IDENTITIES_SAME_EMAIL",
        "twin-b": "SEVERAL_IDENTITIES_SAME_EMAIL",
    }
    assert _subjects(done, "conflicting") == {
        "unverified": "EMAIL_NOT_VERIFIED",
        "foreign": "DOMAIN_NOT_ALLOWED",
        "second-admin": "USER_ALREADY_LINKED",
    }
    assert _subjects(done, "unmatched") == {"anonymous": "NO_EMAIL"}
    assert await _try(world, attempts["later-user"]) == []  # signs in, linked
    again = await _reconcile(world, t, dry_run=False)  # nobody was guessed: the twins are still open
    assert again["linked"] == [] and set(_subjects(again, "ambiguous")) == {"twin-a", "twin-b"}
    assert "later-user" not in {c["subject"] for o in ("conflicting", "unmatched") for c in again[o]}


async def test_members_cannot_reconcile_and_accounts_stay_apart(world: World) -> None:
    a, b = await world.tenant(), await world.tenant()
    assert await _try(world, _sign_in(world, b, "lost", f"lost@{b.domain}")) == ["UNAUTHENTICATED"]
    r = await world.gql(RECONCILE, {"i": {}}, world.member(a))
    assert r.codes == ["FORBIDDEN"]
    mine = await _reconcile(world, a, dry_run=True)
    assert mine["unmatched"] == [] and mine["conflicting"] == []  # B's identity is not A's to see
    theirs = await _reconcile(world, b, dry_run=True)
    assert _subjects(theirs, "unmatched") == {"lost": "NO_USER"}


async def test_a_later_sign_in_links_by_itself_and_leaves_the_list(world: World) -> None:
    t = await world.tenant()
    token = _sign_in(world, t, "early", f"early@{t.domain}")
    assert await _try(world, token) == ["UNAUTHENTICATED"]
    assert _subjects(await _reconcile(world, t, dry_run=True), "unmatched") == {"early": "NO_USER"}
    r = await world.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { userErrors { code } } }",
        {"i": {"email": f"early@{t.domain}"}},
        world.admin(t),
    )
    assert r.data["createUser"]["userErrors"] == []
    assert await _try(world, token) == []  # sign-in links by verified email (domain.md §1) …
    left = await _reconcile(world, t, dry_run=True)
    assert all(not left[o] for o in ("linked", "ambiguous", "conflicting", "unmatched"))  # … and it is gone


async def test_a_super_admin_naming_an_account_that_does_not_exist_gets_not_found(world: World) -> None:
    t = await world.tenant()
    operator = await world.super_admin()
    query = "mutation($i: ReconcileIdentitiesInput!) { reconcileIdentities(input: $i) { userErrors { field code } } }"
    for dry_run in (True, False):
        missing = encode_id("Account", (gone := uuid.uuid4()), gone)
        r = await world.gql(query, {"i": {"accountId": missing, "dryRun": dry_run}}, operator)
        assert r.errors == [], r.body  # was INTERNAL (an assert on the account row)
        assert r.data["reconcileIdentities"]["userErrors"] == [{"field": ["input", "accountId"], "code": "NOT_FOUND"}]
    r = await world.gql(query, {"i": {"accountId": t.account_gid, "dryRun": True}}, operator)
    assert r.errors == [] and r.data["reconcileIdentities"]["userErrors"] == []  # an existing one still works
