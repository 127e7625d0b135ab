"""Super admins set an account's rate limit override (audited in the account)."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import Account as AccountRow
from cockpit_graphql.domain.accounts import rate_limits
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.mutation import Plan, mutate, parse_ref
from cockpit_graphql.types.account import Account
from cockpit_graphql.types.account_mutations import AccountPayload
from cockpit_graphql.types.rate_limits import SetAccountRateLimitInput


@strawberry.type
class RateLimitMutations:
    @strawberry.mutation(
        description="Set or clear an account's rate limit: the token bucket of query cost each of its principals "
        "gets (super admins; audited in the account). userErrors: NOT_FOUND, REQUIRED (only one of the two "
        "fields), INVALID (out of range), NOTHING_TO_CHANGE."
    )
    async def set_account_rate_limit(
        self, info: Info, input: Annotated[SetAccountRateLimitInput, strawberry.argument(description="What to set.")]
    ) -> AccountPayload:
        def plan() -> Plan:
            account = parse_ref(input.account_id, "Account", "accountId").id

            async def work(session: AsyncSession, tenant: TenantId, op: Operation) -> AccountRow:
                setting = rate_limits.validate(input.capacity, input.refill_per_second)
                return await rate_limits.set_rate_limit(session, tenant, op, setting)

            return Plan(account, "accountId", work)

        return await mutate(
            info,
            AccountPayload,
            permission=Permission.MANAGE_ACCOUNTS,
            plan=plan,
            shape=lambda row: AccountPayload(account=Account.from_row(row)),
        )
