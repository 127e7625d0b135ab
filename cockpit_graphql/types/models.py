"""Model: an entry of the platform model catalog, with its inputs, filter and payloads."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import strawberry

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import CatalogModel
from cockpit_graphql.domain.models.catalog import Capability, ModelChanges, Provider
from cockpit_graphql.domain.policies.records import ModelRecord
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.errors import Payload
from cockpit_graphql.types.ids import NO_ACCOUNT, decode_id, encode_id
from cockpit_graphql.types.node import Node

ModelProviderEnum = described_enum(
    Provider,
    name="ModelProvider",
    description="Who serves a catalog model (the provider's API it is called on).",
    values={
        "AZURE_OPENAI": "Azure OpenAI Service (OpenAI models deployed on Microsoft Azure).",
        "ANTHROPIC": "Anthropic's API (Claude models).",
        "XAI": "xAI's API (Grok models).",
        "VERTEX": "Google Cloud Vertex AI (Gemini and other models on Google Cloud).",
        "OPENAI": "OpenAI's own API.",
        "MISTRAL": "Mistral AI's API.",
        "BEDROCK": "Amazon Bedrock (models served on AWS).",
    },
)
ModelCapabilityEnum = described_enum(
    Capability,
    name="ModelCapability",
    description="What a model does: CHAT (text generation), IMAGE (image generation), EMBEDDING (vectors).",
    values={
        "CHAT": "Text generation (chat and completion).",
        "IMAGE": "Image generation; such models drop out of model access wherever IMAGE_GENERATION resolves off.",
        "EMBEDDING": "Embeddings: turns text into vectors.",
    },
)


def plain(value: Decimal) -> Decimal:
    """A price without the column's trailing zeros ("2.5", not "2.5000000000")."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]


@strawberry.federation.type(
    keys=["id"],
    description="A model of the platform catalog (managed by super admins; readable by account admins, and by "
    "any signed-in user through `node(id:)`).",
)
class Model(Node):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    provider: ModelProviderEnum = strawberry.field(description="The provider that serves it.")  # type: ignore[valid-type]
    provider_model_id: str = strawberry.field(
        description="The provider's own id of the model (for example `gpt-4o`); unique per provider."
    )
    display_name: str = strawberry.field(description="The name people see.")
    capabilities: list[ModelCapabilityEnum] = strawberry.field(  # type: ignore[valid-type]
        description="What the model does (at least one)."
    )
    input_usd_per_million_tokens: Decimal = strawberry.field(
        description="Price of a million input tokens, in USD; used to price usage reported in tokens."
    )
    output_usd_per_million_tokens: Decimal = strawberry.field(
        description="Price of a million output tokens, in USD; used to price usage reported in tokens."
    )
    enabled: bool = strawberry.field(description="Disabled models are allowed to nobody (they leave model access).")
    deprecated: bool = strawberry.field(description="Still usable, but on its way out: pick another model.")
    created_at: datetime = strawberry.field(description="When it was added to the catalog.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    row: strawberry.Private[CatalogModel | ModelRecord]

    @classmethod
    def from_row(cls, row: CatalogModel | ModelRecord) -> Model:
        return cls(
            id=strawberry.ID(model_gid(row.id)),
            provider=Provider(row.provider),
            provider_model_id=row.provider_model_id,
            display_name=row.display_name,
            capabilities=[Capability(c) for c in row.capabilities],
            input_usd_per_million_tokens=plain(row.input_usd_per_mtok),
            output_usd_per_million_tokens=plain(row.output_usd_per_mtok),
            enabled=row.enabled,
            deprecated=row.deprecated,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Model | None:
        return await load_model(info, id)


def model_gid(model_id: uuid.UUID) -> str:
    return encode_id("Model", NO_ACCOUNT, model_id)


async def load_model(info: Info, gid: str) -> Model | None:
    """Any signed-in user may read a catalog model by id: members meet model ids in their effective
    access and need the names. Listing the catalog is for admins (`models`)."""
    info.context.require_principal()
    ref = decode_id(gid)
    if ref is None or ref.type_name != "Model":
        return None
    row = await info.context.models.by_id.load(ref.id)
    return Model.from_row(row) if row else None


async def models_in_order(info: Info, ids: Iterable[uuid.UUID]) -> list[Model]:
    """The catalog models among `ids`, in that order, skipping ids no longer in the catalog."""
    rows = await info.context.models.by_id.load_many(list(ids))
    return [Model.from_row(r) for r in rows if r is not None]


async def models_by_name(info: Info, ids: Iterable[uuid.UUID]) -> list[Model]:
    """The catalog models among `ids`, by display name (a stable order for sets of ids)."""
    found = await models_in_order(info, sorted(set(ids)))
    return sorted(found, key=lambda m: (m.display_name, m.id))


async def model_of(info: Info, ident: uuid.UUID | None) -> Model | None:
    """One catalog model by uuid (batched); None for no id or a model no longer in the catalog."""
    if ident is None:
        return None
    row = await info.context.models.by_id.load(ident)
    return Model.from_row(row) if row else None


@strawberry.input(description="Narrow the model catalog.")
class ModelFilter:
    provider: ModelProviderEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only models of this provider."
    )
    capability: ModelCapabilityEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Only models with this capability."
    )
    enabled: bool | None = strawberry.field(default=None, description="Only enabled (true) or disabled (false) models.")
    deprecated: bool | None = strawberry.field(default=None, description="Only deprecated (true) or current models.")

    def conditions(self) -> list:  # type: ignore[type-arg]
        out = []
        if self.provider is not None:
            out.append(CatalogModel.provider == Provider(self.provider).value)
        if self.capability is not None:
            out.append(CatalogModel.capabilities.contains([Capability(self.capability).value]))  # type: ignore[attr-defined]
        if self.enabled is not None:
            out.append(CatalogModel.enabled == self.enabled)
        if self.deprecated is not None:
            out.append(CatalogModel.deprecated == self.deprecated)
        return out


@strawberry.input(description="Add a model to the platform catalog (super admins).")
class CreateModelInput:
    provider: ModelProviderEnum = strawberry.field(description="The provider that serves it.")  # type: ignore[valid-type]
    provider_model_id: str = strawberry.field(
        description="The provider's id of the model: 1 to 200 characters, no whitespace; unique per provider."
    )
    display_name: str | None = strawberry.field(
        default=None, description="The name people see (1 to 200 characters; default: the provider model id)."
    )
    capabilities: list[ModelCapabilityEnum] = strawberry.field(  # type: ignore[valid-type]
        description="What the model does (at least one)."
    )
    input_usd_per_million_tokens: Decimal = strawberry.field(
        default=Decimal(0), description="USD per million input tokens: 0 to 1,000,000, at most 10 decimals."
    )
    output_usd_per_million_tokens: Decimal = strawberry.field(
        default=Decimal(0), description="USD per million output tokens: 0 to 1,000,000, at most 10 decimals."
    )
    enabled: bool = strawberry.field(default=True, description="Whether it may be allowed to anyone (default true).")
    deprecated: bool = strawberry.field(default=False, description="Mark it as on its way out (default false).")

    def changes(self) -> ModelChanges:
        return ModelChanges(
            provider=Provider(self.provider),
            provider_model_id=self.provider_model_id,
            display_name=self.display_name,
            capabilities=[Capability(c) for c in self.capabilities],
            input_usd_per_mtok=self.input_usd_per_million_tokens,
            output_usd_per_mtok=self.output_usd_per_million_tokens,
            enabled=self.enabled,
            deprecated=self.deprecated,
        )


@strawberry.input(description="Change a catalog model (super admins); omitted fields stay as they are.")
class UpdateModelInput:
    id: strawberry.ID = strawberry.field(description="The model.")
    provider: ModelProviderEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="New provider."
    )
    provider_model_id: str | None = strawberry.field(default=None, description="New provider model id.")
    display_name: str | None = strawberry.field(default=None, description="New display name.")
    capabilities: list[ModelCapabilityEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="New capabilities (replace the current ones; at least one)."
    )
    input_usd_per_million_tokens: Decimal | None = strawberry.field(
        default=None, description="New USD price per million input tokens."
    )
    output_usd_per_million_tokens: Decimal | None = strawberry.field(
        default=None, description="New USD price per million output tokens."
    )
    enabled: bool | None = strawberry.field(
        default=None, description="Enable or disable it (disabling is the reversible way to retire a model)."
    )
    deprecated: bool | None = strawberry.field(default=None, description="Mark or unmark it as deprecated.")

    def changes(self) -> ModelChanges:
        return ModelChanges(
            provider=Provider(self.provider) if self.provider is not None else None,
            provider_model_id=self.provider_model_id,
            display_name=self.display_name,
            capabilities=[Capability(c) for c in self.capabilities] if self.capabilities is not None else None,
            input_usd_per_mtok=self.input_usd_per_million_tokens,
            output_usd_per_mtok=self.output_usd_per_million_tokens,
            enabled=self.enabled,
            deprecated=self.deprecated,
        )


@strawberry.input(
    description="Remove a model from the catalog (super admins). Entitlements and policies that name it stop "
    "matching it; prefer `updateModel(enabled: false)`."
)
class DeleteModelInput:
    id: strawberry.ID = strawberry.field(description="The model.")


@strawberry.type(description="Result of createModel and updateModel.")
class ModelPayload(Payload):
    model: Model | None = strawberry.field(default=None, description="The model as saved.")


@strawberry.type(description="Result of deleteModel.")
class DeleteModelPayload(Payload):
    deleted_model_id: strawberry.ID | None = strawberry.field(default=None, description="The id of the removed model.")
