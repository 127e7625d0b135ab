"""Inputs and payloads of account mutations (super admins)."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from cockpit_graphql.domain.accounts.service import AccountChanges
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.types.account import Account
from cockpit_graphql.types.directory import RoleEnum
from cockpit_graphql.types.directory_mutations import Payload


@strawberry.input(description="Single sign-on settings; omitted fields stay as they are.")
class SsoSettingsInput:
    issuer: str | None = strawberry.field(default=None, description="The OIDC issuer URL.")
    allowed_email_domains: list[str] | None = strawberry.field(
        default=None, description="Email domains that may be linked or provisioned."
    )
    jit_enabled: bool | None = strawberry.field(default=None, description="Create unknown users on first sign-in.")
    jit_default_role: RoleEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Role given by just-in-time provisioning (MEMBER or ACCOUNT_ADMIN)."
    )


@strawberry.input(description="Create an account with its Global defaults (super admins).")
class CreateAccountInput:
    name: str = strawberry.field(description="The company's name.")
    external_org_id: str = strawberry.field(description="The identity provider's organization id.")
    sso: SsoSettingsInput = strawberry.field(description="Single sign-on settings; `issuer` is required.")
    credits_per_usd: Decimal | None = strawberry.field(default=None, description="Credits per USD (default 1000).")
    initial_admin_email: str | None = strawberry.field(
        default=None, description="Create this user as the first ACCOUNT_ADMIN in the Global team."
    )

    def changes(self) -> AccountChanges:
        return _changes(self.name, self.external_org_id, self.sso, self.credits_per_usd)


@strawberry.input(description="Change an account (super admins); omitted fields stay as they are.")
class UpdateAccountInput:
    id: strawberry.ID = strawberry.field(description="The account.")
    name: str | None = strawberry.field(default=None, description="New name.")
    external_org_id: str | None = strawberry.field(default=None, description="New identity provider organization id.")
    sso: SsoSettingsInput | None = strawberry.field(default=None, description="Single sign-on changes.")
    credits_per_usd: Decimal | None = strawberry.field(default=None, description="New credits per USD factor.")

    def changes(self) -> AccountChanges:
        return _changes(self.name, self.external_org_id, self.sso, self.credits_per_usd)


def _changes(name: str | None, org: str | None, sso: SsoSettingsInput | None, factor: Decimal | None) -> AccountChanges:
    return AccountChanges(
        name=name,
        external_org_id=org,
        sso_issuer=sso.issuer if sso else None,
        allowed_email_domains=sso.allowed_email_domains if sso else None,
        jit_enabled=sso.jit_enabled if sso else None,
        jit_default_role=Role(sso.jit_default_role) if sso and sso.jit_default_role else None,
        credits_per_usd=factor,
    )


@strawberry.input(description="Suspend or reactivate an account.")
class AccountStatusInput:
    id: strawberry.ID = strawberry.field(description="The account.")


@strawberry.input(description="Set an account's entitlements: the ceiling of catalog models and features.")
class UpdateAccountEntitlementsInput:
    id: strawberry.ID = strawberry.field(description="The account.")
    allow_all_models: bool = strawberry.field(description="Every enabled catalog model is allowed.")
    allowed_model_ids: list[str] = strawberry.field(
        default_factory=list, description="Allowed catalog models when not all: Model ids of the catalog."
    )
    disabled_features: list[str] = strawberry.field(
        default_factory=list,
        description="Registered feature flags disabled and locked for the whole account (e.g. CREATE_AGENTS).",
    )


@strawberry.type(description="Result of an account mutation.")
class AccountPayload(Payload):
    account: Account | None = strawberry.field(default=None, description="The account as saved.")
