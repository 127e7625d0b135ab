"""Identity rules: which account a verified token speaks for, and which user it is.

1. Super admins: a platform issuer (allow-listed in settings) and an operator row for (iss, sub).
2. The account is the one whose configured SSO issuer AND external org id equal the token's issuer
   and organization claim: one customer's identity provider can never speak for another account.
3. The user is found by (issuer, subject); else, by verified email in an allowed domain of that
   account (the link is stored and audited); else created just in time when the account allows it,
   with the account's default role, in its default team.
4. A subject already linked in another account is refused with ACCOUNT_MISMATCH (audited in the
   resolved account; nothing is read or changed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId, mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.errors import sqlstate_of
from cockpit_graphql.db.tables import (
    Account,
    IdentityBinding,
    OidcIdentity,
    UnlinkedIdentity,
    User,
)
from cockpit_graphql.domain.accounts.rate_limits import RateLimitSetting, override_from
from cockpit_graphql.domain.actor import Actor, ActorType, Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.directory import repository as directory_repo
from cockpit_graphql.domain.directory.service import create_user
from cockpit_graphql.domain.errors import CockpitError, ErrorCode, UserInputError
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.domain.validation import email_domain


@dataclass(frozen=True)
class VerifiedClaims:
    issuer: str
    subject: str
    organization: str | None
    email: str | None
    email_verified: bool
    name: str | None = None


@dataclass(frozen=True)
class Identity:
    """Who a request is, as the database says (roles never come from token claims)."""

    role: Role
    issuer: str
    subject: str
    label: str
    account_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    operator_id: uuid.UUID | None = None
    rate_limit: RateLimitSetting | None = None  # the account's override, read with the account (no extra SQL)

    @property
    def actor(self) -> Actor:
        kind = ActorType.SUPER_ADMIN if self.role is Role.SUPER_ADMIN else ActorType.USER
        return Actor(type=kind, role=self.role, label=self.label, user_id=self.user_id, operator_id=self.operator_id)


class IdentityRefused(CockpitError):
    unlinked_reason: str | None = None  # set when the identity is kept for reconciliation


def _refuse(code: ErrorCode, message: str) -> IdentityRefused:
    return IdentityRefused(message, code)


def _unlinked(reason: str, message: str) -> IdentityRefused:
    """A sign-in that found no user to link: refused, and the identity is kept (unlinked_identities)
    so that an admin can reconcile it later."""
    refused = IdentityRefused(message, ErrorCode.UNAUTHENTICATED)
    refused.unlinked_reason = reason
    return refused


async def resolve_identity(
    db: Database, claims: VerifiedClaims, platform_issuers: list[str], request_id: str | None = None
) -> Identity:
    """One statement for a known identity (`_lookup`): the operator, the account, the binding and the
    linked user. Only a first sign-in (link or provision), a refusal that keeps the identity, and
    ACCOUNT_MISMATCH (audited) take a transaction of their own."""
    found = await _lookup(db, claims, operator=claims.issuer in platform_issuers)
    if found.operator_id is not None:
        return Identity(
            role=Role.SUPER_ADMIN,
            issuer=claims.issuer,
            subject=claims.subject,
            label=found.operator_name or claims.subject,
            operator_id=found.operator_id,
        )
    if not claims.organization:
        raise _refuse(ErrorCode.UNAUTHENTICATED, "The token carries no organization claim.")
    account_id = found.account_id
    if account_id is None:
        raise _refuse(ErrorCode.UNAUTHENTICATED, "No account matches this token's issuer and organization.")
    tenant = mint_for_system(account_id)
    if found.bound_account is not None and found.bound_account != account_id:
        await _audit_mismatch(db, tenant, claims, found.bound_account, request_id)
        raise _refuse(ErrorCode.ACCOUNT_MISMATCH, "This identity is linked to a different account.")
    if found.account_status == "SUSPENDED":
        raise _refuse(ErrorCode.ACCOUNT_SUSPENDED, "This account is suspended.")
    user = found.user
    if user is None:
        user = _SignedIn.of(await _first_sign_in(db, tenant, claims, request_id))
    if user.deactivated_at is not None:  # deprovisioned (SCIM): history kept, access gone
        raise _refuse(ErrorCode.UNAUTHENTICATED, "This user is deactivated.")
    return Identity(
        role=Role(user.role),
        issuer=claims.issuer,
        subject=claims.subject,
        label=user.display_name or user.email,
        account_id=account_id,
        user_id=user.id,
        rate_limit=found.rate_limit,
    )


async def _first_sign_in(db: Database, tenant: TenantId, claims: VerifiedClaims, request_id: str | None) -> User:
    """No user is linked to (issuer, subject): link by verified email or provision, in a tenant
    transaction of its own; a refusal that names a reason keeps the identity for reconciliation.

    Provisioning can lose a race on the email to another writer of the directory (a SCIM create of the
    same person, an admin's createUser: they do not take the sign-in lock) and hit the unique email;
    nothing of the transaction was written, and a second attempt sees their user and links to it (or
    refuses with a code), instead of answering a 500."""
    for attempt in range(1, FIRST_SIGN_IN_ATTEMPTS + 1):
        try:
            async with db.tenant(tenant) as session:
                await _serialize_first_sign_in(session, claims)
                linked = await _linked_user(session, claims)
                if linked is not None:  # a concurrent first request of this identity linked it after our lookup
                    return linked
                account = await session.get_one(Account, tenant.value)
                return await _link_or_provision(session, tenant, account, claims, request_id)
        except IdentityRefused as refused:
            if refused.unlinked_reason is not None:
                async with db.tenant(tenant) as session:  # the failed transaction rolled back: a fresh one
                    await _keep_unlinked(session, tenant, claims, refused.unlinked_reason)
            raise
        except IntegrityError as exc:
            if sqlstate_of(exc) != UNIQUE_VIOLATION or attempt == FIRST_SIGN_IN_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # the loop returns or raises


FIRST_SIGN_IN_ATTEMPTS = 2
UNIQUE_VIOLATION = "23505"


@dataclass(frozen=True)
class _SignedIn:
    """What a request needs of its user."""

    id: uuid.UUID
    role: str
    display_name: str | None
    email: str
    deactivated_at: datetime | None

    @classmethod
    def of(cls, user: User) -> _SignedIn:
        return cls(user.id, user.role, user.display_name, user.email, user.deactivated_at)


@dataclass(frozen=True)
class _Found:
    operator_id: uuid.UUID | None
    operator_name: str | None
    account_id: uuid.UUID | None
    account_status: str | None
    rate_limit: RateLimitSetting | None
    bound_account: uuid.UUID | None
    user: _SignedIn | None  # read only when the account may be entered (found, not bound elsewhere, active)


IDENTITY = sa.text("SELECT * FROM cockpit_identity(:issuer, :subject, :organization, :operator)")


async def _lookup(db: Database, claims: VerifiedClaims, *, operator: bool) -> _Found:
    """The platform operator (only when the issuer is a platform issuer), the account of (issuer,
    organization), the account the subject is bound to and its linked user: one statement outside a
    transaction, `cockpit_identity()` (migration 0011), which enters the account for the user read
    only (row-level security applies) and decides nothing. Every request pays this: it was a
    transaction of five round trips and three statements."""
    params = {
        "issuer": claims.issuer,
        "subject": claims.subject,
        "organization": claims.organization or "",
        "operator": operator,
    }
    async with db.single_statements() as connection:
        row = (await connection.execute(IDENTITY, params)).one()
    (operator_id, operator_name, account_id, status, capacity, refill, bound, user_id, *user) = row
    signed_in = _SignedIn(user_id, *user) if user_id is not None else None
    return _Found(operator_id, operator_name, account_id, status, override_from(capacity, refill), bound, signed_in)


async def _audit_mismatch(
    db: Database, tenant: TenantId, claims: VerifiedClaims, bound_account: uuid.UUID, request_id: str | None
) -> None:
    actor = Actor(type=ActorType.USER, role=Role.MEMBER, label=f"{claims.issuer}#{claims.subject}")
    async with db.tenant(tenant) as session:
        await record(
            session,
            tenant,
            Operation(actor, request_id),
            AuditAction.IDENTITY_ACCOUNT_MISMATCH,
            target_type="Identity",
            target_id=claims.subject,
            after={"issuer": claims.issuer, "organization": claims.organization, "refused": True},
        )


async def _link_or_provision(
    session: AsyncSession, tenant: TenantId, account: Account, claims: VerifiedClaims, request_id: str | None
) -> User:
    email = (claims.email or "").strip().lower() or None
    domain_allowed = email is not None and email_domain(email) in account.sso_allowed_email_domains
    actor = Actor(type=ActorType.USER, role=Role.MEMBER, label=email or claims.subject)
    op = Operation(actor, request_id)
    if email and claims.email_verified and domain_allowed:
        user = await directory_repo.user_by_email(session, email)
        if user is not None:
            if await _has_identity_for_issuer(session, user.id, claims.issuer):
                raise _unlinked(
                    "USER_ALREADY_LINKED",
                    "The user with this email is already linked to another subject of this issuer.",
                )
            await store_link(session, tenant, user, claims.issuer, claims.subject, email)
            await record(
                session,
                tenant,
                op,
                AuditAction.IDENTITY_LINKED,
                target_type="User",
                target_id=user.id,
                after={"issuer": claims.issuer, "subject": claims.subject, "email": email},
            )
            return user
    if (
        account.jit_enabled
        and email
        and claims.email_verified
        and (domain_allowed or not account.sso_allowed_email_domains)
    ):
        if await directory_repo.user_by_email(session, email) is not None:
            raise _unlinked("DOMAIN_NOT_ALLOWED", "A user with this email exists but cannot be linked.")
        try:
            user = await create_user(
                session,
                tenant,
                op,
                email=email,
                display_name=claims.name,
                role=Role(account.jit_default_role),
                audit_action=AuditAction.IDENTITY_PROVISIONED,
            )
        except UserInputError as exc:
            raise _refuse(ErrorCode.UNAUTHENTICATED, f"Cannot provision this identity: {exc}") from exc
        await store_link(session, tenant, user, claims.issuer, claims.subject, email)
        return user
    if not email:
        reason = "NO_EMAIL"
    elif not claims.email_verified:
        reason = "EMAIL_NOT_VERIFIED"
    elif not domain_allowed:
        reason = "DOMAIN_NOT_ALLOWED"
    else:
        reason = "NO_USER"
    raise _unlinked(reason, "No user of this account is linked to this identity.")


async def _keep_unlinked(session: AsyncSession, tenant: TenantId, claims: VerifiedClaims, reason: str) -> None:
    email = (claims.email or "").strip().lower() or None
    stmt = pg_insert(UnlinkedIdentity).values(
        account_id=tenant.value,
        issuer=claims.issuer,
        subject=claims.subject,
        email=email,
        email_verified=claims.email_verified,
        reason=reason,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "issuer", "subject"],
            set_={
                "email": stmt.excluded.email,
                "email_verified": stmt.excluded.email_verified,
                "reason": stmt.excluded.reason,
                "attempts": UnlinkedIdentity.attempts + 1,
                "last_seen_at": sa.func.now(),
            },
        )
    )


async def _serialize_first_sign_in(session: AsyncSession, claims: VerifiedClaims) -> None:
    """First sign-ins of one (issuer, subject) run one at a time (a transaction-scoped advisory lock):
    a client's first burst of requests all find no linked user, and without the lock the later ones
    saw the first one's link as "linked to another subject" or raced it to provision the same email."""
    await session.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended('cockpit.sign-in:' || :issuer || '#' || :subject, 0))"),
        {"issuer": claims.issuer, "subject": claims.subject},
    )


async def _linked_user(session: AsyncSession, claims: VerifiedClaims) -> User | None:
    stmt = (
        sa.select(User)
        .join(OidcIdentity, sa.and_(OidcIdentity.account_id == User.account_id, OidcIdentity.user_id == User.id))
        .where(OidcIdentity.issuer == claims.issuer, OidcIdentity.subject == claims.subject)
    )
    return (await session.scalars(stmt)).first()


async def _has_identity_for_issuer(session: AsyncSession, user_id: uuid.UUID, issuer: str) -> bool:
    stmt = sa.select(sa.literal(1)).where(OidcIdentity.user_id == user_id, OidcIdentity.issuer == issuer)
    return (await session.scalar(stmt)) is not None


async def store_link(
    session: AsyncSession, tenant: TenantId, user: User, issuer: str, subject: str, email: str | None
) -> None:
    """Link (issuer, subject) to `user`: the platform routing row, then the tenant identity."""
    inserted = await session.scalar(
        pg_insert(IdentityBinding)
        .values(issuer=issuer, subject=subject, account_id=tenant.value)
        .on_conflict_do_nothing()
        .returning(IdentityBinding.account_id)
    )
    if inserted is None:  # a concurrent request linked it first: it must be this account
        bound = await session.scalar(
            sa.select(IdentityBinding.account_id).where(
                IdentityBinding.issuer == issuer, IdentityBinding.subject == subject
            )
        )
        if bound != tenant.value:
            raise _refuse(ErrorCode.ACCOUNT_MISMATCH, "This identity is linked to a different account.")
        existing = sa.select(OidcIdentity.id).where(OidcIdentity.issuer == issuer, OidcIdentity.subject == subject)
        if await session.scalar(existing) is not None:  # linked by the concurrent request
            return
        # else: bound here before, but its user was deleted since (the identity went with it): link anew
    session.add(OidcIdentity(account_id=tenant.value, user_id=user.id, issuer=issuer, subject=subject, email=email))
    await session.flush()
    await session.execute(
        sa.delete(UnlinkedIdentity).where(UnlinkedIdentity.issuer == issuer, UnlinkedIdentity.subject == subject)
    )
