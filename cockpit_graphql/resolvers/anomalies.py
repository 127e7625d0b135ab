"""Recorded cost anomalies: the listing (READ_BUDGETS) and the acknowledgement (MANAGE_BUDGETS)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.observability import anomaly_records as records
from cockpit_graphql.domain.pagination import Page
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.costs import _account
from cockpit_graphql.resolvers.mutation import Plan, mutate, parse_ref
from cockpit_graphql.types.anomalies import (
    AcknowledgeAnomalyInput,
    AcknowledgeAnomalyPayload,
    CostAnomaly,
    CostAnomalyFilter,
)
from cockpit_graphql.types.directory import page_request
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, build_connection


async def _no_count() -> int:
    return 0


@strawberry.type
class AnomalyQueries:
    @strawberry.field(
        description="The cost anomalies recorded by the daily job, newest first (detected time, then id); account "
        "admins read their account, super admins name it. Empty for an account you may not read."
    )
    async def recorded_anomalies(
        self,
        info: Info,
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The account (required for super admins; defaults to yours)."),
        ] = None,
        filter: Annotated[CostAnomalyFilter | None, strawberry.argument(description="Narrow the anomalies.")] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[CostAnomaly]:
        ctx = info.context
        account, tenant = _account(info, account_id)
        request = page_request(info, first, after, last, before)
        flt = filter.to_domain() if filter is not None else None
        if tenant is None or account is None:
            return build_connection(Page([], False, False), records.NEWEST_FIRST, CostAnomaly.from_row, _no_count)  # type: ignore[no-any-return]
        async with ctx.db.tenant(tenant) as session:
            page = await records.anomalies_page(session, tenant, request, flt)

        async def count() -> int:
            async with ctx.db.tenant(tenant) as session:
                return await records.anomalies_count(session, tenant, flt)

        return build_connection(page, records.NEWEST_FIRST, CostAnomaly.from_row, count)  # type: ignore[no-any-return]


@strawberry.type
class AnomalyMutations:
    @strawberry.mutation(
        description="Acknowledge a recorded cost anomaly, with an optional note (account admins). Audited. "
        "userErrors: NOT_FOUND, NOTHING_TO_CHANGE (acknowledged already), TOO_LONG."
    )
    async def acknowledge_anomaly(
        self,
        info: Info,
        input: Annotated[AcknowledgeAnomalyInput, strawberry.argument(description="The anomaly and the note.")],
    ) -> AcknowledgeAnomalyPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "CostAnomaly", "id")
            return Plan(ref.account_id, "id", lambda s, t, op: records.acknowledge(s, t, op, ref.id, input.note))

        return await mutate(
            info,
            AcknowledgeAnomalyPayload,
            permission=Permission.MANAGE_BUDGETS,
            plan=plan,
            shape=lambda row: AcknowledgeAnomalyPayload(anomaly=CostAnomaly.from_row(row)),
        )
