"""All SQL of policies. Runs inside the caller's tenant transaction (the catalog is a platform
table every role may read)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import Account, CatalogModel, GuardrailDefinition, PolicySetting
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.domain.policies.settings import ScopePolicies


async def scope_policies(session: AsyncSession, scopes: Iterable[Scope]) -> dict[Scope, ScopePolicies]:
    """The explicit settings of many scopes in one statement; scopes without any are absent."""
    wanted = list(set(scopes))
    if not wanted:
        return {}
    stmt = sa.select(
        PolicySetting.scope_level,
        PolicySetting.scope_id,
        PolicySetting.kind,
        PolicySetting.key,
        PolicySetting.value,
        PolicySetting.locked,
    ).where(sa.tuple_(PolicySetting.scope_level, PolicySetting.scope_id).in_([(s.level.value, s.id) for s in wanted]))
    out: dict[Scope, ScopePolicies] = {}
    for level, scope_id, kind, key, value, locked in (await session.execute(stmt)).all():
        out.setdefault(Scope(ScopeLevel(level), scope_id), ScopePolicies()).add(kind, key, value, locked)
    return out


async def setting(session: AsyncSession, scope: Scope, kind: str, key: str, *, lock: bool) -> PolicySetting | None:
    stmt = sa.select(PolicySetting).where(
        PolicySetting.scope_level == scope.level.value,
        PolicySetting.scope_id == scope.id,
        PolicySetting.kind == kind,
        PolicySetting.key == key,
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def guardrails(session: AsyncSession) -> list[GuardrailDefinition]:
    stmt = sa.select(GuardrailDefinition).order_by(GuardrailDefinition.name, GuardrailDefinition.id)
    return list((await session.scalars(stmt)).all())


async def guardrail(
    session: AsyncSession, guardrail_id: uuid.UUID, *, lock: bool = False
) -> GuardrailDefinition | None:
    stmt = sa.select(GuardrailDefinition).where(GuardrailDefinition.id == guardrail_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


async def enabled_catalog(session: AsyncSession) -> dict[uuid.UUID, frozenset[str]]:
    """Every enabled catalog model and its capabilities."""
    rows = await session.execute(sa.select(CatalogModel.id, CatalogModel.capabilities).where(CatalogModel.enabled))
    return {ident: frozenset(caps) for ident, caps in rows.all()}


async def existing_models(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    return set((await session.scalars(sa.select(CatalogModel.id).where(CatalogModel.id.in_(wanted)))).all())


async def entitlements(session: AsyncSession, account_id: uuid.UUID) -> Entitlements:
    doc: dict[str, Any] | None = await session.scalar(sa.select(Account.entitlements).where(Account.id == account_id))
    return Entitlements.from_document(doc or {})
