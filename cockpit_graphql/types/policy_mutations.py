"""Inputs and payloads of the policy mutations."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.errors import Payload
from cockpit_graphql.types.policies import (
    ConnectionModeEnum,
    Guardrail,
    GuardrailModeEnum,
    GuardrailStateEnum,
    GuardrailTypeEnum,
    PolicySettings,
)

SCOPE = "An account, organization, team or user."


@strawberry.input(description="Set a scope's model access: it can only narrow what the scope above allows.")
class SetModelAccessInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)
    allow_model_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Only these catalog models (at most 500); null for no allow list."
    )
    deny_model_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Catalog models removed at this scope (at most 500)."
    )
    default_model_id: strawberry.ID | None = strawberry.field(
        default=None, description="The default model proposed here; must not be denied or outside the allow list."
    )


@strawberry.input(description="Remove a scope's model access setting.")
class ClearModelAccessInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)


@strawberry.input(description="Set a feature flag at a scope.")
class SetFeatureFlagInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)
    flag: str = strawberry.field(description="A registered flag's key (see `featureFlags`).")
    enabled: bool = strawberry.field(description="The value.")
    locked: bool = strawberry.field(default=False, description="Nothing below may change it.")


@strawberry.input(description="Remove a scope's setting of a feature flag.")
class ClearFeatureFlagInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)
    flag: str = strawberry.field(description="The flag's key.")


@strawberry.input(description="Set the connection permission mode at a scope.")
class SetConnectionModeInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)
    mode: ConnectionModeEnum = strawberry.field(description="The mode.")  # type: ignore[valid-type]
    locked: bool = strawberry.field(default=False, description="Nothing below may change it.")


@strawberry.input(description="Remove a scope's connection mode setting.")
class ClearConnectionModeInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)


@strawberry.input(description="Define a guardrail in an account (it is off until a scope enables it).")
class CreateGuardrailInput:
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="The account (super admins must say which; others act in their own)."
    )
    name: str = strawberry.field(description="Unique within the account (case-insensitive), 1 to 200 characters.")
    type: GuardrailTypeEnum = strawberry.field(description="What it checks.")  # type: ignore[valid-type]
    mode: GuardrailModeEnum = strawberry.field(description="What it does on a hit.")  # type: ignore[valid-type]
    config: JSON | None = strawberry.field(
        default=None, description="Its configuration; keys and values depend on the type (docs/policies.md)."
    )


@strawberry.input(description="Change a guardrail; omitted fields stay as they are.")
class UpdateGuardrailInput:
    id: strawberry.ID = strawberry.field(description="The guardrail.")
    name: str | None = strawberry.field(default=None, description="New name.")
    mode: GuardrailModeEnum | None = strawberry.field(default=None, description="New mode.")  # type: ignore[valid-type]
    config: JSON | None = strawberry.field(default=None, description="New configuration (replaces the old one).")


@strawberry.input(description="Delete a guardrail and every scope's setting of it.")
class DeleteGuardrailInput:
    id: strawberry.ID = strawberry.field(description="The guardrail.")


@strawberry.input(description="Enable or disable a guardrail at a scope.")
class SetGuardrailStateInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)
    guardrail_id: strawberry.ID = strawberry.field(description="The guardrail.")
    state: GuardrailStateEnum = strawberry.field(description="ENABLED or DISABLED.")  # type: ignore[valid-type]
    enforced: bool = strawberry.field(
        default=False, description="Only with ENABLED: nothing below, agents included, may disable it."
    )


@strawberry.input(description="Remove a scope's setting of a guardrail.")
class ClearGuardrailStateInput:
    scope_id: strawberry.ID = strawberry.field(description=SCOPE)
    guardrail_id: strawberry.ID = strawberry.field(description="The guardrail.")


@strawberry.type(description="The scope's explicit policy settings after the change.")
class PolicySettingsPayload(Payload):
    scope: BudgetScope | None = strawberry.field(default=None, description="The scope changed.")
    settings: PolicySettings | None = strawberry.field(default=None, description="Its settings now.")


@strawberry.type(description="The guardrail after the change.")
class GuardrailPayload(Payload):
    guardrail: Guardrail | None = strawberry.field(default=None, description="The guardrail.")


@strawberry.type(description="The id of the deleted guardrail.")
class DeleteGuardrailPayload(Payload):
    deleted_guardrail_id: strawberry.ID | None = strawberry.field(default=None, description="The deleted guardrail.")
