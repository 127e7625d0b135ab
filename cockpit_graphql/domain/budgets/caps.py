"""Caps (organization, team, user) and default user caps (account, organization, team)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import BudgetCap
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.budgets.validation import clean_amount
from cockpit_graphql.domain.directory.scopes import ensure_scope_exists
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError

CAP_LEVELS = frozenset({ScopeLevel.ORGANIZATION, ScopeLevel.TEAM, ScopeLevel.USER})
DEFAULT_LEVELS = frozenset({ScopeLevel.ACCOUNT, ScopeLevel.ORGANIZATION, ScopeLevel.TEAM})


async def _current(session: AsyncSession, scope: Scope) -> BudgetCap | None:
    stmt = (
        sa.select(BudgetCap)
        .where(BudgetCap.scope_level == scope.level.value, BudgetCap.scope_id == scope.id)
        .with_for_update()
    )
    return (await session.scalars(stmt)).first()


async def _write(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    scope: Scope,
    column: str,
    amount: Decimal | None,
    set_action: AuditAction,
    clear_action: AuditAction,
) -> BudgetCap:
    current = await _current(session, scope)
    before = getattr(current, column) if current else None
    stmt = pg_insert(BudgetCap).values(
        account_id=tenant.value,
        scope_level=scope.level.value,
        scope_id=scope.id,
        **{column: amount},
        updated_at=datetime.now(UTC),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id", "scope_level", "scope_id"],
        set_={column: getattr(stmt.excluded, column), "updated_at": stmt.excluded.updated_at},
    ).returning(BudgetCap)
    row = (await session.scalars(stmt, execution_options={"populate_existing": True})).one()
    await record(
        session,
        tenant,
        op,
        set_action if amount is not None else clear_action,
        target_type=scope.level.value.title(),
        target_id=scope.id,
        before={column: before, "scopeLevel": scope.level},
        after={column: amount, "scopeLevel": scope.level},
    )
    return row


async def set_cap(
    session: AsyncSession, tenant: TenantId, op: Operation, scope: Scope, amount: Decimal | None
) -> BudgetCap:
    """Set (or clear, with None) the explicit cap of an organization, team or user."""
    if scope.level not in CAP_LEVELS:
        raise UserInputError.single(
            "scopeId",
            UserErrorCode.INVALID,
            "Caps apply to organizations, teams and users (the plan caps the account).",
        )
    if amount is not None:
        clean_amount(amount, "credits")
    await ensure_scope_exists(session, tenant, scope, "scopeId")
    return await _write(session, tenant, op, scope, "cap", amount, AuditAction.CAP_UPDATED, AuditAction.CAP_CLEARED)


async def set_default_user_cap(
    session: AsyncSession, tenant: TenantId, op: Operation, scope: Scope, amount: Decimal | None
) -> BudgetCap:
    """Set (or clear) the cap every user below an account, organization or team gets by default."""
    if scope.level not in DEFAULT_LEVELS:
        raise UserInputError.single(
            "scopeId", UserErrorCode.INVALID, "Default user caps apply to accounts, organizations and teams."
        )
    if amount is not None:
        clean_amount(amount, "credits")
    await ensure_scope_exists(session, tenant, scope, "scopeId")
    return await _write(
        session,
        tenant,
        op,
        scope,
        "default_user_cap",
        amount,
        AuditAction.DEFAULT_CAP_UPDATED,
        AuditAction.DEFAULT_CAP_CLEARED,
    )
