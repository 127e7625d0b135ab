"""SCIM tokens: list (newest first), create (the value shown once) and revoke; account admins, or super
admins naming the account. Mutations run through run_mutation: change and audit event together."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.domain.pagination import Page, page_in_memory
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.domain.scim import tokens
from cockpit_graphql.resolvers.account_argument import requested_account
from cockpit_graphql.resolvers.mutation import Plan, default_account, mutate, parse_optional_ref, parse_ref
from cockpit_graphql.types.directory import page_request
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, build_connection
from cockpit_graphql.types.scim import (
    CreateScimTokenInput,
    CreateScimTokenPayload,
    RevokeScimTokenInput,
    RevokeScimTokenPayload,
    ScimToken,
)


@strawberry.type
class ScimQueries:
    @strawberry.field(
        description="The account's SCIM tokens, newest first, revoked ones included (never their values). "
        "Account admins read their account; super admins name it. Empty for an account you may not read."
    )
    async def scim_tokens(
        self,
        info: Info,
        account_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The account (required for super admins; defaults to yours)."),
        ] = None,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ScimToken]:
        ctx = info.context
        ctx.require(Permission.MANAGE_DIRECTORY)
        account = requested_account(info, account_id)
        request = page_request(info, first, after, last, before)
        tenant = ctx.tenant_for(account)
        rows: list[Any] = []
        if tenant is not None:
            async with ctx.db.tenant(tenant) as session:
                rows = await tokens.list_tokens(session)
        page = page_in_memory(rows, request, tokens.NEWEST_FIRST) if rows else Page([], False, False)

        async def count() -> int:
            return len(rows)

        return build_connection(page, tokens.NEWEST_FIRST, ScimToken.from_row, count)  # type: ignore[no-any-return]


@strawberry.type
class ScimMutations:
    @strawberry.mutation(
        description="Create a SCIM token for the account's identity provider (account admins). The payload's "
        "`secret` is the only time the value is shown. Audited (`identity.scim_token.created`). userErrors: "
        "REQUIRED, TOO_LONG, INVALID (more than 10 live tokens), NOT_FOUND."
    )
    async def create_scim_token(
        self, info: Info, input: Annotated[CreateScimTokenInput, strawberry.argument(description="The token.")]
    ) -> CreateScimTokenPayload:
        def plan() -> Plan:
            target = default_account(info, parse_optional_ref(input.account_id, "Account", "accountId"))
            return Plan(target, "accountId", lambda s, t, op: tokens.create_token(s, t, op, input.name))

        def shape(result: Any) -> CreateScimTokenPayload:
            row, value = result
            return CreateScimTokenPayload(token=ScimToken.from_row(row), secret=value)

        return await mutate(
            info, CreateScimTokenPayload, permission=Permission.MANAGE_DIRECTORY, plan=plan, shape=shape
        )

    @strawberry.mutation(
        description="Revoke a SCIM token (account admins): it stops authenticating at once; its history stays. "
        "Audited (`identity.scim_token.revoked`). userErrors: NOT_FOUND, ILLEGAL_TRANSITION (revoked already)."
    )
    async def revoke_scim_token(
        self, info: Info, input: Annotated[RevokeScimTokenInput, strawberry.argument(description="The token.")]
    ) -> RevokeScimTokenPayload:
        def plan() -> Plan:
            ref = parse_ref(input.id, "ScimToken", "id")
            return Plan(ref.account_id, "id", lambda s, t, op: tokens.revoke_token(s, t, op, ref.id))

        return await mutate(
            info,
            RevokeScimTokenPayload,
            permission=Permission.MANAGE_DIRECTORY,
            plan=plan,
            shape=lambda row: RevokeScimTokenPayload(token=ScimToken.from_row(row)),
        )
