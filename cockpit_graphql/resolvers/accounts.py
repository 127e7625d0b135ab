"""Account queries and super-admin mutations."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import Account as AccountRow
from cockpit_graphql.domain.accounts import service
from cockpit_graphql.domain.accounts.service import AccountStatus
from cockpit_graphql.domain.directory.filters import _escape_like
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.pagination import ROOT, Ordering, SortDirection, count_children, page_children
from cockpit_graphql.domain.policies.entitlements import EntitlementsRequest
from cockpit_graphql.domain.policies.flags import flag_registry
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.resolvers.mutation import Plan, Work, mutate, parse_ref
from cockpit_graphql.types.account import Account, AccountStatusEnum, account_by_uuid, load_account
from cockpit_graphql.types.account_mutations import (
    AccountPayload,
    AccountStatusInput,
    CreateAccountInput,
    UpdateAccountEntitlementsInput,
    UpdateAccountInput,
)
from cockpit_graphql.types.directory import page_request
from cockpit_graphql.types.ids import decode_id
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last, build_connection

MANAGE = Permission.MANAGE_ACCOUNTS


@strawberry.input(description="Filter of the platform's account list.")
class AccountFilter:
    status: AccountStatusEnum | None = strawberry.field(default=None, description="Only this status.")  # type: ignore[valid-type]
    name_contains: str | None = strawberry.field(default=None, description="Case-insensitive substring of the name.")

    def conditions(self) -> list:
        out = []
        if self.status is not None:
            out.append(AccountRow.status == AccountStatus(self.status).value)
        if self.name_contains:
            out.append(AccountRow.name.ilike(f"%{_escape_like(self.name_contains)}%", escape="\\"))
        return out


def _account(row: object) -> AccountPayload:
    return AccountPayload(account=Account.from_row(row))  # type: ignore[arg-type]


@strawberry.type
class AccountQueries:
    @strawberry.field(description="An account: your own when `id` is omitted; any account for super admins.")
    async def account(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID | None, strawberry.argument(description="An account id; omit for your own.")
        ] = None,
    ) -> Account | None:
        principal = info.context.require(Permission.READ_ACCOUNT)
        if id is None:
            return await account_by_uuid(info, principal.account_id) if principal.account_id else None
        return await load_account(info, id)

    @strawberry.field(description="Every account of the platform (super admins).")
    async def accounts(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[AccountFilter | None, strawberry.argument(description="Narrow the list.")] = None,
    ) -> Connection[Account]:
        info.context.require(Permission.LIST_ACCOUNTS)
        request = page_request(info, first, after, last, before)
        ordering = Ordering("name", SortDirection.ASC)
        where = filter.conditions() if filter else []
        async with info.context.db.platform() as session:
            page = (await page_children(session, AccountRow, None, [], request, ordering, where))[ROOT]

        async def count() -> int:
            async with info.context.db.platform() as session:
                return (await count_children(session, AccountRow, None, [], where))[ROOT]

        return build_connection(page, ordering, lambda r: Account.from_row(r), count)


@strawberry.type
class AccountMutations:
    @strawberry.mutation(description="Create an account with its Global organization and team (super admins).")
    async def create_account(
        self, info: Info, input: Annotated[CreateAccountInput, strawberry.argument(description="What to change.")]
    ) -> AccountPayload:
        def plan() -> Plan:
            return Plan(
                uuid.uuid4(),
                "id",
                lambda s, t, op: service.create_account(s, t, op, input.changes(), input.initial_admin_email),
            )

        return await mutate(info, AccountPayload, permission=MANAGE, plan=plan, shape=_account)

    @strawberry.mutation(description="Change an account's name, SSO settings or credits factor (super admins).")
    async def update_account(
        self, info: Info, input: Annotated[UpdateAccountInput, strawberry.argument(description="What to change.")]
    ) -> AccountPayload:
        return await _account_mutation(
            info, input.id, lambda s, t, op: service.update_account(s, t, op, input.changes())
        )

    @strawberry.mutation(description="Suspend an account: its members are refused; its data stays (super admins).")
    async def suspend_account(
        self, info: Info, input: Annotated[AccountStatusInput, strawberry.argument(description="What to change.")]
    ) -> AccountPayload:
        return await _account_mutation(
            info, input.id, lambda s, t, op: service.set_status(s, t, op, AccountStatus.SUSPENDED)
        )

    @strawberry.mutation(description="Reactivate a suspended account (super admins).")
    async def reactivate_account(
        self, info: Info, input: Annotated[AccountStatusInput, strawberry.argument(description="What to change.")]
    ) -> AccountPayload:
        return await _account_mutation(
            info, input.id, lambda s, t, op: service.set_status(s, t, op, AccountStatus.ACTIVE)
        )

    @strawberry.mutation(description="Set an account's entitlements ceiling (super admins).")
    async def update_account_entitlements(
        self,
        info: Info,
        input: Annotated[UpdateAccountEntitlementsInput, strawberry.argument(description="What to change.")],
    ) -> AccountPayload:
        def plan() -> Plan:
            account = parse_ref(input.id, "Account", "id").id
            request = EntitlementsRequest(
                input.allow_all_models, _model_ids(input.allowed_model_ids), tuple(input.disabled_features)
            )
            known = flag_registry(info.context.settings.extra_feature_flags)
            return Plan(account, "id", lambda s, t, op: service.set_entitlements(s, t, op, request, known))

        return await mutate(info, AccountPayload, permission=MANAGE, plan=plan, shape=_account)


def _model_ids(values: list[str]) -> tuple[uuid.UUID, ...]:
    """Model global ids, in input order; every malformed one is a NOT_FOUND userError at its index."""
    ids: list[uuid.UUID] = []
    problems: list[UserErrorItem] = []
    for index, value in enumerate(values):
        ref = decode_id(value)
        if ref is None or ref.type_name != "Model":
            problems.append(
                UserErrorItem(
                    ("allowedModelIds", str(index)), UserErrorCode.NOT_FOUND, "`allowedModelIds` takes Model ids."
                )
            )
        else:
            ids.append(ref.id)
    if problems:
        raise UserInputError(*problems)
    return tuple(ids)


async def _account_mutation(info: Info, gid: str, work: Work[AccountRow]) -> AccountPayload:
    def plan() -> Plan:
        return Plan(parse_ref(gid, "Account", "id").id, "id", work)

    return await mutate(info, AccountPayload, permission=MANAGE, plan=plan, shape=_account)
