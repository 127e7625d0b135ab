"""Plain, read-only records of what the policy statement reads as JSON: a guardrail definition and
a catalog model. They carry the same attributes as the table models (GuardrailDefinition,
CatalogModel), so the GraphQL types shape either, but cost a dataclass to build instead of an
instrumented ORM instance (~70 µs each, for every guardrail of the account on every
effectiveAccess call)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class GuardrailRecord:
    account_id: uuid.UUID
    id: uuid.UUID
    name: str
    type: str
    mode: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> GuardrailRecord:
        """From `to_jsonb(guardrails row)`."""
        return cls(
            account_id=uuid.UUID(doc["account_id"]),
            id=uuid.UUID(doc["id"]),
            name=doc["name"],
            type=doc["type"],
            mode=doc["mode"],
            config=doc["config"],
            created_at=_instant(doc["created_at"]),
            updated_at=_instant(doc["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class ModelRecord:
    id: uuid.UUID
    provider: str
    provider_model_id: str
    display_name: str
    capabilities: list[str]
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    enabled: bool
    deprecated: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_array(cls, values: list[Any]) -> ModelRecord:
        """From the array MODEL_ARRAY builds (prices as text: JSON numbers would lose digits)."""
        ident, provider, model_id, name, caps, price_in, price_out, enabled, deprecated, created, updated = values
        return cls(
            id=uuid.UUID(ident),
            provider=provider,
            provider_model_id=model_id,
            display_name=name,
            capabilities=list(caps),
            input_usd_per_mtok=Decimal(price_in),
            output_usd_per_mtok=Decimal(price_out),
            enabled=enabled,
            deprecated=deprecated,
            created_at=_instant(created),
            updated_at=_instant(updated),
        )


def _instant(text: str) -> datetime:
    """A timestamptz as JSON renders it (in the session's TimeZone), in UTC as asyncpg returns one."""
    return datetime.fromisoformat(text).astimezone(UTC)


# The columns of ModelRecord.from_array, in its order, for a jsonb_build_array over `models m`.
MODEL_ARRAY = (
    "jsonb_build_array(m.id, m.provider, m.provider_model_id, m.display_name, m.capabilities, "
    "m.input_usd_per_mtok::text, m.output_usd_per_mtok::text, m.enabled, m.deprecated, m.created_at, m.updated_at)"
)
