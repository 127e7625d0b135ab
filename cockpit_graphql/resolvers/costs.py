"""Cost attribution query: parse the input -> costs.cost_breakdown in one tenant transaction -> result."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.context import Info
from cockpit_graphql.domain.errors import BadUserInput
from cockpit_graphql.domain.observability import anomalies, costs
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.types.costs import (
    CostAnomalies,
    CostAnomaliesInput,
    CostBreakdown,
    CostBreakdownInput,
    CostFilterInput,
)
from cockpit_graphql.types.ids import decode_id


def now() -> datetime:
    return datetime.now(UTC)


def _ids(
    values: list[strawberry.ID] | None, type_name: str, account_id: uuid.UUID, field: str
) -> list[uuid.UUID] | None:
    if values is None:
        return None
    out = []
    for value in values:
        ref = decode_id(value)
        if ref is None or ref.type_name != type_name or ref.account_id != account_id:
            raise BadUserInput(f"`filter.{field}` must hold ids of this account's {type_name.lower()}s.")
        out.append(ref.id)
    return out


def _filter(f: CostFilterInput | None, account_id: uuid.UUID) -> costs.CostFilter:
    if f is None:
        return costs.CostFilter()
    return costs.CostFilter(
        organization_ids=_ids(f.organization_ids, "Organization", account_id, "organizationIds"),
        team_ids=_ids(f.team_ids, "Team", account_id, "teamIds"),
        user_ids=_ids(f.user_ids, "User", account_id, "userIds"),
        agent_ids=f.agent_ids,
        model_ids=f.model_ids,
        connection_ids=f.connection_ids,
        guardrails=f.guardrails,
    )


def _account(info: Info, account_id: strawberry.ID | None) -> tuple[uuid.UUID | None, TenantId | None]:
    """READ_BUDGETS, then the account asked for (required for super admins; defaults to the caller's)
    and its tenant, None when the caller may not read it."""
    principal = info.context.require(Permission.READ_BUDGETS)
    if account_id is not None:
        ref = decode_id(account_id)
        account = ref.id if ref is not None and ref.type_name == "Account" else None
    elif principal.account_id is not None:
        account = principal.account_id
    else:
        raise BadUserInput("`accountId` is required for super admins.")
    return account, info.context.tenant_for(account) if account is not None else None


@strawberry.type
class CostQueries:
    @strawberry.field(
        description="Credits and USD of a range of UTC days by organization, team, user, agent, model, connection "
        "or guardrail, with top-N rows, the rest as `other`, totals and an optional daily series (account admins; "
        "super admins name the account). Null for an account you may not read."
    )
    async def cost_breakdown(
        self,
        info: Info,
        input: Annotated[CostBreakdownInput, strawberry.argument(description="The range, grouping and filter.")],
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The account (required for super admins; defaults to yours)."),
        ] = None,
    ) -> CostBreakdown | None:
        ctx = info.context
        account, tenant = _account(info, account_id)
        if tenant is None or account is None:  # another account's costs: nothing
            return None
        query = costs.CostQuery(
            from_day=input.from_,
            to_day=input.to,
            group_by=[costs.CostDimension(d.value) for d in input.group_by],
            filter=_filter(input.filter, account),
            top=input.top,
            daily=input.daily,
        )
        async with ctx.db.tenant(tenant) as session:
            found = await costs.cost_breakdown(session, tenant, query, now())
        return CostBreakdown.of(account, found)

    @strawberry.field(
        description="Spend spikes of a UTC day per dimension value (above the trailing 14-day mean by more than "
        "`sigmas` standard deviations and at least `minCredits`; from the daily rollups), and the capped scopes on "
        "pace to pass their cap before the current cycle ends (account admins). Null for an account you may not read."
    )
    async def cost_anomalies(
        self,
        info: Info,
        input: Annotated[
            CostAnomaliesInput | None, strawberry.argument(description="The day, dimensions and thresholds.")
        ] = None,
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The account (required for super admins; defaults to yours)."),
        ] = None,
    ) -> CostAnomalies | None:
        account, tenant = _account(info, account_id)
        if tenant is None or account is None:
            return None
        given = input or CostAnomaliesInput()
        dims = [costs.CostDimension(d.value) for d in given.dimensions] if given.dimensions is not None else None
        async with info.context.db.tenant(tenant) as session:
            found = await anomalies.anomalies(session, tenant, now(), given.day, dims, given.sigmas, given.min_credits)
        return CostAnomalies.of(account, found)
