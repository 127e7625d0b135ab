"""Identity mutations: reconciliation of identities that could not be linked at sign-in."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.identity.reconcile import Report, reconcile
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.mutation import Plan, default_account, mutate, parse_optional_ref
from cockpit_graphql.types.reconcile import ReconcileIdentitiesInput, ReconcileIdentitiesPayload


@strawberry.type
class IdentityMutations:
    @strawberry.mutation(
        description="Link identities that signed in but found no user to the users with their verified email, "
        "without guessing: reports linked, ambiguous, conflicting and unmatched identities. Audited (one event "
        "with the outcome); a dry run writes nothing."
    )
    async def reconcile_identities(
        self, info: Info, input: Annotated[ReconcileIdentitiesInput, strawberry.argument(description="What to do.")]
    ) -> ReconcileIdentitiesPayload:
        account: list[uuid.UUID] = []

        def plan() -> Plan:
            target = default_account(info, parse_optional_ref(input.account_id, "Account", "accountId"))
            if target is not None:
                account.append(target)
            return Plan(target, "accountId", lambda s, t, op: reconcile(s, t, op, input.dry_run))

        def shape(report: Report) -> ReconcileIdentitiesPayload:
            return ReconcileIdentitiesPayload.of(account[0], report)

        return await mutate(
            info, ReconcileIdentitiesPayload, permission=Permission.MANAGE_DIRECTORY, plan=plan, shape=shape
        )
