"""Identity rules against the real app and PostgreSQL: which account a verified token speaks for,
which user it is (linking, just-in-time provisioning), roles from the database only, super admins,
and suspended accounts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import sqlalchemy as sa

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import AuditEvent, IdentityBinding, OidcIdentity, UnlinkedIdentity, User
from cockpit_graphql.ops.bootstrap import add_platform_operator
from tests.support.world import PLATFORM_ISSUER, Response, World

VIEWER = """{ viewer { role isSuperAdmin issuer subject
  user { id email role homeTeam { name isDefault } organization { name isDefault } } } }"""
ACCOUNTS = "{ accounts(first: 5) { totalCount nodes { id name } } }"
ACCOUNT = "query ($id: ID!) { account(id: $id) { id name status } }"
SUSPEND = """mutation ($id: ID!) { suspendAccount(input: {id: $id}) {
  account { id status } userErrors { field code message } } }"""
REACTIVATE = """mutation ($id: ID!) { reactivateAccount(input: {id: $id}) {
  account { id status } userErrors { field code message } } }"""

LINKED = "identity.user.linked"
PROVISIONED = "identity.user.provisioned"
MISMATCH = "identity.token.account_mismatch"


# --- helpers ---------------------------------------------------------------------------------------------


def subject(email: str) -> str:
    return f"sub|{email}"  # the subject World.token() uses


def other_issuer() -> str:
    return f"https://idp.other-{uuid.uuid4().hex[:8]}.test"


async def audit_events(db: Database, account_id: uuid.UUID, action: str) -> list[AuditEvent]:
    async with db.tenant(mint_for_system(account_id)) as session:
        stmt = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.occurred_at)
        return list((await session.scalars(stmt)).all())


async def users_with_email(db: Database, account_id: uuid.UUID, email: str) -> list[User]:
    async with db.tenant(mint_for_system(account_id)) as session:
        return list((await session.scalars(sa.select(User).where(User.email == email.lower()))).all())


async def identities(
    db: Database,
    account_id: uuid.UUID,
    *,
    issuer: str | None = None,
    subject: str | None = None,
    user_id: uuid.UUID | None = None,
) -> list[OidcIdentity]:
    stmt = sa.select(OidcIdentity)
    if issuer is not None:
        stmt = stmt.where(OidcIdentity.issuer == issuer)
    if subject is not None:
        stmt = stmt.where(OidcIdentity.subject == subject)
    if user_id is not None:
        stmt = stmt.where(OidcIdentity.user_id == user_id)
    async with db.tenant(mint_for_system(account_id)) as session:
        return list((await session.scalars(stmt)).all())


async def binding(db: Database, issuer: str, subject_: str) -> uuid.UUID | None:
    async with db.platform() as session:
        return await session.scalar(
            sa.select(IdentityBinding.account_id).where(
                IdentityBinding.issuer == issuer, IdentityBinding.subject == subject_
            )
        )


def assert_auth_error(r: Response, status: int, code: str) -> None:
    assert r.status == status, (r.status, r.body)
    assert "data" in r.body and r.body["data"] is None, r.body
    assert r.codes and r.codes[0] == code, r.body


def assert_signed_in(r: Response, email: str, role: str = "MEMBER") -> dict[str, Any]:
    assert r.status == 200, r.body
    assert not r.errors, r.body
    viewer = r.data["viewer"]
    assert viewer["user"]["email"] == email
    assert viewer["role"] == role
    assert viewer["isSuperAdmin"] is False
    return viewer


# --- B. account resolution ---------------------------------------------------------------------------------


async def test_issuer_cannot_speak_for_another_issuers_account(world: World, db: Database) -> None:
    a = await world.tenant()
    # B would provision anyone (JIT, no domain limit) if the issuer were not part of the account lookup
    b = await world.tenant(issuer=other_issuer(), jit=True, domains=[])
    own = f"own-{uuid.uuid4().hex[:6]}@{b.domain}"
    assert_signed_in(await world.gql(VIEWER, token=world.token(b, own)), own)  # B's own IdP works

    for email in (b.member_email, b.admin_email, f"new-{uuid.uuid4().hex[:6]}@{b.domain}", a.member_email):
        token = world.keys.token(iss=a.issuer, sub=subject(email), org=b.external_org_id, email=email)
        assert_auth_error(await world.gql(VIEWER, token=token), 401, "UNAUTHENTICATED")
        assert await binding(db, a.issuer, subject(email)) is None
        assert await identities(db, b.account_id, issuer=a.issuer) == []
    assert await users_with_email(db, b.account_id, a.member_email) == []


async def test_subject_linked_in_one_account_is_refused_in_another(world: World, db: Database) -> None:
    a = await world.tenant()
    # B shares A's issuer and would link its member by email or provision anyone (JIT, no domain limit)
    b = await world.tenant(jit=True, domains=[])
    assert a.issuer == b.issuer
    assert_signed_in(await world.gql(VIEWER, token=world.member(a)), a.member_email)
    sub = subject(a.member_email)
    assert await binding(db, a.issuer, sub) == a.account_id
    a_member_links = await identities(db, a.account_id, issuer=a.issuer, subject=sub)
    assert [i.user_id for i in a_member_links] == [a.ids["member"]]

    attempts = [
        world.keys.token(iss=a.issuer, sub=sub, org=b.external_org_id, email=a.member_email),
        world.keys.token(iss=a.issuer, sub=sub, org=b.external_org_id, email=b.member_email),  # B's member
        world.keys.token(iss=a.issuer, sub=sub, org=b.external_org_id),
    ]
    request_ids = []
    for token in attempts:
        r = await world.gql(VIEWER, token=token)
        assert_auth_error(r, 403, "ACCOUNT_MISMATCH")
        request_ids.append(r.errors[0]["extensions"]["requestId"])

    events = await audit_events(db, b.account_id, MISMATCH)  # audited in B, the account the token resolved to
    assert len(events) == len(attempts), [e.diff for e in events]
    assert sorted(e.request_id or "" for e in events) == sorted(request_ids)
    for event in events:
        assert event.account_id == b.account_id
        assert event.target_type == "Identity" and event.target_id == sub
        assert a.issuer in event.actor_label and sub in event.actor_label
    assert await audit_events(db, a.account_id, MISMATCH) == []

    # nothing was created or linked for that subject in B
    assert await users_with_email(db, b.account_id, a.member_email) == []
    assert await identities(db, b.account_id, issuer=a.issuer, subject=sub) == []
    b_member = await users_with_email(db, b.account_id, b.member_email)
    assert len(b_member) == 1
    assert await identities(db, b.account_id, user_id=b_member[0].id) == []
    assert await audit_events(db, b.account_id, LINKED) == []
    assert await audit_events(db, b.account_id, PROVISIONED) == []
    assert await binding(db, a.issuer, sub) == a.account_id

    # A's member still signs in to A
    assert_signed_in(await world.gql(VIEWER, token=world.member(a)), a.member_email)


# --- C. roles come from the database, super admins from the operator table ---------------------------------

ROLE_CLAIMS = {
    "role": "SUPER_ADMIN",
    "roles": ["SUPER_ADMIN"],
    "urn:zitadel:iam:org:project:roles": {"SUPER_ADMIN": {}},
    "is_super_admin": True,
    "isSuperAdmin": True,
    "groups": ["SUPER_ADMIN", "platform-operators"],
}


async def test_role_claims_in_a_customer_token_grant_nothing(world: World) -> None:
    t = await world.tenant()
    other = await world.tenant()
    member = world.token(t, t.member_email, extra=ROLE_CLAIMS)
    admin = world.token(t, t.admin_email, extra=ROLE_CLAIMS)

    assert_signed_in(await world.gql(VIEWER, token=member), t.member_email, "MEMBER")
    assert_signed_in(await world.gql(VIEWER, token=admin), t.admin_email, "ACCOUNT_ADMIN")

    for token in (member, admin):
        r = await world.gql(ACCOUNTS, token=token)
        assert r.status == 200, r.body
        assert "FORBIDDEN" in r.codes, r.body
        assert not r.data or r.data.get("accounts") is None, r.body

        r = await world.gql(ACCOUNT, {"id": other.account_gid}, token=token)
        assert r.data == {"account": None}, r.body

        r = await world.gql(SUSPEND, {"id": other.account_gid}, token=token)
        assert "FORBIDDEN" in r.codes, r.body
        assert not r.data or r.data.get("suspendAccount") is None, r.body

    r = await world.gql(ACCOUNT, {"id": other.account_gid}, token=await world.super_admin())
    assert r.data["account"]["status"] == "ACTIVE", r.body


async def test_unregistered_platform_subject_without_org_is_refused(world: World) -> None:
    for extra in ({}, ROLE_CLAIMS):
        token = world.keys.token(iss=PLATFORM_ISSUER, sub=f"not-an-operator-{uuid.uuid4().hex[:8]}", extra=extra)
        assert_auth_error(await world.gql(VIEWER, token=token), 401, "UNAUTHENTICATED")


async def test_operators_count_only_for_allow_listed_platform_issuers(world: World) -> None:
    operator = f"operator-{uuid.uuid4().hex[:8]}"
    await add_platform_operator(world.settings, PLATFORM_ISSUER, operator, "Operator")
    # the same subject from a customer issuer is not the operator
    token = world.keys.token(iss="https://idp.customer.test", sub=operator)
    assert_auth_error(await world.gql(VIEWER, token=token), 401, "UNAUTHENTICATED")
    # an operator row for an issuer that is not allow-listed makes nobody a super admin
    rogue_issuer = other_issuer()
    await add_platform_operator(world.settings, rogue_issuer, operator, "Rogue")
    token = world.keys.token(iss=rogue_issuer, sub=operator)
    assert_auth_error(await world.gql(VIEWER, token=token), 401, "UNAUTHENTICATED")


async def test_registered_operator_is_super_admin(world: World) -> None:
    t = await world.tenant()
    token = await world.super_admin()
    r = await world.gql(VIEWER, token=token)
    assert r.status == 200, r.body
    assert not r.errors, r.body
    assert r.data["viewer"]["isSuperAdmin"] is True
    assert r.data["viewer"]["role"] == "SUPER_ADMIN"
    assert r.data["viewer"]["issuer"] == PLATFORM_ISSUER
    assert r.data["viewer"]["user"] is None
    r = await world.gql(ACCOUNTS, token=token)
    assert not r.errors and r.data["accounts"]["totalCount"] >= 1, r.body
    r = await world.gql(ACCOUNT, {"id": t.account_gid}, token=token)
    assert r.data["account"]["id"] == t.account_gid, r.body


# --- D. linking, provisioning, suspension ------------------------------------------------------------------


async def test_verified_email_in_allowed_domain_links_existing_user_once(world: World, db: Database) -> None:
    t = await world.tenant()
    member_id = t.ids["member"]
    assert await identities(db, t.account_id, user_id=member_id) == []
    token = world.member(t)

    viewer = assert_signed_in(await world.gql(VIEWER, token=token), t.member_email)
    assert viewer["subject"] == subject(t.member_email)
    assert viewer["user"]["homeTeam"]["name"] == "Platform"  # the existing user, not a new one

    links = await identities(db, t.account_id, user_id=member_id)
    assert [(i.issuer, i.subject) for i in links] == [(t.issuer, subject(t.member_email))]
    assert await binding(db, t.issuer, subject(t.member_email)) == t.account_id
    events = await audit_events(db, t.account_id, LINKED)
    assert [e.target_id for e in events] == [str(member_id)]
    assert events[0].target_type == "User"

    assert_signed_in(await world.gql(VIEWER, token=token), t.member_email)
    assert_signed_in(await world.gql(VIEWER, token=world.member(t)), t.member_email)  # a fresh token too
    assert len(await audit_events(db, t.account_id, LINKED)) == 1
    assert len(await identities(db, t.account_id, user_id=member_id)) == 1
    assert len(await users_with_email(db, t.account_id, t.member_email)) == 1
    assert await audit_events(db, t.account_id, PROVISIONED) == []


async def test_email_link_ignores_case_and_never_moves_to_another_subject(world: World, db: Database) -> None:
    t = await world.tenant()
    member_id = t.ids["member"]
    first = world.keys.token(
        iss=t.issuer, sub="subject-one", org=t.external_org_id, email=t.member_email.upper(), verified=True
    )
    assert_signed_in(await world.gql(VIEWER, token=first), t.member_email)
    assert [i.subject for i in await identities(db, t.account_id, user_id=member_id)] == ["subject-one"]
    # another subject of the same issuer with the same (verified) email is not linked to that user
    second = world.keys.token(iss=t.issuer, sub="subject-two", org=t.external_org_id, email=t.member_email)
    assert_auth_error(await world.gql(VIEWER, token=second), 401, "UNAUTHENTICATED")
    assert [i.subject for i in await identities(db, t.account_id, user_id=member_id)] == ["subject-one"]
    assert await binding(db, t.issuer, "subject-two") is None
    assert len(await audit_events(db, t.account_id, LINKED)) == 1
    assert_signed_in(await world.gql(VIEWER, token=first), t.member_email)


async def test_unverified_email_does_not_link(world: World, db: Database) -> None:
    for jit in (False, True):
        t = await world.tenant(jit=jit)
        for value in (False, "false", "yes", 1, None):
            token = world.token(t, t.member_email, extra={"email_verified": value})
            assert_auth_error(await world.gql(VIEWER, token=token), 401, "UNAUTHENTICATED")
        token = world.token(t, t.member_email, verified=False)
        assert_auth_error(await world.gql(VIEWER, token=token), 401, "UNAUTHENTICATED")
        no_claim = world.keys.token(
            iss=t.issuer, sub=subject(t.member_email), org=t.external_org_id, extra={"email": t.member_email}
        )
        assert_auth_error(await world.gql(VIEWER, token=no_claim), 401, "UNAUTHENTICATED")
        # an unknown user with an unverified email is not provisioned either
        new = f"new-{uuid.uuid4().hex[:6]}@{t.domain}"
        assert_auth_error(await world.gql(VIEWER, token=world.token(t, new, verified=False)), 401, "UNAUTHENTICATED")

        assert await identities(db, t.account_id) == []
        assert await binding(db, t.issuer, subject(t.member_email)) is None
        assert await users_with_email(db, t.account_id, new) == []
        assert await audit_events(db, t.account_id, LINKED) == []
        assert await audit_events(db, t.account_id, PROVISIONED) == []
    # the control: verified, the same member signs in
    assert_signed_in(await world.gql(VIEWER, token=world.member(t)), t.member_email)


async def test_email_outside_allowed_domains_does_not_link(world: World, db: Database) -> None:
    allowed = f"allowed-{uuid.uuid4().hex[:6]}.example"
    for jit in (False, True):
        t = await world.tenant(jit=jit, domains=[allowed])
        assert_auth_error(await world.gql(VIEWER, token=world.member(t)), 401, "UNAUTHENTICATED")
        new = f"new-{uuid.uuid4().hex[:6]}@{t.domain}"
        assert_auth_error(await world.gql(VIEWER, token=world.token(t, new)), 401, "UNAUTHENTICATED")
        # a look-alike domain is not the allowed one
        sneaky = f"new-{uuid.uuid4().hex[:6]}@evil{allowed}"
        assert_auth_error(await world.gql(VIEWER, token=world.token(t, sneaky)), 401, "UNAUTHENTICATED")

        assert await identities(db, t.account_id) == []
        assert await users_with_email(db, t.account_id, new) == []
        assert await users_with_email(db, t.account_id, sneaky) == []
        assert await audit_events(db, t.account_id, LINKED) == []
        assert await audit_events(db, t.account_id, PROVISIONED) == []
    # the control: in the allowed domain, JIT provisions
    fine = f"new-{uuid.uuid4().hex[:6]}@{allowed}"
    assert_signed_in(await world.gql(VIEWER, token=world.token(t, fine)), fine)


async def test_jit_provisions_a_member_in_the_global_team(world: World, db: Database) -> None:
    t = await world.tenant(jit=True)
    email = f"newcomer-{uuid.uuid4().hex[:6]}@{t.domain}"
    assert await users_with_email(db, t.account_id, email) == []
    token = world.token(t, email, extra={"name": "New Comer"})

    viewer = assert_signed_in(await world.gql(VIEWER, token=token), email, "MEMBER")
    assert viewer["user"]["role"] == "MEMBER"
    assert viewer["user"]["homeTeam"] == {"name": "Global", "isDefault": True}
    assert viewer["user"]["organization"] == {"name": "Global", "isDefault": True}

    users = await users_with_email(db, t.account_id, email)
    assert len(users) == 1
    user = users[0]
    assert user.role == "MEMBER" and user.home_team_id == t.default_team_id
    assert user.display_name == "New Comer"
    assert [(i.issuer, i.subject) for i in await identities(db, t.account_id, user_id=user.id)] == [
        (t.issuer, subject(email))
    ]
    events = await audit_events(db, t.account_id, PROVISIONED)
    assert [e.target_id for e in events] == [str(user.id)]

    # the next sign-in finds the linked user: nothing new
    assert_signed_in(await world.gql(VIEWER, token=token), email, "MEMBER")
    assert len(await users_with_email(db, t.account_id, email)) == 1
    assert len(await audit_events(db, t.account_id, PROVISIONED)) == 1
    assert await audit_events(db, t.account_id, LINKED) == []


async def test_a_first_burst_of_requests_links_or_provisions_once_and_signs_every_one_in(
    world: World, db: Database
) -> None:
    """A client's first requests arrive together, each finding no linked user: every one is signed in as
    the same user, linked (or provisioned) once, and none is recorded as an unlinked identity. Without
    the per-identity lock the later ones saw the first one's link as "linked to another subject"."""
    t = await world.tenant(jit=True)
    newcomer = f"burst-{uuid.uuid4().hex[:6]}@{t.domain}"
    for email, action in ((t.member_email, LINKED), (newcomer, PROVISIONED)):
        token = world.token(t, email)
        answers = await asyncio.gather(*(world.gql(VIEWER, token=token) for _ in range(8)))
        ids = {assert_signed_in(r, email)["user"]["id"] for r in answers}
        assert len(ids) == 1, ids
        users = await users_with_email(db, t.account_id, email)
        assert len(users) == 1
        assert [(i.issuer, i.subject) for i in await identities(db, t.account_id, user_id=users[0].id)] == [
            (t.issuer, subject(email))
        ]
        assert [e.target_id for e in await audit_events(db, t.account_id, action)] == [str(users[0].id)]
    async with db.tenant(mint_for_system(t.account_id)) as session:
        assert (await session.scalars(sa.select(UnlinkedIdentity))).all() == []


async def test_role_claims_do_not_shape_a_provisioned_user(world: World, db: Database) -> None:
    t = await world.tenant(jit=True)
    email = f"claims-{uuid.uuid4().hex[:6]}@{t.domain}"
    extra = {**ROLE_CLAIMS, "role": "ACCOUNT_ADMIN", "roles": ["ACCOUNT_ADMIN", "SUPER_ADMIN"]}
    assert_signed_in(await world.gql(VIEWER, token=world.token(t, email, extra=extra)), email, "MEMBER")
    assert [u.role for u in await users_with_email(db, t.account_id, email)] == ["MEMBER"]


async def test_jit_off_refuses_an_unknown_user(world: World, db: Database) -> None:
    t = await world.tenant(jit=False)
    email = f"stranger-{uuid.uuid4().hex[:6]}@{t.domain}"
    for _ in range(2):
        assert_auth_error(await world.gql(VIEWER, token=world.token(t, email)), 401, "UNAUTHENTICATED")
    assert await users_with_email(db, t.account_id, email) == []
    assert await identities(db, t.account_id) == []
    assert await binding(db, t.issuer, subject(email)) is None
    assert await audit_events(db, t.account_id, PROVISIONED) == []


async def test_suspended_account_refuses_its_users_but_not_the_super_admin(world: World, db: Database) -> None:
    t = await world.tenant(jit=True)
    super_admin = await world.super_admin()
    assert_signed_in(await world.gql(VIEWER, token=world.member(t)), t.member_email)  # linked before

    r = await world.gql(SUSPEND, {"id": t.account_gid}, token=super_admin)
    assert r.status == 200 and not r.errors, r.body
    assert r.data["suspendAccount"]["userErrors"] == [], r.body
    assert r.data["suspendAccount"]["account"]["status"] == "SUSPENDED"

    newcomer = f"new-{uuid.uuid4().hex[:6]}@{t.domain}"
    for token in (world.member(t), world.admin(t), world.token(t, newcomer)):
        for query in (VIEWER, "{ account { name status } }"):
            assert_auth_error(await world.gql(query, token=token), 403, "ACCOUNT_SUSPENDED")
    # nobody was linked or provisioned while suspended
    assert await identities(db, t.account_id, user_id=t.ids["admin"]) == []
    assert await users_with_email(db, t.account_id, newcomer) == []

    r = await world.gql(ACCOUNT, {"id": t.account_gid}, token=super_admin)
    assert r.status == 200 and not r.errors, r.body
    assert r.data["account"] == {"id": t.account_gid, "name": r.data["account"]["name"], "status": "SUSPENDED"}

    # reactivated, its members are back
    r = await world.gql(REACTIVATE, {"id": t.account_gid}, token=super_admin)
    assert r.data["reactivateAccount"]["account"]["status"] == "ACTIVE", r.body
    assert_signed_in(await world.gql(VIEWER, token=world.member(t)), t.member_email)


# --- the one-statement lookup --------------------------------------------------------------------------------

IDENTITY_ROW = sa.text("SELECT * FROM cockpit_identity(:issuer, :subject, :organization, false)")
TENANT_NOW = sa.text("SELECT current_setting('app.account_id', true)")


async def test_the_identity_function_enters_the_account_for_the_user_read_only(world: World, db: Database) -> None:
    """cockpit_identity() reads the linked user under row-level security by entering the account it
    found, then gives the caller's transaction back its own tenant setting; outside a transaction the
    setting ends with the statement, so a pooled connection never keeps it."""
    a = await world.tenant()
    b = await world.tenant()
    assert_signed_in(await world.gql(VIEWER, token=world.member(a)), a.member_email)  # links A's member
    params = {"issuer": a.issuer, "subject": subject(a.member_email), "organization": a.external_org_id}

    async with db.tenant(mint_for_system(b.account_id)) as session:
        row = (await session.execute(IDENTITY_ROW, params)).one()
        assert (row.account_id, row.user_id, row.user_email) == (a.account_id, a.ids["member"], a.member_email)
        assert await session.scalar(TENANT_NOW) == str(b.account_id)  # B's transaction is still B's
        seen = (await session.scalars(sa.select(User.email))).all()
        assert a.member_email not in seen  # and sees no row of A

    async with db.single_statements() as connection:
        row = (await connection.execute(IDENTITY_ROW, params)).one()
        assert row.user_id == a.ids["member"]
        assert await connection.scalar(TENANT_NOW) in (None, "")


async def test_the_identity_function_reads_no_user_where_the_account_may_not_be_entered(
    world: World, db: Database
) -> None:
    """No account for (issuer, organization), a subject bound to another account, or a suspended
    account: the function returns what it found and no user (the service refuses each)."""
    a = await world.tenant()
    b = await world.tenant()
    assert_signed_in(await world.gql(VIEWER, token=world.member(a)), a.member_email)
    sub = subject(a.member_email)

    async def lookup(organization: str) -> sa.Row[Any]:
        async with db.single_statements() as connection:
            params = {"issuer": a.issuer, "subject": sub, "organization": organization}
            return (await connection.execute(IDENTITY_ROW, params)).one()

    unknown = await lookup("no-such-org")
    assert (unknown.account_id, unknown.bound_account, unknown.user_id) == (None, a.account_id, None)
    elsewhere = await lookup(b.external_org_id)  # bound to A, token for B
    assert (elsewhere.account_id, elsewhere.bound_account, elsewhere.user_id) == (b.account_id, a.account_id, None)
    root = await world.super_admin()
    r = await world.gql(SUSPEND, {"id": a.account_gid}, token=root)
    assert r.data["suspendAccount"]["userErrors"] == [], r.body
    suspended = await lookup(a.external_org_id)
    assert (suspended.account_id, suspended.account_status, suspended.user_id) == (a.account_id, "SUSPENDED", None)
