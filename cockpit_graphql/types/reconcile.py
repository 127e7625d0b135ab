"""reconcileIdentities: its input, the typed report and the payload."""

from __future__ import annotations

import uuid

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.identity.reconcile import Case, Outcome, Reason, Report
from cockpit_graphql.types.directory import User
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.errors import Payload

ReconciliationReasonEnum = described_enum(
    Reason,
    name="ReconciliationReason",
    description="Why an identity landed where it did: MATCHED_VERIFIED_EMAIL (linked); "
    "SEVERAL_IDENTITIES_SAME_EMAIL (ambiguous: nobody is guessed); EMAIL_NOT_VERIFIED, DOMAIN_NOT_ALLOWED, "
    "USER_ALREADY_LINKED (the user has another subject of this issuer), BOUND_TO_ANOTHER_ACCOUNT (conflicting); "
    "NO_EMAIL, NO_USER (unmatched: create the user, then reconcile again).",
    values={
        "MATCHED_VERIFIED_EMAIL": "Linked (in a dry run: would be): the verified email is a user's of the account, "
        "who gets this identity as at sign-in.",
        "SEVERAL_IDENTITIES_SAME_EMAIL": "Ambiguous: several verified identities of one issuer claim the email; "
        "none is linked.",
        "EMAIL_NOT_VERIFIED": "Conflicting: the identity provider did not mark the email as verified.",
        "DOMAIN_NOT_ALLOWED": "Conflicting: the email's domain is not one of the account's allowed email domains.",
        "USER_ALREADY_LINKED": "Conflicting: the user with this email is already linked to another subject of this "
        "issuer.",
        "BOUND_TO_ANOTHER_ACCOUNT": "Conflicting: this subject of the issuer is already linked in another account.",
        "NO_EMAIL": "Unmatched: the token carried no email to match on.",
        "NO_USER": "Unmatched: no user of the account has this email yet (create the user, then reconcile again).",
    },
)


@strawberry.input(description="Reconcile the identities that signed in but could not be linked.")
class ReconcileIdentitiesInput:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The account (super admins must say which; others act in their own)."
    )
    dry_run: bool = strawberry.field(
        default=False, description="Report what would happen and write nothing (no link, no audit event)."
    )


@strawberry.type(description="One identity and what reconciliation decided for it.")
class IdentityReconciliation:
    issuer: str = strawberry.field(description="The identity provider.")
    subject: str = strawberry.field(description="The subject at that provider.")
    email: str | None = strawberry.field(description="The email the identity presented (lower case).")
    reason: ReconciliationReasonEnum = strawberry.field(description="Why.")  # type: ignore[valid-type]
    case: strawberry.Private[Case]
    account_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The user it was (or would be) linked to, or who holds its email.")
    async def user(self, info: Info) -> User | None:
        if self.case.user_id is None:
            return None
        row = await info.context.directory.user.load((self.account_id, self.case.user_id))
        return User.from_row(row) if row else None


def _items(account_id: uuid.UUID, report: Report, outcome: Outcome) -> list[IdentityReconciliation]:
    return [
        IdentityReconciliation(
            issuer=c.issuer, subject=c.subject, email=c.email, reason=c.reason, case=c, account_id=account_id
        )
        for c in report.of(outcome)
    ]


@strawberry.type(description="What reconciliation did (or, in a dry run, would do).")
class ReconcileIdentitiesPayload(Payload):
    dry_run: bool = strawberry.field(default=False, description="True when nothing was written.")
    linked: list[IdentityReconciliation] = strawberry.field(
        default_factory=list, description="Linked to the user with their verified email."
    )
    ambiguous: list[IdentityReconciliation] = strawberry.field(
        default_factory=list, description="Several identities of one issuer claim the email: none was linked."
    )
    conflicting: list[IdentityReconciliation] = strawberry.field(
        default_factory=list, description="A rule forbids the link (see reason)."
    )
    unmatched: list[IdentityReconciliation] = strawberry.field(
        default_factory=list, description="No user has the email (yet)."
    )

    @classmethod
    def of(cls, account_id: uuid.UUID, report: Report) -> ReconcileIdentitiesPayload:
        return cls(
            dry_run=report.dry_run,
            linked=_items(account_id, report, Outcome.LINKED),
            ambiguous=_items(account_id, report, Outcome.AMBIGUOUS),
            conflicting=_items(account_id, report, Outcome.CONFLICTING),
            unmatched=_items(account_id, report, Outcome.UNMATCHED),
        )
