"""The existence check every scope-setting change shares (budgets, policies, connections, agents)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.directory.repository import scope_exists
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError


async def ensure_scope_exists(session: AsyncSession, tenant: TenantId, scope: Scope, field: str) -> None:
    """NOT_FOUND at `field` unless the scope is the tenant's account or one of its nodes."""
    if not await scope_exists(session, tenant.value, scope.level.value, scope.id):
        raise UserInputError.single(field, UserErrorCode.NOT_FOUND, "No such scope in this account.")
