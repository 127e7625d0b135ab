"""Audit trail queries: an account's trail (account admins; super admins name the account) and the
platform trail (super admins). Parse -> permission -> one tenant (or platform) transaction per page."""

from __future__ import annotations

from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.audit import query
from cockpit_graphql.domain.pagination import Page
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.account_argument import requested_account
from cockpit_graphql.types.audit import AuditEvent, AuditEventFilter
from cockpit_graphql.types.directory import page_request
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, build_connection

FilterArg = Annotated[AuditEventFilter | None, strawberry.argument(description="Narrow the trail.")]


async def _no_count() -> int:
    return 0


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="An account's audit trail, newest first: every audited change with its actor, target, diff "
        "and request id. Account admins read their account; super admins name the account."
    )
    async def audit_events(
        self,
        info: Info,
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The account (default: yours; super admins: required)."),
        ] = None,
        filter: FilterArg = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AuditEvent]:
        ctx = info.context
        ctx.require(Permission.READ_AUDIT)
        request = page_request(info, first, after, last, before)
        account = requested_account(info, account_id)
        flt = filter.to_domain(account) if filter is not None else None
        tenant = ctx.tenant_for(account)
        if tenant is None:  # another account's trail answers as if it did not exist: empty
            return build_connection(Page([], False, False), query.NEWEST_FIRST, AuditEvent.from_row, _no_count)  # type: ignore[no-any-return]
        async with ctx.db.tenant(tenant) as session:
            page = await query.account_events_page(session, tenant, request, flt)

        async def count() -> int:
            async with ctx.db.tenant(tenant) as session:
                return await query.account_events_count(session, tenant, flt)

        return build_connection(page, query.NEWEST_FIRST, AuditEvent.from_row, count)  # type: ignore[no-any-return]

    @strawberry.field(
        description="The platform audit trail (changes that belong to no account, such as the model catalog), "
        "newest first. Super admins only."
    )
    async def platform_audit_events(
        self,
        info: Info,
        filter: FilterArg = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[AuditEvent]:
        ctx = info.context
        ctx.require(Permission.LIST_ACCOUNTS)  # a platform-wide read: super admins only
        request = page_request(info, first, after, last, before)
        flt = filter.to_domain(None) if filter is not None else None
        async with ctx.db.platform() as session:
            page = await query.platform_events_page(session, request, flt)

        async def count() -> int:
            async with ctx.db.platform() as session:
                return await query.platform_events_count(session, flt)

        return build_connection(page, query.NEWEST_FIRST, AuditEvent.from_row, count)  # type: ignore[no-any-return]
