"""All SQL of policies. Runs inside the caller's tenant transaction (the catalog is a platform
table every role may read)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import CatalogModel, GuardrailDefinition, PolicySetting
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.domain.policies.records import MODEL_ARRAY, GuardrailRecord
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


async def delete_scope_settings(session: AsyncSession, level: str, scope_id: uuid.UUID) -> None:
    """A deleted organization, team or user takes its explicit policy settings with it (flags, model access,
    guardrail states, connection mode): none of them can apply to anybody any more."""
    await session.execute(
        sa.delete(PolicySetting).where(PolicySetting.scope_level == level, PolicySetting.scope_id == scope_id)
    )


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


async def existing_models(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    wanted = list(set(ids))
    if not wanted:
        return set()
    return set((await session.scalars(sa.select(CatalogModel.id).where(CatalogModel.id.in_(wanted)))).all())


# The policy inputs as fragments, so that the runtime's one read (domain/policies/access_read.py) can
# put them in its own statement: INPUTS_COLUMNS select from `accounts a` (the one row of :account_id)
# and need a relation s(level, id) of the scopes whose settings are read. Their aliases (a, ps, m, g)
# stay clear of the snapshot's CTE names (c, p), which share that statement.
INPUTS_COLUMNS = """
           a.status,
           a.entitlements,
           (SELECT coalesce(jsonb_agg(jsonb_build_array(ps.scope_level, ps.scope_id, ps.kind, ps.key, ps.value,
                                                        ps.locked)), '[]'::jsonb)
              FROM policy_settings ps
             WHERE ps.account_id = a.id
               AND (ps.scope_level, ps.scope_id) IN (SELECT level, id FROM s))
             AS settings,
           (SELECT coalesce(jsonb_agg(MODEL_ARRAY), '[]'::jsonb)
              FROM models m WHERE m.enabled) AS catalog,
           (SELECT coalesce(jsonb_agg(to_jsonb(g) ORDER BY g.name, g.id), '[]'::jsonb)
              FROM guardrails g WHERE g.account_id = a.id) AS guardrails""".replace("MODEL_ARRAY", MODEL_ARRAY)
INPUTS_COLUMN_TYPES = (
    sa.column("status", sa.Text),
    sa.column("entitlements", JSONB),
    sa.column("settings", JSONB),
    sa.column("catalog", JSONB),
    sa.column("guardrails", JSONB),
)
INPUTS = sa.text(
    f"""
    WITH s AS (SELECT * FROM unnest(CAST(:levels AS text[]), CAST(:ids AS uuid[])) AS s(level, id))
    SELECT {INPUTS_COLUMNS}
      FROM accounts a
     WHERE a.id = :account_id
    """
).columns(*INPUTS_COLUMN_TYPES)


@dataclass(frozen=True)
class RawInputs:
    account_active: bool
    entitlements: Entitlements
    settings: dict[Scope, ScopePolicies]
    catalog: dict[uuid.UUID, frozenset[str]]
    models: dict[uuid.UUID, list[Any]]  # each enabled model's MODEL_ARRAY, for ModelRecord.from_array on demand
    guardrails: list[GuardrailRecord]


async def policy_inputs(session: AsyncSession, account_id: uuid.UUID, scopes: Iterable[Scope]) -> RawInputs:
    """Everything policy resolution reads, in ONE statement: the account's status and entitlement,
    the explicit settings of `scopes`, the enabled catalog and the guardrail definitions."""
    wanted = list(set(scopes))
    row = (
        await session.execute(
            INPUTS,
            {
                "account_id": account_id,
                "levels": [s.level.value for s in wanted],
                "ids": [s.id for s in wanted],
            },
        )
    ).one()
    return inputs_from_row(row)


def inputs_from_row(row: Any) -> RawInputs:
    """RawInputs from a row with the INPUTS_COLUMNS (of INPUTS or of another statement)."""
    settings: dict[Scope, ScopePolicies] = {}
    for level, scope_id, kind, key, value, locked in row.settings:
        settings.setdefault(Scope(ScopeLevel(level), uuid.UUID(scope_id)), ScopePolicies()).add(
            kind, key, value, locked
        )
    models = {uuid.UUID(values[0]): values for values in row.catalog}
    return RawInputs(
        account_active=row.status == "ACTIVE",
        entitlements=Entitlements.from_document(row.entitlements),
        settings=settings,
        catalog={ident: frozenset(values[4]) for ident, values in models.items()},
        models=models,
        guardrails=[GuardrailRecord.from_document(g) for g in row.guardrails],
    )
