"""Account: the tenant, with its SSO settings, entitlements and directory lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import Account as AccountRow
from cockpit_graphql.domain.accounts.rate_limits import override_of
from cockpit_graphql.domain.accounts.service import AccountStatus
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel, chain_of
from cockpit_graphql.domain.directory.lists import ACCOUNT_ORGANIZATIONS, ACCOUNT_TEAMS, ACCOUNT_USERS
from cockpit_graphql.domain.errors import Forbidden
from cockpit_graphql.domain.pagination import Ordering, SortDirection
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.domain.roles import Permission, Role
from cockpit_graphql.types.budget_ledger import CycleReconciliation, reconciliation_of
from cockpit_graphql.types.budgets import (
    BillingNotice,
    BudgetCycle,
    BudgetPlan,
    BudgetSettings,
    EffectiveAllocation,
    Settlement,
    allocation_of,
    settings_of,
)
from cockpit_graphql.types.directory import (
    DirectoryOrder,
    GroupFilter,
    Organization,
    RoleEnum,
    Team,
    User,
    UserListFilter,
    children,
    list_page,
    page_request,
)
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import decode_id, encode_id
from cockpit_graphql.types.models import Model, model_gid, models_in_order
from cockpit_graphql.types.node import Node
from cockpit_graphql.types.pagination import After, Before, Connection, First, Last
from cockpit_graphql.types.policies import Guardrail
from cockpit_graphql.types.policy_scope import PolicyScope
from cockpit_graphql.types.rate_limits import AccountRateLimit

if TYPE_CHECKING:
    from cockpit_graphql.types.quality import DirectoryQuality

AccountStatusEnum = described_enum(
    AccountStatus,
    name="AccountStatus",
    description="ACTIVE accounts serve their members; SUSPENDED ones answer ACCOUNT_SUSPENDED to them.",
    values={
        "ACTIVE": "The account serves its members normally.",
        "SUSPENDED": "Suspended by a super admin: every request of its members is refused with ACCOUNT_SUSPENDED; "
        "its data stays intact and super admins can still manage it.",
    },
)


@strawberry.type(description="How the account's identity provider signs its users in.")
class SsoSettings:
    issuer: str = strawberry.field(description="The OIDC issuer whose tokens speak for this account.")
    allowed_email_domains: list[str] = strawberry.field(
        description="Email domains that may be linked to existing users (and provisioned just in time)."
    )
    jit_enabled: bool = strawberry.field(description="Create unknown users on first sign-in.")
    jit_default_role: RoleEnum = strawberry.field(  # type: ignore[valid-type]
        description="The role just-in-time provisioning gives."
    )


@strawberry.type(description="The ceiling a super admin sets: which catalog models and features the account may use.")
class AccountEntitlements:
    allow_all_models: bool = strawberry.field(description="Every enabled catalog model is allowed.")
    allowed_model_ids: list[str] = strawberry.field(
        description="Model ids (global ids) allowed when not all; a deleted model's id stays until the next update."
    )
    disabled_features: list[str] = strawberry.field(description="Features disabled and locked for the account.")
    _model_ids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="The allowed catalog models when not all (deleted models are left out).")
    async def allowed_models(self, info: Info) -> list[Model]:
        return await models_in_order(info, self._model_ids)


@strawberry.federation.type(keys=["id"], description="A tenant: one customer company.")
class Account(Node, PolicyScope):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    name: str = strawberry.field(description="The company's name.")
    status: AccountStatusEnum = strawberry.field(description="ACTIVE or SUSPENDED.")  # type: ignore[valid-type]
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    row: strawberry.Private[AccountRow]

    @classmethod
    def from_row(cls, row: AccountRow) -> Account:
        return cls(
            id=strawberry.ID(encode_id("Account", row.id, row.id)),
            name=row.name,
            status=AccountStatus(row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    async def policy_chain(self, info: Info) -> tuple[uuid.UUID, list[Scope]]:
        return self.row.id, chain_of(self.row.id)

    def _settings_visible(self, info: Info) -> None:
        info.context.require(Permission.READ_ACCOUNT_SETTINGS)

    @strawberry.field(description="The identity provider's organization id that maps to this account (admins).")
    def external_org_id(self, info: Info) -> str:
        self._settings_visible(info)
        return self.row.external_org_id

    @strawberry.field(description="Single sign-on settings (admins).")
    def sso(self, info: Info) -> SsoSettings:
        self._settings_visible(info)
        return SsoSettings(
            issuer=self.row.sso_issuer,
            allowed_email_domains=list(self.row.sso_allowed_email_domains),
            jit_enabled=self.row.jit_enabled,
            jit_default_role=Role(self.row.jit_default_role),
        )

    @strawberry.field(description="Credits per US dollar of model cost; set by super admins (admins).")
    def credits_per_usd(self, info: Info) -> Decimal:
        self._settings_visible(info)
        return self.row.credits_per_usd

    @strawberry.field(description="The ceiling of models and features (admins).")
    def entitlements(self, info: Info) -> AccountEntitlements:
        self._settings_visible(info)
        e = Entitlements.from_document(self.row.entitlements)
        model_ids = sorted(e.allowed_model_ids, key=str)
        return AccountEntitlements(
            allow_all_models=e.allow_all_models,
            allowed_model_ids=[model_gid(i) for i in model_ids],
            disabled_features=sorted(e.disabled_features),
            _model_ids=model_ids,
        )

    @strawberry.field(
        description="The rate limit each principal of the account gets: the override a super admin set, else the "
        "server's default (admins). See docs/operations.md."
    )
    def rate_limit(self, info: Info) -> AccountRateLimit:
        self._settings_visible(info)
        override = override_of(self.row)
        if override is not None:
            return AccountRateLimit(
                capacity=override.capacity, refill_per_second=override.refill_per_second, overridden=True
            )
        settings = info.context.settings
        return AccountRateLimit(
            capacity=settings.rate_limit_capacity,
            refill_per_second=settings.rate_limit_refill_per_second,
            overridden=False,
        )

    @strawberry.field(description="The account's guardrail definitions, by name (admins).")
    async def guardrails(self, info: Info) -> list[Guardrail]:
        info.context.require(Permission.READ_POLICIES)
        return [Guardrail.from_row(g) for g in await info.context.policies.guardrails.load(self.row.id)]

    @strawberry.field(description="Organizations of the account.")
    async def organizations(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[GroupFilter | None, strawberry.argument(description="Narrow the list.")] = None,
        order_by: Annotated[
            DirectoryOrder | None, strawberry.argument(description="Sort order (default: by name, ascending).")
        ] = None,
    ) -> Connection[Organization]:
        info.context.require(ACCOUNT_ORGANIZATIONS.permission)
        return await children(
            info,
            ACCOUNT_ORGANIZATIONS,
            account_id=self.row.id,
            parent_id=self.row.id,
            request=page_request(info, first, after, last, before),
            order=order_by,
            flt=filter.to_domain() if filter else None,
            to_node=lambda r: Organization.from_row(r),
        )

    @strawberry.field(description="Teams of every organization of the account.")
    async def teams(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[GroupFilter | None, strawberry.argument(description="Narrow the list.")] = None,
        order_by: Annotated[
            DirectoryOrder | None, strawberry.argument(description="Sort order (default: by name, ascending).")
        ] = None,
    ) -> Connection[Team]:
        info.context.require(ACCOUNT_TEAMS.permission)
        return await children(
            info,
            ACCOUNT_TEAMS,
            account_id=self.row.id,
            parent_id=self.row.id,
            request=page_request(info, first, after, last, before),
            order=order_by,
            flt=filter.to_domain() if filter else None,
            to_node=lambda r: Team.from_row(r),
        )

    @strawberry.field(description="Users of the account (admins).")
    async def users(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[UserListFilter | None, strawberry.argument(description="Narrow the list.")] = None,
        order_by: Annotated[
            DirectoryOrder | None, strawberry.argument(description="Sort order (default: by name, ascending).")
        ] = None,
    ) -> Connection[User]:
        info.context.require(ACCOUNT_USERS.permission)
        return await children(
            info,
            ACCOUNT_USERS,
            account_id=self.row.id,
            parent_id=self.row.id,
            request=page_request(info, first, after, last, before),
            order=order_by,
            flt=filter.to_domain() if filter else None,
            to_node=lambda r: User.from_row(r),
        )

    @strawberry.field(description="Directory (SCIM) data quality: counts plus up to 10 samples per check (admins).")
    async def directory_quality(
        self, info: Info
    ) -> Annotated[DirectoryQuality, strawberry.lazy("cockpit_graphql.types.quality")]:
        from cockpit_graphql.resolvers.observability import directory_quality_of

        return await directory_quality_of(info, self.row.id)

    @strawberry.field(description="What the whole account may still spend this cycle (admins).")
    async def effective_allocation(self, info: Info) -> EffectiveAllocation | None:
        info.context.require(Permission.READ_BUDGETS)
        return await allocation_of(info, self.row.id, chain_of(self.row.id))

    @strawberry.field(description="The account's default user cap (admins). Its cap is the plan's pool.")
    async def budget_settings(self, info: Info) -> BudgetSettings:
        info.context.require(Permission.READ_BUDGETS)
        return await settings_of(info, self.row.id, Scope(ScopeLevel.ACCOUNT, self.row.id))

    @strawberry.field(description="The latest plan version (it may start with the next cycle); null without a plan.")
    async def budget_plan(self, info: Info) -> BudgetPlan | None:
        info.context.require(Permission.READ_BUDGETS)
        row = await info.context.budgets.plan.load(self.row.id)
        return BudgetPlan.from_row(row) if row else None

    @strawberry.field(description="The cycle containing now, once a write has opened it (admins).")
    async def current_cycle(self, info: Info) -> BudgetCycle | None:
        info.context.require(Permission.READ_BUDGETS)
        row = await info.context.budgets.current_cycle.load(self.row.id)
        return BudgetCycle.from_row(row) if row else None

    async def _budget_list(self, info: Info, table: str, newest_by: str, to_node: Any, *page: int | str | None) -> Any:
        """An admin's newest-first list of one of the account's budget tables."""
        info.context.require(Permission.READ_BUDGETS)
        first, after, last, before = page
        return await list_page(
            info,
            self.row.id,
            table,
            "account_id",
            self.row.id,
            page_request(info, first, after, last, before),  # type: ignore[arg-type]
            Ordering(newest_by, SortDirection.DESC),
            None,
            to_node,
        )

    @strawberry.field(description="Budget cycles, newest first (admins).")
    async def budget_cycles(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[BudgetCycle]:
        return await self._budget_list(
            info, "budget_cycles", "starts_at", BudgetCycle.from_row, first, after, last, before
        )

    @strawberry.field(description="Settlements of overflow, newest first (admins).")
    async def settlements(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[Settlement]:
        return await self._budget_list(
            info, "settlements", "created_at", Settlement.from_row, first, after, last, before
        )

    @strawberry.field(description="Billing notices for the account's admins, newest first.")
    async def billing_notices(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[BillingNotice]:
        return await self._budget_list(
            info, "billing_notices", "created_at", BillingNotice.from_row, first, after, last, before
        )

    @strawberry.field(description="Per cycle: the ledger against the usage events, the pool and the running totals.")
    async def ledger_reconciliation(
        self,
        info: Info,
        cycle_ids: Annotated[
            list[strawberry.ID] | None, strawberry.argument(description="Only these cycles (default: all).")
        ] = None,
    ) -> list[CycleReconciliation]:
        info.context.require(Permission.READ_BUDGETS)
        return await reconciliation_of(info, self.row.id, cycle_ids)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Account | None:
        return await load_account(info, id)


async def load_account(info: Info, gid: str) -> Account | None:
    ref = decode_id(gid)
    if ref is None or ref.type_name != "Account":
        return None
    return await account_by_uuid(info, ref.id)


async def account_by_uuid(info: Info, account_id: object) -> Account | None:
    principal = info.context.require_principal()
    if principal.tenant_for(account_id) is None:  # type: ignore[arg-type]
        return None
    row = await info.context.directory.account.load(account_id)
    return Account.from_row(row) if row else None


def ensure_super_admin(info: Info) -> None:
    if not info.context.require_principal().is_super_admin:
        raise Forbidden("Only super admins may do this.")
