"""Accounts: created and run by super admins. Each change is audited inside the account it touches."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import Account
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets import factors
from cockpit_graphql.domain.directory import repository as directory_repo
from cockpit_graphql.domain.directory.service import create_user, ensure_defaults
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from cockpit_graphql.domain.policies.entitlements import (  # Entitlements stays importable from here
    Entitlements,
    EntitlementsRequest,
    validate_entitlements,
)
from cockpit_graphql.domain.roles import ACCOUNT_ROLES, Role
from cockpit_graphql.domain.validation import clean_domains, clean_name

MAX_CREDITS_PER_USD = Decimal("1000000")  # with costUsd ≤ 1e5 per event, credits stay far inside NUMERIC(20, 6)


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


@dataclass
class AccountChanges:
    """Fields a super admin may set; None means unchanged (or the default on create)."""

    name: str | None = None
    external_org_id: str | None = None
    sso_issuer: str | None = None
    allowed_email_domains: list[str] | None = None
    jit_enabled: bool | None = None
    jit_default_role: Role | None = None
    credits_per_usd: Decimal | None = None


def account_snapshot(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "status": account.status,
        "externalOrgId": account.external_org_id,
        "ssoIssuer": account.sso_issuer,
        "allowedEmailDomains": list(account.sso_allowed_email_domains),
        "jitEnabled": account.jit_enabled,
        "jitDefaultRole": account.jit_default_role,
        "creditsPerUsd": account.credits_per_usd,
    }


def _clean_issuer(value: str) -> str:
    issuer = value.strip()
    if not (issuer.startswith("https://") or issuer.startswith("http://")) or len(issuer) > 500 or " " in issuer:
        raise UserInputError.single("ssoIssuer", UserErrorCode.INVALID, "`ssoIssuer` must be an http(s) URL.")
    return issuer


def _clean_external_org_id(value: str) -> str:
    ext = value.strip()
    if not ext or len(ext) > 256:
        raise UserInputError.single(
            "externalOrgId", UserErrorCode.INVALID, "`externalOrgId` must be 1 to 256 characters."
        )
    return ext


def _clean_factor(value: Decimal) -> Decimal:
    try:
        ok = value.is_finite() and Decimal(0) < value <= MAX_CREDITS_PER_USD
    except InvalidOperation:
        ok = False
    if not ok:
        raise UserInputError.single(
            "creditsPerUsd",
            UserErrorCode.INVALID,
            f"`creditsPerUsd` must be greater than 0 and at most {MAX_CREDITS_PER_USD}.",
        )
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        raise UserInputError.single("creditsPerUsd", UserErrorCode.INVALID, "`creditsPerUsd` has at most 6 decimals.")
    return value


def _clean_jit_role(role: Role) -> Role:
    if role not in ACCOUNT_ROLES:
        raise UserInputError.single("jitDefaultRole", UserErrorCode.INVALID, f"{role.value} is not an account role.")
    return role


async def _issuer_org_taken(session: AsyncSession, issuer: str, org: str, exclude: uuid.UUID | None) -> bool:
    stmt = sa.select(Account.id).where(Account.sso_issuer == issuer, Account.external_org_id == org)
    if exclude:
        stmt = stmt.where(Account.id != exclude)
    return (await session.scalar(stmt)) is not None


async def create_account(
    session: AsyncSession, tenant: TenantId, op: Operation, changes: AccountChanges, initial_admin_email: str | None
) -> Account:
    """Create the account whose id is `tenant` (minted by the caller), its Global defaults, and an admin."""
    if changes.name is None or changes.external_org_id is None or changes.sso_issuer is None:
        raise UserInputError.single("input", UserErrorCode.REQUIRED, "name, externalOrgId and ssoIssuer are required.")
    account = Account(
        id=tenant.value,
        name=clean_name(changes.name),
        external_org_id=_clean_external_org_id(changes.external_org_id),
        sso_issuer=_clean_issuer(changes.sso_issuer),
        sso_allowed_email_domains=clean_domains(changes.allowed_email_domains or []),
        jit_enabled=bool(changes.jit_enabled),
        jit_default_role=_clean_jit_role(changes.jit_default_role or Role.MEMBER).value,
        credits_per_usd=_clean_factor(changes.credits_per_usd)
        if changes.credits_per_usd is not None
        else Decimal("1000"),
        entitlements=Entitlements().to_document(),
    )
    if await _issuer_org_taken(session, account.sso_issuer, account.external_org_id, None):
        raise UserInputError.single(
            "externalOrgId", UserErrorCode.DUPLICATE, "Another account already maps this issuer and organization."
        )
    session.add(account)
    await session.flush()
    await ensure_defaults(session, tenant)
    await record(
        session,
        tenant,
        op,
        AuditAction.ACCOUNT_CREATED,
        target_type="Account",
        target_id=account.id,
        after=account_snapshot(account),
    )
    if initial_admin_email:
        await create_user(session, tenant, op, email=initial_admin_email, role=Role.ACCOUNT_ADMIN)
    return account


async def _load(session: AsyncSession, tenant: TenantId) -> Account:
    account = await directory_repo.get_account(session, tenant.value, lock=True)
    if account is None:
        raise UserInputError.single("id", UserErrorCode.NOT_FOUND, "No account with this id.")
    return account


async def update_account(
    session: AsyncSession, tenant: TenantId, op: Operation, changes: AccountChanges, now: datetime | None = None
) -> Account:
    """Apply `changes`; a new `creditsPerUsd` applies to usage that happens from `now` on (its change is
    kept: `budgets.factors`), usage that happened before keeps the factor then in force."""
    account = await _load(session, tenant)
    before = account_snapshot(account)
    factor_before = account.credits_per_usd
    if changes.name is not None:
        account.name = clean_name(changes.name)
    if changes.external_org_id is not None:
        account.external_org_id = _clean_external_org_id(changes.external_org_id)
    if changes.sso_issuer is not None:
        account.sso_issuer = _clean_issuer(changes.sso_issuer)
    if changes.allowed_email_domains is not None:
        account.sso_allowed_email_domains = clean_domains(changes.allowed_email_domains)
    if changes.jit_enabled is not None:
        account.jit_enabled = changes.jit_enabled
    if changes.jit_default_role is not None:
        account.jit_default_role = _clean_jit_role(changes.jit_default_role).value
    if changes.credits_per_usd is not None:
        account.credits_per_usd = _clean_factor(changes.credits_per_usd)
    if await _issuer_org_taken(session, account.sso_issuer, account.external_org_id, account.id):
        raise UserInputError.single(
            "externalOrgId", UserErrorCode.DUPLICATE, "Another account already maps this issuer and organization."
        )
    account.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(account)
    if account.credits_per_usd != factor_before:
        at = now if now is not None else datetime.now(UTC)
        await factors.record_change(session, account.id, factor_before, account.credits_per_usd, at)
    await record(
        session,
        tenant,
        op,
        AuditAction.ACCOUNT_UPDATED,
        target_type="Account",
        target_id=account.id,
        before=before,
        after=account_snapshot(account),
    )
    return account


async def set_status(session: AsyncSession, tenant: TenantId, op: Operation, status: AccountStatus) -> Account:
    account = await _load(session, tenant)
    if account.status == status.value:
        raise UserInputError.single("id", UserErrorCode.ILLEGAL_TRANSITION, f"The account is already {status.value}.")
    before = account_snapshot(account)
    account.status = status.value
    account.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(account)
    action = AuditAction.ACCOUNT_SUSPENDED if status is AccountStatus.SUSPENDED else AuditAction.ACCOUNT_REACTIVATED
    await record(
        session,
        tenant,
        op,
        action,
        target_type="Account",
        target_id=account.id,
        before=before,
        after=account_snapshot(account),
    )
    return account


async def set_entitlements(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    request: EntitlementsRequest,
    known_features: Collection[str],
) -> Account:
    """Replace the ceiling. Every model must be in the catalog and every feature a registered flag."""
    account = await _load(session, tenant)
    before = {"entitlements": dict(account.entitlements)}
    account.entitlements = (await validate_entitlements(session, request, known_features)).to_document()
    account.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(account)
    await record(
        session,
        tenant,
        op,
        AuditAction.ENTITLEMENTS_UPDATED,
        target_type="Account",
        target_id=account.id,
        before=before,
        after={"entitlements": account.entitlements},
    )
    return account
