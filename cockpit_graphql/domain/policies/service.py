"""Policy changes by account admins: model access, flags, the connection mode, guardrail
definitions and guardrail states. Each is one transaction with its audit event (before/after)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.tables import GuardrailDefinition, PolicySetting
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.repository import record
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.directory.scopes import ensure_scope_exists
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.policies import repository as repo
from cockpit_graphql.domain.policies.flags import FlagDefinition
from cockpit_graphql.domain.policies.guardrail_types import GuardrailMode, GuardrailType, clean_config
from cockpit_graphql.domain.policies.settings import ConnectionMode, GuardrailState, ModelAccessSetting, SettingKind
from cockpit_graphql.domain.validation import clean_name

MAX_MODEL_LIST = 500
MAX_GUARDRAILS = 100  # every effective answer lists them all (a plain list, docs/rules.md)
NO_KEY = ""


@dataclass(frozen=True)
class SettingChange:
    """The row after a set (None after a clear) and what was there before."""

    scope: Scope
    kind: SettingKind
    key: str
    row: PolicySetting | None
    before: PolicySetting | None


def _snapshot(row: PolicySetting | None) -> dict[str, Any] | None:
    return None if row is None else {"value": row.value, "locked": row.locked}


async def _write(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    scope: Scope,
    kind: SettingKind,
    key: str,
    value: dict[str, Any] | None,
    locked: bool,
    actions: tuple[AuditAction, AuditAction],
) -> SettingChange:
    """Upsert (or delete, when value is None) one setting and audit it. Clearing what is not set is
    a userError: the admin meant something else."""
    await ensure_scope_exists(session, tenant, scope, "scopeId")
    before = await repo.setting(session, scope, kind.value, key, lock=True)
    before_doc = _snapshot(before)
    row: PolicySetting | None = None
    if value is None:
        if before is None:
            raise UserInputError.single("scopeId", UserErrorCode.NOTHING_TO_CHANGE, "This scope has no such setting.")
        await session.execute(
            sa.delete(PolicySetting).where(
                PolicySetting.scope_level == scope.level.value,
                PolicySetting.scope_id == scope.id,
                PolicySetting.kind == kind.value,
                PolicySetting.key == key,
            )
        )
    else:
        stmt = pg_insert(PolicySetting).values(
            account_id=tenant.value,
            scope_level=scope.level.value,
            scope_id=scope.id,
            kind=kind.value,
            key=key,
            value=value,
            locked=locked,
            updated_at=datetime.now(UTC),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["account_id", "scope_level", "scope_id", "kind", "key"],
            set_={"value": stmt.excluded.value, "locked": stmt.excluded.locked, "updated_at": stmt.excluded.updated_at},
        ).returning(PolicySetting)
        row = (await session.scalars(stmt, execution_options={"populate_existing": True})).one()
    set_action, clear_action = actions
    identity = {"scopeLevel": scope.level.value, **({"key": key} if key else {})}
    await record(
        session,
        tenant,
        op,
        set_action if value is not None else clear_action,
        target_type=scope.level.value.title(),
        target_id=scope.id,
        before={**identity, "setting": before_doc},
        after={**identity, "setting": _snapshot(row)},
    )
    return SettingChange(scope, kind, key, row, before)


MODEL_ACTIONS = (AuditAction.MODEL_ACCESS_UPDATED, AuditAction.MODEL_ACCESS_CLEARED)
FLAG_ACTIONS = (AuditAction.FLAG_UPDATED, AuditAction.FLAG_CLEARED)
MODE_ACTIONS = (AuditAction.CONNECTION_MODE_UPDATED, AuditAction.CONNECTION_MODE_CLEARED)
GUARDRAIL_STATE_ACTIONS = (AuditAction.GUARDRAIL_SETTING_UPDATED, AuditAction.GUARDRAIL_SETTING_CLEARED)


# --- model access ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAccessRequest:
    allow: Sequence[uuid.UUID] | None
    deny: Sequence[uuid.UUID]
    default_model: uuid.UUID | None


async def set_model_access(
    session: AsyncSession, tenant: TenantId, op: Operation, scope: Scope, request: ModelAccessRequest
) -> SettingChange:
    """A scope's allow list (None: no list), deny list and default model. Lists can only narrow what
    the scope above allows; naming a model outside it is allowed and simply has no effect."""
    problems: list[UserErrorItem] = []
    for name, ids in (("allowModelIds", request.allow or ()), ("denyModelIds", request.deny)):
        if len(ids) > MAX_MODEL_LIST:
            problems.append(UserErrorItem((name,), UserErrorCode.INVALID, f"At most {MAX_MODEL_LIST} models."))
    named = [*(request.allow or ()), *request.deny, *([request.default_model] if request.default_model else [])]
    known = await repo.existing_models(session, named)
    for name, ids in (("allowModelIds", request.allow or ()), ("denyModelIds", request.deny)):
        problems += [
            UserErrorItem((name, str(i)), UserErrorCode.NOT_FOUND, "No such model in the catalog.")
            for i, model in enumerate(ids)
            if model not in known
        ]
    default = request.default_model
    if default is not None:
        if default not in known:
            problems.append(
                UserErrorItem(("defaultModelId",), UserErrorCode.NOT_FOUND, "No such model in the catalog.")
            )
        elif default in request.deny or (request.allow is not None and default not in request.allow):
            problems.append(
                UserErrorItem(("defaultModelId",), UserErrorCode.INVALID, "The default model is not allowed here.")
            )
    if problems:
        raise UserInputError(*problems)
    setting = ModelAccessSetting(
        frozenset(request.allow) if request.allow is not None else None, frozenset(request.deny), default
    )
    return await _write(
        session, tenant, op, scope, SettingKind.MODEL_ACCESS, NO_KEY, setting.to_document(), False, MODEL_ACTIONS
    )


async def clear_model_access(session: AsyncSession, tenant: TenantId, op: Operation, scope: Scope) -> SettingChange:
    return await _write(session, tenant, op, scope, SettingKind.MODEL_ACCESS, NO_KEY, None, False, MODEL_ACTIONS)


# --- flags and the connection mode -------------------------------------------------------------


def _known_flag(registry: Mapping[str, FlagDefinition], flag: str) -> str:
    key = flag.strip().upper()
    if key not in registry:
        raise UserInputError.single(
            "flag",
            UserErrorCode.NOT_FOUND,
            f"{flag!r} is not a registered feature flag ({', '.join(sorted(registry))}).",
        )
    return key


async def set_flag(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    scope: Scope,
    registry: Mapping[str, FlagDefinition],
    flag: str,
    enabled: bool,
    locked: bool,
) -> SettingChange:
    key = _known_flag(registry, flag)
    return await _write(session, tenant, op, scope, SettingKind.FLAG, key, {"enabled": enabled}, locked, FLAG_ACTIONS)


async def clear_flag(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    scope: Scope,
    registry: Mapping[str, FlagDefinition],
    flag: str,
) -> SettingChange:
    key = _known_flag(registry, flag)
    return await _write(session, tenant, op, scope, SettingKind.FLAG, key, None, False, FLAG_ACTIONS)


async def set_connection_mode(
    session: AsyncSession, tenant: TenantId, op: Operation, scope: Scope, mode: ConnectionMode, locked: bool
) -> SettingChange:
    return await _write(
        session, tenant, op, scope, SettingKind.CONNECTION_MODE, NO_KEY, {"mode": mode.value}, locked, MODE_ACTIONS
    )


async def clear_connection_mode(session: AsyncSession, tenant: TenantId, op: Operation, scope: Scope) -> SettingChange:
    return await _write(session, tenant, op, scope, SettingKind.CONNECTION_MODE, NO_KEY, None, False, MODE_ACTIONS)


# --- guardrails --------------------------------------------------------------------------------


def _guardrail_snapshot(row: GuardrailDefinition) -> dict[str, Any]:
    return {"name": row.name, "type": row.type, "mode": row.mode, "config": row.config}


async def _unique_name(session: AsyncSession, name: str, except_id: uuid.UUID | None = None) -> None:
    stmt = sa.select(GuardrailDefinition.id).where(sa.func.lower(GuardrailDefinition.name) == name.lower())
    found = await session.scalar(stmt)
    if found is not None and found != except_id:
        raise UserInputError.single("name", UserErrorCode.DUPLICATE, "A guardrail of this name exists.")


async def create_guardrail(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    name: str,
    kind: GuardrailType,
    mode: GuardrailMode,
    config: Any,
) -> GuardrailDefinition:
    clean = clean_name(name, "name")
    document = clean_config(kind, mode, config)
    await _unique_name(session, clean)
    existing = await session.scalar(sa.select(sa.func.count()).select_from(GuardrailDefinition))
    if (existing or 0) >= MAX_GUARDRAILS:
        raise UserInputError.single(
            "name", UserErrorCode.INVALID, f"An account has at most {MAX_GUARDRAILS} guardrails; delete one first."
        )
    row = GuardrailDefinition(account_id=tenant.value, name=clean, type=kind.value, mode=mode.value, config=document)
    session.add(row)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.GUARDRAIL_CREATED,
        target_type="Guardrail",
        target_id=row.id,
        after=_guardrail_snapshot(row),
    )
    return row


async def _existing_guardrail(session: AsyncSession, guardrail_id: uuid.UUID, field: str) -> GuardrailDefinition:
    row = await repo.guardrail(session, guardrail_id, lock=True)
    if row is None:
        raise UserInputError.single(field, UserErrorCode.NOT_FOUND, "No such guardrail in this account.")
    return row


async def update_guardrail(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    guardrail_id: uuid.UUID,
    name: str | None,
    mode: GuardrailMode | None,
    config: Any | None,
) -> GuardrailDefinition:
    """Rename it, change its mode or replace its config (validated against its type)."""
    row = await _existing_guardrail(session, guardrail_id, "id")
    before = _guardrail_snapshot(row)
    if name is not None:
        row.name = clean_name(name, "name")
        await _unique_name(session, row.name, row.id)
    new_mode = mode or GuardrailMode(row.mode)
    row.config = clean_config(GuardrailType(row.type), new_mode, row.config if config is None else config)
    row.mode = new_mode.value
    after = _guardrail_snapshot(row)
    if after == before:
        raise UserInputError.single("id", UserErrorCode.NOTHING_TO_CHANGE, "Nothing to change.")
    row.updated_at = datetime.now(UTC)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.GUARDRAIL_UPDATED,
        target_type="Guardrail",
        target_id=row.id,
        before=before,
        after=after,
    )
    return row


async def delete_guardrail(
    session: AsyncSession, tenant: TenantId, op: Operation, guardrail_id: uuid.UUID
) -> uuid.UUID:
    """Delete a guardrail and every scope's setting of it."""
    row = await _existing_guardrail(session, guardrail_id, "id")
    before = _guardrail_snapshot(row)
    removed = await session.execute(
        sa.delete(PolicySetting).where(
            PolicySetting.kind == SettingKind.GUARDRAIL.value, PolicySetting.key == str(row.id)
        )
    )
    await session.delete(row)
    await session.flush()
    await record(
        session,
        tenant,
        op,
        AuditAction.GUARDRAIL_DELETED,
        target_type="Guardrail",
        target_id=guardrail_id,
        before={**before, "scopeSettings": removed.rowcount},
        after=None,  # type: ignore[attr-defined]
    )
    return guardrail_id


async def set_guardrail_state(
    session: AsyncSession,
    tenant: TenantId,
    op: Operation,
    scope: Scope,
    guardrail_id: uuid.UUID,
    state: GuardrailState,
    enforced: bool,
) -> SettingChange:
    """ENABLED or DISABLED at a scope; only an ENABLED setting may be enforced."""
    if enforced and state is not GuardrailState.ENABLED:
        raise UserInputError.single("enforced", UserErrorCode.INVALID, "Only an ENABLED guardrail can be enforced.")
    await _existing_guardrail(session, guardrail_id, "guardrailId")
    return await _write(
        session,
        tenant,
        op,
        scope,
        SettingKind.GUARDRAIL,
        str(guardrail_id),
        {"state": state.value},
        enforced,
        GUARDRAIL_STATE_ACTIONS,
    )


async def clear_guardrail_state(
    session: AsyncSession, tenant: TenantId, op: Operation, scope: Scope, guardrail_id: uuid.UUID
) -> SettingChange:
    await _existing_guardrail(session, guardrail_id, "guardrailId")
    return await _write(
        session, tenant, op, scope, SettingKind.GUARDRAIL, str(guardrail_id), None, False, GUARDRAIL_STATE_ACTIONS
    )
