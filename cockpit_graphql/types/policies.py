"""Policy types: guardrail definitions, explicit settings of a scope, effective values with traces."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from cockpit_graphql.context import Info
from cockpit_graphql.db.tables import GuardrailDefinition
from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.policies.effective import PolicyView
from cockpit_graphql.domain.policies.flags import FlagDefinition
from cockpit_graphql.domain.policies.guardrail_types import GuardrailMode, GuardrailType
from cockpit_graphql.domain.policies.records import GuardrailRecord
from cockpit_graphql.domain.policies.resolve import ModelStep, Outcome, Resolved, ResolvedGuardrail, Source
from cockpit_graphql.domain.policies.settings import ConnectionMode, GuardrailState, ScopePolicies
from cockpit_graphql.domain.roles import Permission
from cockpit_graphql.types.budgets import BudgetScope
from cockpit_graphql.types.enums import described_enum
from cockpit_graphql.types.ids import decode_id, encode_id
from cockpit_graphql.types.models import Model, model_of, models_by_name
from cockpit_graphql.types.node import Node

GuardrailRow = GuardrailDefinition | GuardrailRecord  # a table row, or the policy statement's record

PolicyOutcomeEnum = described_enum(
    Outcome,
    name="PolicyOutcome",
    description="What became of a setting: APPLIED (it decides), OVERRIDDEN (a nearer setting won), "
    "BLOCKED_BY_LOCK (a locked or enforced setting above ended the walk), BLOCKED_BY_ENTITLEMENT (the "
    "account's entitlement decides), NOT_ALLOWED (a default model that is no longer allowed, or a personal "
    "agent trying to disable a guardrail).",
    values={
        "APPLIED": "This setting decides the effective value.",
        "OVERRIDDEN": "A nearer setting of the chain won over this one.",
        "BLOCKED_BY_LOCK": "A locked flag or connection mode, or an enforced guardrail, nearer the account ended "
        "the walk: this setting (or agent override) has no effect.",
        "BLOCKED_BY_ENTITLEMENT": "The account's entitlement (the super admin's ceiling) decides: this setting has "
        "no effect.",
        "NOT_ALLOWED": "Refused by a rule: a default model that is no longer allowed, or a personal agent trying to "
        "disable a guardrail.",
    },
)
PolicySourceEnum = described_enum(
    Source,
    name="PolicySource",
    description="Where a step of a trace comes from: DEFAULT (the registered default), ENTITLEMENT (the "
    "super admin's ceiling), SCOPE (a setting of a scope of the chain), RULE (IMAGE_GENERATION off removes "
    "image models), AGENT (the agent's guardrail override).",
    values={
        "DEFAULT": "The registered default (of a flag, the connection mode, or a guardrail no scope sets: off).",
        "ENTITLEMENT": "The account's entitlement, set by a super admin: the ceiling nothing below can widen.",
        "SCOPE": "An explicit setting of one scope of the chain (the step's scope says which).",
        "RULE": "A built-in rule: IMAGE_GENERATION resolved off removes the IMAGE models.",
        "AGENT": "The agent's own guardrail override, applied after the scopes.",
    },
)
ConnectionModeEnum = described_enum(
    ConnectionMode,
    name="ConnectionMode",
    description="ADMIN_MANAGED: members use only connections admins assigned. SELF_MANAGED_ALLOWED: members "
    "may also create personal connections when CREATE_CONNECTIONS is on for them.",
    values={
        "ADMIN_MANAGED": "The default: members use only the connections admins assigned to them, and never see "
        "their secrets or edit them.",
        "SELF_MANAGED_ALLOWED": "Members may also create personal connections, when CREATE_CONNECTIONS is on for them.",
    },
)
GuardrailStateEnum = described_enum(
    GuardrailState,
    name="GuardrailState",
    description="A scope's setting of a guardrail.",
    values={
        "ENABLED": "The guardrail applies at this scope and below, unless a nearer scope disables it; may be "
        "enforced so that nothing below (agents included) can disable it.",
        "DISABLED": "The guardrail is off at this scope and below, unless enforced above or enabled nearer.",
    },
)
GuardrailTypeEnum = described_enum(
    GuardrailType,
    name="GuardrailType",
    description="What a guardrail checks.",
    values={
        "PII_REDACTION": "Detects personal data (config `entities`: EMAIL, PHONE, CREDIT_CARD, IBAN, SSN, "
        "PERSON_NAME, ADDRESS, IP_ADDRESS); modes BLOCK, REDACT or MONITOR.",
        "PROMPT_INJECTION": "Detects prompt-injection attempts above a score `threshold` (0–1, default 0.8); modes "
        "BLOCK or MONITOR.",
        "CONTENT_SAFETY": "Detects unsafe content (`categories`: HATE, VIOLENCE, SEXUAL, SELF_HARM) above a "
        "`threshold` (default 0.5); modes BLOCK or MONITOR.",
        "TOPIC_BLOCK": "Detects the listed `topics` (1–100); modes BLOCK or MONITOR.",
        "WEBHOOK": "Asks an external https `url` (within `timeoutMs`) to judge the call; modes BLOCK, REDACT or "
        "MONITOR.",
    },
)
GuardrailModeEnum = described_enum(
    GuardrailMode,
    name="GuardrailMode",
    description="What a guardrail does on a hit: BLOCK the call, REDACT the match, or MONITOR (record only).",
    values={
        "BLOCK": "A hit blocks the call.",
        "REDACT": "A hit redacts the matched content and lets the call go on (PII_REDACTION and WEBHOOK only).",
        "MONITOR": "A hit is only recorded; the call goes on unchanged.",
    },
)


def _scope(account_id: uuid.UUID, scope: Scope | None) -> BudgetScope | None:
    return BudgetScope.of(account_id, scope) if scope is not None else None


@strawberry.federation.type(keys=["id"], description="A guardrail of an account; off until a scope enables it.")
class Guardrail(Node):
    id: strawberry.ID = strawberry.field(description="The opaque global id.")
    name: str = strawberry.field(description="Unique within the account.")
    type: GuardrailTypeEnum = strawberry.field(description="What it checks.")  # type: ignore[valid-type]
    mode: GuardrailModeEnum = strawberry.field(description="What it does on a hit.")  # type: ignore[valid-type]
    config: JSON = strawberry.field(description="Its validated, normalised configuration (see docs/policies.md).")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_row(cls, row: GuardrailRow) -> Guardrail:
        return cls(
            id=strawberry.ID(encode_id("Guardrail", row.account_id, row.id)),
            name=row.name,
            type=GuardrailType(row.type),
            mode=GuardrailMode(row.mode),
            config=row.config,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Guardrail | None:
        return await load_guardrail(info, id)


async def load_guardrail(info: Info, gid: str) -> Guardrail | None:
    """A guardrail by global id (admins of its account; members see guardrails in their effective values)."""
    info.context.require(Permission.READ_POLICIES)
    ref = decode_id(gid)
    if ref is None or ref.type_name != "Guardrail":
        return None
    row = await info.context.policies.guardrail.load((ref.account_id, ref.id))
    return Guardrail.from_row(row) if row else None


@strawberry.type(description="A registered feature flag.")
class FeatureFlagDefinition:
    key: str = strawberry.field(description="Its name, as used in settings and entitlements.")
    default: bool = strawberry.field(description="Its value where no scope sets it.")
    description: str = strawberry.field(description="What it governs.")
    built_in: bool = strawberry.field(description="False for flags added by configuration (EXTRA_FEATURE_FLAGS).")

    @classmethod
    def of(cls, d: FlagDefinition) -> FeatureFlagDefinition:
        return cls(key=d.key, default=d.default, description=d.description, built_in=d.built_in)


# --- explicit settings of one scope -------------------------------------------------------------


@strawberry.type(description="A scope's model access setting.")
class ModelAccessSetting:
    allow_ids: strawberry.Private[frozenset[uuid.UUID] | None]
    deny_ids: strawberry.Private[frozenset[uuid.UUID]]
    default_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Only these models (of those allowed above); null when the scope has no allow list.")
    async def allow_list(self, info: Info) -> list[Model] | None:
        return None if self.allow_ids is None else await models_by_name(info, self.allow_ids)

    @strawberry.field(description="Models removed at this scope.")
    async def deny_list(self, info: Info) -> list[Model]:
        return await models_by_name(info, self.deny_ids)

    @strawberry.field(description="The default model this scope proposes (the nearest one still allowed wins).")
    async def default_model(self, info: Info) -> Model | None:
        return await model_of(info, self.default_id)


@strawberry.type(description="A scope's setting of a feature flag.")
class FlagSetting:
    flag: str = strawberry.field(description="The flag's key.")
    enabled: bool = strawberry.field(description="The value set.")
    locked: bool = strawberry.field(description="Nothing below may change it.")


@strawberry.type(description="A scope's setting of a guardrail.")
class GuardrailSetting:
    guardrail: Guardrail = strawberry.field(description="The guardrail.")
    state: GuardrailStateEnum = strawberry.field(description="ENABLED or DISABLED.")  # type: ignore[valid-type]
    enforced: bool = strawberry.field(description="ENABLED and nothing below, agents included, may disable it.")


@strawberry.type(description="A scope's connection permission mode setting.")
class ConnectionModeSetting:
    mode: ConnectionModeEnum = strawberry.field(description="The mode set.")  # type: ignore[valid-type]
    locked: bool = strawberry.field(description="Nothing below may change it.")


@strawberry.type(description="Every explicit policy setting of one scope (what this scope says, not the outcome).")
class PolicySettings:
    scope: BudgetScope = strawberry.field(description="The scope.")
    model_access: ModelAccessSetting | None = strawberry.field(description="Its model access, if set.")
    flags: list[FlagSetting] = strawberry.field(description="Its flag settings, by flag key.")
    guardrails: list[GuardrailSetting] = strawberry.field(description="Its guardrail settings, by guardrail name.")
    connection_mode: ConnectionModeSetting | None = strawberry.field(description="Its connection mode, if set.")

    @classmethod
    def of(
        cls, account_id: uuid.UUID, scope: Scope, policies: ScopePolicies, guardrails: dict[uuid.UUID, GuardrailRow]
    ) -> PolicySettings:
        access = policies.model_access
        return cls(
            scope=BudgetScope.of(account_id, scope),
            model_access=ModelAccessSetting(
                allow_ids=access.allow, deny_ids=access.deny, default_id=access.default_model
            )
            if access
            else None,
            flags=[FlagSetting(flag=k, enabled=t.value, locked=t.locked) for k, t in sorted(policies.flags.items())],
            guardrails=sorted(
                (
                    GuardrailSetting(guardrail=Guardrail.from_row(guardrails[g]), state=t.value, enforced=t.locked)
                    for g, t in policies.guardrails.items()
                    if g in guardrails
                ),
                key=lambda s: s.guardrail.name,
            ),
            connection_mode=ConnectionModeSetting(
                mode=policies.connection_mode.value, locked=policies.connection_mode.locked
            )
            if policies.connection_mode
            else None,
        )


# --- effective values with traces ----------------------------------------------------------------


@strawberry.type(description="One setting met while resolving a flag, and what became of it.")
class FlagTraceStep:
    source: PolicySourceEnum = strawberry.field(description="Where the setting comes from.")  # type: ignore[valid-type]
    scope: BudgetScope | None = strawberry.field(description="The scope that set it (for SCOPE steps).")
    enabled: bool = strawberry.field(description="The value it sets.")
    locked: bool = strawberry.field(description="Whether it is locked.")
    outcome: PolicyOutcomeEnum = strawberry.field(description="What became of it.")  # type: ignore[valid-type]


@strawberry.type(description="A flag's effective value for a scope or user, with its trace.")
class EffectiveFlag:
    flag: str = strawberry.field(description="The flag's key.")
    enabled: bool = strawberry.field(description="The effective value.")
    locked: bool = strawberry.field(description="Decided by a lock (or the entitlement); nothing below may change it.")
    decided_by: PolicySourceEnum = strawberry.field(description="What decided it.")  # type: ignore[valid-type]
    decided_at: BudgetScope | None = strawberry.field(description="The scope that decided it, for SCOPE.")
    trace: list[FlagTraceStep] = strawberry.field(description="Every setting met, account first.")

    @classmethod
    def of(cls, account_id: uuid.UUID, key: str, r: Resolved[bool]) -> EffectiveFlag:
        return cls(
            flag=key,
            enabled=r.value,
            locked=r.locked,
            decided_by=r.decided_by,
            decided_at=_scope(account_id, r.decided_at),
            trace=[
                FlagTraceStep(
                    source=s.source,
                    scope=_scope(account_id, s.scope),
                    enabled=s.value,
                    locked=s.locked,
                    outcome=s.outcome,
                )
                for s in r.trace
            ],
        )


@strawberry.type(description="One setting met while resolving the connection mode, and what became of it.")
class ConnectionModeTraceStep:
    source: PolicySourceEnum = strawberry.field(description="Where the setting comes from.")  # type: ignore[valid-type]
    scope: BudgetScope | None = strawberry.field(description="The scope that set it (for SCOPE steps).")
    mode: ConnectionModeEnum = strawberry.field(description="The mode it sets.")  # type: ignore[valid-type]
    locked: bool = strawberry.field(description="Whether it is locked.")
    outcome: PolicyOutcomeEnum = strawberry.field(description="What became of it.")  # type: ignore[valid-type]


@strawberry.type(description="The effective connection permission mode, with its trace.")
class EffectiveConnectionMode:
    mode: ConnectionModeEnum = strawberry.field(description="The effective mode.")  # type: ignore[valid-type]
    locked: bool = strawberry.field(description="Decided by a lock; nothing below may change it.")
    decided_by: PolicySourceEnum = strawberry.field(description="What decided it.")  # type: ignore[valid-type]
    decided_at: BudgetScope | None = strawberry.field(description="The scope that decided it, for SCOPE.")
    trace: list[ConnectionModeTraceStep] = strawberry.field(description="Every setting met, account first.")

    @classmethod
    def of(cls, account_id: uuid.UUID, r: Resolved[ConnectionMode]) -> EffectiveConnectionMode:
        return cls(
            mode=r.value,
            locked=r.locked,
            decided_by=r.decided_by,
            decided_at=_scope(account_id, r.decided_at),
            trace=[
                ConnectionModeTraceStep(
                    source=s.source, scope=_scope(account_id, s.scope), mode=s.value, locked=s.locked, outcome=s.outcome
                )
                for s in r.trace
            ],
        )


@strawberry.type(description="One setting met while resolving a guardrail, and what became of it.")
class GuardrailTraceStep:
    source: PolicySourceEnum = strawberry.field(description="Where the setting comes from.")  # type: ignore[valid-type]
    scope: BudgetScope | None = strawberry.field(description="The scope that set it (for SCOPE steps).")
    state: GuardrailStateEnum | None = strawberry.field(  # type: ignore[valid-type]
        description="The state it sets; null for the DEFAULT step (a guardrail no scope sets is off)."
    )
    enforced: bool = strawberry.field(description="Whether it is enforced.")
    outcome: PolicyOutcomeEnum = strawberry.field(description="What became of it.")  # type: ignore[valid-type]


@strawberry.type(description="A guardrail's effective state, with its trace.")
class EffectiveGuardrail:
    guardrail: Guardrail = strawberry.field(description="The guardrail.")
    enabled: bool = strawberry.field(description="Whether it applies.")
    enforced: bool = strawberry.field(description="Enabled by an enforced setting: nothing below may disable it.")
    decided_by: PolicySourceEnum = strawberry.field(description="What decided it.")  # type: ignore[valid-type]
    decided_at: BudgetScope | None = strawberry.field(description="The scope that decided it, for SCOPE.")
    trace: list[GuardrailTraceStep] = strawberry.field(description="Every setting met, account first, agent last.")

    @classmethod
    def of(cls, account_id: uuid.UUID, r: ResolvedGuardrail, row: GuardrailRow) -> EffectiveGuardrail:
        return cls(
            guardrail=Guardrail.from_row(row),
            enabled=r.enabled,
            enforced=r.enforced,
            decided_by=r.decided_by,
            decided_at=_scope(account_id, r.decided_at),
            trace=[
                GuardrailTraceStep(
                    source=s.source,
                    scope=_scope(account_id, s.scope),
                    state=s.value,
                    enforced=s.locked,
                    outcome=s.outcome,
                )
                for s in r.trace
            ],
        )


@strawberry.type(description="One narrowing of model access: what it allowed, denied and removed.")
class ModelAccessTraceStep:
    source: PolicySourceEnum = strawberry.field(description="Where it comes from.")  # type: ignore[valid-type]
    scope: BudgetScope | None = strawberry.field(description="The scope, for SCOPE steps.")
    step: strawberry.Private[ModelStep]

    @strawberry.field(description="Its allow list; null when it has none (allows everything allowed above).")
    async def allow_list(self, info: Info) -> list[Model] | None:
        return None if self.step.allow is None else await models_by_name(info, self.step.allow)

    @strawberry.field(description="Its deny list.")
    async def deny_list(self, info: Info) -> list[Model]:
        return await models_by_name(info, self.step.deny)

    @strawberry.field(description="The models this step removed from those allowed above.")
    async def removed(self, info: Info) -> list[Model]:
        return await models_by_name(info, self.step.removed)

    @strawberry.field(description="The default model it proposes, if any.")
    async def default_model(self, info: Info) -> Model | None:
        return await model_of(info, self.step.default_model)

    @strawberry.field(description="What became of its default model (APPLIED, OVERRIDDEN, NOT_ALLOWED).")
    def default_outcome(self) -> PolicyOutcomeEnum | None:  # type: ignore[valid-type]
        return self.step.default_outcome


@strawberry.type(description="The models a scope or user may use, the default model, and the trace.")
class EffectiveModels:
    allowed_ids: strawberry.Private[frozenset[uuid.UUID]]
    default_id: strawberry.Private[uuid.UUID | None]
    default_from: BudgetScope | None = strawberry.field(description="The scope whose default model won.")
    trace: list[ModelAccessTraceStep] = strawberry.field(
        description="Every narrowing, entitlement first, then account down, then IMAGE_GENERATION."
    )

    @strawberry.field(description="The allowed models, by display name.")
    async def allowed(self, info: Info) -> list[Model]:
        return await models_by_name(info, self.allowed_ids)

    @strawberry.field(description="The nearest default model that is still allowed; null when none is.")
    async def default_model(self, info: Info) -> Model | None:
        return await model_of(info, self.default_id)

    @classmethod
    def of(cls, account_id: uuid.UUID, view: PolicyView) -> EffectiveModels:
        m = view.policy.models
        return cls(
            allowed_ids=m.allowed,
            default_id=m.default_model,
            default_from=_scope(account_id, m.default_from),
            trace=[ModelAccessTraceStep(source=s.source, scope=_scope(account_id, s.scope), step=s) for s in m.trace],
        )


def effective_flags(account_id: uuid.UUID, view: PolicyView) -> list[EffectiveFlag]:
    return [EffectiveFlag.of(account_id, key, r) for key, r in sorted(view.policy.flags.items())]


def effective_guardrails(account_id: uuid.UUID, view: PolicyView) -> list[EffectiveGuardrail]:
    return [EffectiveGuardrail.of(account_id, g, view.guardrails[g.guardrail_id]) for g in view.policy.guardrails]
