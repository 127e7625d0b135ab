"""Identity reconciliation: link identities that signed in but could not be linked (kept in
unlinked_identities) to users by verified email, without guessing. Every identity ends in exactly
one list: linked, ambiguous (several identities of one issuer claim the same email), conflicting
(a rule forbids the link) or unmatched (no user has the email yet)."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Account, IdentityBinding, OidcIdentity, UnlinkedIdentity, User
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from cockpit_graphql.domain.identity.service import store_link
from cockpit_graphql.domain.validation import email_domain


class Outcome(StrEnum):
    LINKED = "LINKED"
    AMBIGUOUS = "AMBIGUOUS"
    CONFLICTING = "CONFLICTING"
    UNMATCHED = "UNMATCHED"


class Reason(StrEnum):
    MATCHED_VERIFIED_EMAIL = "MATCHED_VERIFIED_EMAIL"
    SEVERAL_IDENTITIES_SAME_EMAIL = "SEVERAL_IDENTITIES_SAME_EMAIL"
    EMAIL_NOT_VERIFIED = "EMAIL_NOT_VERIFIED"
    DOMAIN_NOT_ALLOWED = "DOMAIN_NOT_ALLOWED"
    USER_ALREADY_LINKED = "USER_ALREADY_LINKED"
    BOUND_TO_ANOTHER_ACCOUNT = "BOUND_TO_ANOTHER_ACCOUNT"
    NO_EMAIL = "NO_EMAIL"
    NO_USER = "NO_USER"


@dataclass(frozen=True)
class Case:
    issuer: str
    subject: str
    email: str | None
    outcome: Outcome
    reason: Reason
    user_id: uuid.UUID | None = None


@dataclass
class Report:
    dry_run: bool
    cases: list[Case] = field(default_factory=list)

    def of(self, outcome: Outcome) -> list[Case]:
        return [c for c in self.cases if c.outcome is outcome]


def _decide(
    row: UnlinkedIdentity,
    allowed_domains: list[str],
    claims_per_email: Counter[tuple[str, str]],
    user: User | None,
    user_linked: bool,
    bound_elsewhere: bool,
) -> tuple[Outcome, Reason]:
    """The rules, in order: the same ones sign-in applies when it links by email."""
    if not row.email:
        return Outcome.UNMATCHED, Reason.NO_EMAIL
    if not row.email_verified:
        return Outcome.CONFLICTING, Reason.EMAIL_NOT_VERIFIED
    if email_domain(row.email) not in allowed_domains:
        return Outcome.CONFLICTING, Reason.DOMAIN_NOT_ALLOWED
    if bound_elsewhere:
        return Outcome.CONFLICTING, Reason.BOUND_TO_ANOTHER_ACCOUNT
    if claims_per_email[(row.issuer, row.email)] > 1:
        return Outcome.AMBIGUOUS, Reason.SEVERAL_IDENTITIES_SAME_EMAIL
    if user is None:
        return Outcome.UNMATCHED, Reason.NO_USER
    if user_linked:
        return Outcome.CONFLICTING, Reason.USER_ALREADY_LINKED
    return Outcome.LINKED, Reason.MATCHED_VERIFIED_EMAIL


async def reconcile(session: AsyncSession, tenant: TenantId, op: Operation, dry_run: bool) -> Report:
    """Decide every unlinked identity; unless `dry_run`, link the LINKED ones and write one audit
    event with the outcome, all in the caller's transaction. A dry run writes nothing. An account
    that does not exist (a super admin names any id) is a NOT_FOUND userError on `accountId`."""
    account = await session.get(Account, tenant.value)
    if account is None:
        raise UserInputError.single("accountId", UserErrorCode.NOT_FOUND, "No account with this id.")
    rows = list(
        (
            await session.scalars(
                sa.select(UnlinkedIdentity)
                .order_by(UnlinkedIdentity.email, UnlinkedIdentity.issuer, UnlinkedIdentity.subject)
                .with_for_update()
            )
        ).all()
    )
    emails = {r.email for r in rows if r.email}
    users = (
        {u.email: u for u in (await session.scalars(sa.select(User).where(User.email.in_(emails)))).all()}
        if emails
        else {}
    )
    linked_pairs = (
        set(
            (
                await session.execute(
                    sa.select(OidcIdentity.user_id, OidcIdentity.issuer).where(
                        OidcIdentity.user_id.in_([u.id for u in users.values()])
                    )
                )
            ).all()
        )
        if users
        else set()
    )
    bindings = (
        {
            (i, s): a
            for i, s, a in (
                await session.execute(
                    sa.select(IdentityBinding.issuer, IdentityBinding.subject, IdentityBinding.account_id).where(
                        sa.tuple_(IdentityBinding.issuer, IdentityBinding.subject).in_(
                            [(r.issuer, r.subject) for r in rows]
                        )
                    )
                )
            ).all()
        }
        if rows
        else {}
    )
    claims = Counter((r.issuer, r.email) for r in rows if r.email and r.email_verified)
    report = Report(dry_run)
    for row in rows:
        user = users.get(row.email) if row.email else None
        outcome, reason = _decide(
            row,
            list(account.sso_allowed_email_domains),
            claims,
            user,
            user is not None and (user.id, row.issuer) in linked_pairs,
            bindings.get((row.issuer, row.subject), tenant.value) != tenant.value,
        )
        report.cases.append(Case(row.issuer, row.subject, row.email, outcome, reason, user.id if user else None))
        if outcome is Outcome.LINKED and not dry_run:
            assert user is not None
            await store_link(session, tenant, user, row.issuer, row.subject, row.email)
            linked_pairs.add((user.id, row.issuer))
    if not dry_run:
        await record(
            session,
            tenant,
            op,
            AuditAction.IDENTITY_RECONCILED,
            target_type="Account",
            target_id=tenant.value,
            after={
                "linked": [
                    {"subject": c.subject, "issuer": c.issuer, "userId": str(c.user_id)}
                    for c in report.of(Outcome.LINKED)
                ],
                **{o.value.lower(): len(report.of(o)) for o in Outcome},
            },
        )
    return report
