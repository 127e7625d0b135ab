"""The model catalog: create, update and delete platform models (super admins), each change audited
in `platform_audit_events` inside the same platform transaction.

Deleting a model is allowed. Entitlements and policies that name it keep the (now unknown) id and
simply stop matching it: it leaves every effective model list, and a default model that pointed at
it falls back to the next allowed default. Usage already recorded keeps its cost. Prefer disabling
(`enabled: false`) — reversible, and the id keeps resolving — and use `deprecated` to warn first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import CatalogModel
from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.audit.platform import record_platform
from cockpit_graphql.domain.audit.taxonomy import AuditAction
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError


class Provider(StrEnum):
    AZURE_OPENAI = "AZURE_OPENAI"
    ANTHROPIC = "ANTHROPIC"
    XAI = "XAI"
    VERTEX = "VERTEX"
    OPENAI = "OPENAI"
    MISTRAL = "MISTRAL"
    BEDROCK = "BEDROCK"


class Capability(StrEnum):
    CHAT = "CHAT"
    IMAGE = "IMAGE"
    EMBEDDING = "EMBEDDING"


MAX_PROVIDER_MODEL_ID = 200
MAX_DISPLAY_NAME = 200
MAX_USD_PER_MTOK = Decimal(1_000_000)
PRICE_QUANTUM = Decimal("1E-10")  # at most 10 decimals: the column is NUMERIC(20, 10)
TARGET = "Model"


@dataclass(frozen=True)
class ModelChanges:
    """Fields a super admin may set; None means unchanged (or the default on create)."""

    provider: Provider | None = None
    provider_model_id: str | None = None
    display_name: str | None = None
    capabilities: Sequence[Capability] | None = None
    input_usd_per_mtok: Decimal | None = None
    output_usd_per_mtok: Decimal | None = None
    enabled: bool | None = None
    deprecated: bool | None = None


def model_snapshot(model: CatalogModel) -> dict[str, Any]:
    return {
        "provider": model.provider,
        "providerModelId": model.provider_model_id,
        "displayName": model.display_name,
        "capabilities": list(model.capabilities),
        "inputUsdPerMillionTokens": model.input_usd_per_mtok,
        "outputUsdPerMillionTokens": model.output_usd_per_mtok,
        "enabled": model.enabled,
        "deprecated": model.deprecated,
    }


# --- validation (pure) --------------------------------------------------------------------------


def clean_provider_model_id(value: str, field: str = "providerModelId") -> str:
    ident = value.strip()
    if not ident:
        raise UserInputError.single(field, UserErrorCode.REQUIRED, f"`{field}` must not be blank.")
    if len(ident) > MAX_PROVIDER_MODEL_ID:
        raise UserInputError.single(
            field, UserErrorCode.TOO_LONG, f"`{field}` is longer than {MAX_PROVIDER_MODEL_ID} characters."
        )
    if any(ch.isspace() for ch in ident):
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` must not contain whitespace.")
    return ident


def clean_display_name(value: str, field: str = "displayName") -> str:
    name = " ".join(value.split())
    if not name:
        raise UserInputError.single(field, UserErrorCode.REQUIRED, f"`{field}` must not be blank.")
    if len(name) > MAX_DISPLAY_NAME:
        raise UserInputError.single(
            field, UserErrorCode.TOO_LONG, f"`{field}` is longer than {MAX_DISPLAY_NAME} characters."
        )
    return name


def clean_capabilities(values: Iterable[Capability | str], field: str = "capabilities") -> list[str]:
    out: list[str] = []
    for index, raw in enumerate(values):
        try:
            capability = Capability(raw)
        except ValueError:
            raise UserInputError.single(
                (field, str(index)), UserErrorCode.INVALID, f"{raw!r} is not a capability."
            ) from None
        if capability.value not in out:
            out.append(capability.value)
    if not out:
        raise UserInputError.single(field, UserErrorCode.REQUIRED, "A model needs at least one capability.")
    return sorted(out)


def clean_price(value: Decimal, field: str) -> Decimal:
    """0 to 1,000,000 USD per million tokens, at most 10 decimals (trailing zeros do not count)."""
    message = f"`{field}` must be 0 to {MAX_USD_PER_MTOK} USD per million tokens with at most 10 decimals."
    try:
        ok = value.is_finite() and Decimal(0) <= value <= MAX_USD_PER_MTOK and value == value.quantize(PRICE_QUANTUM)
    except (InvalidOperation, AttributeError):
        ok = False
    if not ok:
        raise UserInputError.single(field, UserErrorCode.INVALID, message)
    return value.quantize(PRICE_QUANTUM)


def _collect(checks: Iterable[tuple[Any, Any]]) -> list[UserErrorItem]:
    """Run each (validator, argument) pair and collect every failure instead of stopping at the first."""
    problems: list[UserErrorItem] = []
    for check, arg in checks:
        try:
            check(arg)
        except UserInputError as exc:
            problems.extend(exc.errors)
    return problems


def validate_changes(changes: ModelChanges) -> None:
    """Every problem of `changes` at once, as userErrors."""
    checks: list[tuple[Any, Any]] = []
    if changes.provider_model_id is not None:
        checks.append((clean_provider_model_id, changes.provider_model_id))
    if changes.display_name is not None:
        checks.append((clean_display_name, changes.display_name))
    if changes.capabilities is not None:
        checks.append((clean_capabilities, changes.capabilities))
    if changes.input_usd_per_mtok is not None:
        checks.append((lambda v: clean_price(v, "inputUsdPerMillionTokens"), changes.input_usd_per_mtok))
    if changes.output_usd_per_mtok is not None:
        checks.append((lambda v: clean_price(v, "outputUsdPerMillionTokens"), changes.output_usd_per_mtok))
    problems = _collect(checks)
    if problems:
        raise UserInputError(*problems)


# --- reads --------------------------------------------------------------------------------------


async def models_by_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CatalogModel]:
    """The catalog models among `ids`, in one statement (the models table is readable from any session)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = (await session.scalars(sa.select(CatalogModel).where(CatalogModel.id.in_(wanted)))).all()
    return {row.id: row for row in rows}


async def all_models(session: AsyncSession) -> list[CatalogModel]:
    stmt = sa.select(CatalogModel).order_by(CatalogModel.provider, CatalogModel.provider_model_id)
    return list((await session.scalars(stmt)).all())


async def _taken(session: AsyncSession, provider: str, provider_model_id: str, exclude: uuid.UUID | None) -> bool:
    stmt = sa.select(CatalogModel.id).where(
        CatalogModel.provider == provider, CatalogModel.provider_model_id == provider_model_id
    )
    if exclude is not None:
        stmt = stmt.where(CatalogModel.id != exclude)
    return (await session.scalar(stmt)) is not None


def _duplicate(provider: str, provider_model_id: str) -> UserInputError:
    return UserInputError.single(
        "providerModelId", UserErrorCode.DUPLICATE, f"{provider} model {provider_model_id!r} is already in the catalog."
    )


async def _load(session: AsyncSession, model_id: uuid.UUID) -> CatalogModel:
    stmt = sa.select(CatalogModel).where(CatalogModel.id == model_id).with_for_update()
    model = await session.scalar(stmt)
    if model is None:
        raise UserInputError.single("id", UserErrorCode.NOT_FOUND, "No such model in the catalog.")
    return model


# --- writes -------------------------------------------------------------------------------------


async def create_model(session: AsyncSession, op: Operation, changes: ModelChanges) -> CatalogModel:
    """Add a model. Provider, provider model id and capabilities are required; the display name
    defaults to the provider model id, prices to 0; a new model is enabled and not deprecated."""
    missing = [
        UserErrorItem((name,), UserErrorCode.REQUIRED, f"`{name}` is required.")
        for name, value in (
            ("provider", changes.provider),
            ("providerModelId", changes.provider_model_id),
            ("capabilities", changes.capabilities),
        )
        if value is None
    ]
    try:
        validate_changes(changes)
    except UserInputError as exc:
        missing.extend(exc.errors)
    if missing:
        raise UserInputError(*missing)
    assert changes.provider is not None and changes.provider_model_id is not None
    assert changes.capabilities is not None
    ident = clean_provider_model_id(changes.provider_model_id)
    model = CatalogModel(
        provider=Provider(changes.provider).value,
        provider_model_id=ident,
        display_name=clean_display_name(changes.display_name if changes.display_name is not None else ident),
        capabilities=clean_capabilities(changes.capabilities),
        input_usd_per_mtok=clean_price(changes.input_usd_per_mtok or Decimal(0), "inputUsdPerMillionTokens"),
        output_usd_per_mtok=clean_price(changes.output_usd_per_mtok or Decimal(0), "outputUsdPerMillionTokens"),
        enabled=True if changes.enabled is None else changes.enabled,
        deprecated=bool(changes.deprecated),
    )
    if await _taken(session, model.provider, model.provider_model_id, None):
        raise _duplicate(model.provider, model.provider_model_id)
    session.add(model)
    await session.flush()
    await session.refresh(model)
    await record_platform(
        session, op, AuditAction.MODEL_CREATED, target_type=TARGET, target_id=model.id, after=model_snapshot(model)
    )
    return model


async def update_model(
    session: AsyncSession, op: Operation, model_id: uuid.UUID, changes: ModelChanges
) -> CatalogModel:
    """Change any field; omitted ones stay. Provider and provider model id stay unique together."""
    validate_changes(changes)
    model = await _load(session, model_id)
    before = model_snapshot(model)
    if changes.provider is not None:
        model.provider = Provider(changes.provider).value
    if changes.provider_model_id is not None:
        model.provider_model_id = clean_provider_model_id(changes.provider_model_id)
    if changes.display_name is not None:
        model.display_name = clean_display_name(changes.display_name)
    if changes.capabilities is not None:
        model.capabilities = clean_capabilities(changes.capabilities)
    if changes.input_usd_per_mtok is not None:
        model.input_usd_per_mtok = clean_price(changes.input_usd_per_mtok, "inputUsdPerMillionTokens")
    if changes.output_usd_per_mtok is not None:
        model.output_usd_per_mtok = clean_price(changes.output_usd_per_mtok, "outputUsdPerMillionTokens")
    if changes.enabled is not None:
        model.enabled = changes.enabled
    if changes.deprecated is not None:
        model.deprecated = changes.deprecated
    if await _taken(session, model.provider, model.provider_model_id, model.id):
        raise _duplicate(model.provider, model.provider_model_id)
    model.updated_at = sa.func.now()  # type: ignore[assignment]
    await session.flush()
    await session.refresh(model)
    await record_platform(
        session,
        op,
        AuditAction.MODEL_UPDATED,
        target_type=TARGET,
        target_id=model.id,
        before=before,
        after=model_snapshot(model),
    )
    return model


async def delete_model(session: AsyncSession, op: Operation, model_id: uuid.UUID) -> uuid.UUID:
    """Remove a model from the catalog (see the module docstring for what happens to references)."""
    model = await _load(session, model_id)
    before = model_snapshot(model)
    await session.delete(model)
    await session.flush()
    await record_platform(
        session, op, AuditAction.MODEL_DELETED, target_type=TARGET, target_id=model_id, before=before, after=None
    )
    return model_id
