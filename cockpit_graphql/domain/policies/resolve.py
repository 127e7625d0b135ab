"""The policy rules of domain.md §3 as pure functions: each answer carries its decision and a trace
of every setting met on the way (applied, overridden, blocked by a lock or by the entitlement).

A chain is the list of scopes from the account down to the scope asked about; `settings` holds the
explicit settings of those scopes. Nothing here reads the database."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from cockpit_graphql.domain.budgets.scopes import Scope
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.domain.policies.flags import Flag, FlagDefinition
from cockpit_graphql.domain.policies.settings import (
    DEFAULT_CONNECTION_MODE,
    NO_POLICIES,
    ConnectionMode,
    GuardrailState,
    ScopePolicies,
    Toggle,
)

T = TypeVar("T")

IMAGE = "IMAGE"


class Outcome(StrEnum):
    APPLIED = "APPLIED"
    OVERRIDDEN = "OVERRIDDEN"
    BLOCKED_BY_LOCK = "BLOCKED_BY_LOCK"
    BLOCKED_BY_ENTITLEMENT = "BLOCKED_BY_ENTITLEMENT"
    NOT_ALLOWED = "NOT_ALLOWED"


class Source(StrEnum):
    """Where a trace step comes from: a registered default, the entitlement, a scope, a rule
    (IMAGE_GENERATION removing image models) or the agent's override."""

    DEFAULT = "DEFAULT"
    ENTITLEMENT = "ENTITLEMENT"
    SCOPE = "SCOPE"
    RULE = "RULE"
    AGENT = "AGENT"


@dataclass
class Step(Generic[T]):
    source: Source
    value: T
    locked: bool
    outcome: Outcome
    scope: Scope | None = None


@dataclass(frozen=True)
class Resolved(Generic[T]):
    """A lockable value's answer: the value, whether a lock decided it (and where), and the trace."""

    value: T
    locked: bool
    decided_by: Source
    decided_at: Scope | None
    trace: tuple[Step[T], ...]


def _walk(
    default: T,
    chain: Sequence[Scope],
    setting_of: Mapping[Scope, Toggle[T]],
    ceiling: T | None = None,
) -> Resolved[T]:
    """Nearest-wins with locks, from the account down: a locked setting ends the walk (everything
    below it is BLOCKED_BY_LOCK); otherwise the nearest explicit setting wins. A `ceiling` (the
    entitlement) decides the value and locks it for the whole account."""
    steps: list[Step[T]] = [Step(Source.DEFAULT, default, False, Outcome.APPLIED)]
    current = steps[0]
    lock: Step[T] | None = None
    if ceiling is not None:
        current.outcome = Outcome.OVERRIDDEN
        current = lock = Step(Source.ENTITLEMENT, ceiling, True, Outcome.APPLIED)
        steps.append(current)
    for scope in chain:
        toggle = setting_of.get(scope)
        if toggle is None:
            continue
        if lock is not None:
            blocked = Outcome.BLOCKED_BY_ENTITLEMENT if lock.source is Source.ENTITLEMENT else Outcome.BLOCKED_BY_LOCK
            steps.append(Step(Source.SCOPE, toggle.value, toggle.locked, blocked, scope))
            continue
        current.outcome = Outcome.OVERRIDDEN
        current = Step(Source.SCOPE, toggle.value, toggle.locked, Outcome.APPLIED, scope)
        steps.append(current)
        if toggle.locked:
            lock = current
    return Resolved(current.value, lock is not None, current.source, current.scope, tuple(steps))


def resolve_flags(
    registry: Mapping[str, FlagDefinition],
    chain: Sequence[Scope],
    settings: Mapping[Scope, ScopePolicies],
    entitlements: Entitlements,
) -> dict[str, Resolved[bool]]:
    """Every registered flag for the last scope of `chain`."""
    out: dict[str, Resolved[bool]] = {}
    for key, definition in registry.items():
        setting_of = {s: t for s in chain if (t := settings.get(s, NO_POLICIES).flags.get(key)) is not None}
        ceiling = False if key in entitlements.disabled_features else None
        out[key] = _walk(definition.default, chain, setting_of, ceiling)
    return out


def resolve_connection_mode(
    chain: Sequence[Scope], settings: Mapping[Scope, ScopePolicies]
) -> Resolved[ConnectionMode]:
    setting_of = {s: t for s in chain if (t := settings.get(s, NO_POLICIES).connection_mode) is not None}
    return _walk(DEFAULT_CONNECTION_MODE, chain, setting_of)


# --- guardrails --------------------------------------------------------------------------------


class AgentOwnership(StrEnum):
    ADMIN = "ADMIN"  # owned by the account, an organization or a team
    PERSONAL = "PERSONAL"  # a member's own agent


@dataclass(frozen=True)
class AgentGuardrailOverride:
    """An agent's own guardrail settings, applied after the user's chain (agents plug in here)."""

    ownership: AgentOwnership
    states: Mapping[uuid.UUID, GuardrailState] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedGuardrail:
    guardrail_id: uuid.UUID
    enabled: bool
    enforced: bool
    decided_by: Source
    decided_at: Scope | None
    trace: tuple[Step[GuardrailState | None], ...]


def resolve_guardrails(
    guardrail_ids: Sequence[uuid.UUID],
    chain: Sequence[Scope],
    settings: Mapping[Scope, ScopePolicies],
    agent: AgentGuardrailOverride | None = None,
) -> list[ResolvedGuardrail]:
    """A guardrail no scope sets is off; an enforced ENABLED ends the walk; the agent's override
    comes last: an admin agent may enable or disable what is not enforced, a personal agent may
    only enable."""
    out: list[ResolvedGuardrail] = []
    for gid in guardrail_ids:
        setting_of: dict[Scope, Toggle[GuardrailState | None]] = {
            s: t  # type: ignore[misc]
            for s in chain
            if (t := settings.get(s, NO_POLICIES).guardrails.get(gid)) is not None
        }
        walked = _walk(None, chain, setting_of)
        steps = list(walked.trace)
        value, decided_by, decided_at = walked.value, walked.decided_by, walked.decided_at
        wanted = agent.states.get(gid) if agent else None
        if agent is not None and wanted is not None:
            if wanted is GuardrailState.DISABLED and walked.locked:
                outcome = Outcome.BLOCKED_BY_LOCK
            elif wanted is GuardrailState.DISABLED and agent.ownership is AgentOwnership.PERSONAL:
                outcome = Outcome.NOT_ALLOWED
            else:
                outcome = Outcome.APPLIED
                for step in steps:
                    if step.outcome is Outcome.APPLIED:
                        step.outcome = Outcome.OVERRIDDEN
                value, decided_by, decided_at = wanted, Source.AGENT, None
            steps.append(Step(Source.AGENT, wanted, False, outcome))
        out.append(
            ResolvedGuardrail(gid, value is GuardrailState.ENABLED, walked.locked, decided_by, decided_at, tuple(steps))
        )
    return out


# --- model access ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelStep:
    """One narrowing: what a scope (or the entitlement, or a rule) allowed, denied and removed, and
    what its default model did."""

    source: Source
    scope: Scope | None
    allow: frozenset[uuid.UUID] | None
    deny: frozenset[uuid.UUID]
    removed: frozenset[uuid.UUID]
    default_model: uuid.UUID | None
    default_outcome: Outcome | None


@dataclass(frozen=True)
class ResolvedModels:
    allowed: frozenset[uuid.UUID]
    default_model: uuid.UUID | None
    default_from: Scope | None
    trace: tuple[ModelStep, ...]


def resolve_models(
    catalog: Mapping[uuid.UUID, frozenset[str]],
    entitlements: Entitlements,
    chain: Sequence[Scope],
    settings: Mapping[Scope, ScopePolicies],
    image_generation: bool,
) -> ResolvedModels:
    """allowed(account) = enabled catalog ∩ entitlement ∩ allow(account) − deny(account); each level
    below can only remove. IMAGE models drop out when IMAGE_GENERATION is off. The nearest default
    that is still allowed wins. `catalog` maps each *enabled* model to its capabilities."""
    allowed = frozenset(catalog)
    steps: list[ModelStep] = []
    if not entitlements.allow_all_models:
        narrowed = allowed & entitlements.allowed_model_ids
        steps.append(
            ModelStep(
                Source.ENTITLEMENT, None, entitlements.allowed_model_ids, frozenset(), allowed - narrowed, None, None
            )
        )
        allowed = narrowed
    defaults: list[tuple[int, Scope, uuid.UUID]] = []
    for scope in chain:
        access = settings.get(scope, NO_POLICIES).model_access
        if access is None:
            continue
        narrowed = (allowed & access.allow if access.allow is not None else allowed) - access.deny
        steps.append(
            ModelStep(Source.SCOPE, scope, access.allow, access.deny, allowed - narrowed, access.default_model, None)
        )
        allowed = narrowed
        if access.default_model is not None:
            defaults.append((len(steps) - 1, scope, access.default_model))
    if not image_generation:
        images = frozenset(m for m in allowed if IMAGE in catalog[m])
        if images:
            steps.append(ModelStep(Source.RULE, None, None, frozenset(), images, None, None))
            allowed -= images
    default_model: uuid.UUID | None = None
    default_from: Scope | None = None
    for index, scope, model in reversed(defaults):  # nearest first
        if default_model is None and model in allowed:
            default_model, default_from, outcome = model, scope, Outcome.APPLIED
        elif model not in allowed:
            outcome = Outcome.NOT_ALLOWED
        else:
            outcome = Outcome.OVERRIDDEN
        steps[index] = _with_default_outcome(steps[index], outcome)
    return ResolvedModels(allowed, default_model, default_from, tuple(steps))


def _with_default_outcome(step: ModelStep, outcome: Outcome) -> ModelStep:
    return ModelStep(step.source, step.scope, step.allow, step.deny, step.removed, step.default_model, outcome)


# --- all of it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectivePolicy:
    """Every policy of one scope (or user), each with its trace."""

    models: ResolvedModels
    flags: dict[str, Resolved[bool]]
    guardrails: list[ResolvedGuardrail]
    connection_mode: Resolved[ConnectionMode]


def resolve_policy(
    chain: Sequence[Scope],
    settings: Mapping[Scope, ScopePolicies],
    *,
    catalog: Mapping[uuid.UUID, frozenset[str]],
    entitlements: Entitlements,
    registry: Mapping[str, FlagDefinition],
    guardrail_ids: Sequence[uuid.UUID],
    agent: AgentGuardrailOverride | None = None,
) -> EffectivePolicy:
    """The one function that decides every policy for the last scope of `chain`."""
    flags = resolve_flags(registry, chain, settings, entitlements)
    image = flags[Flag.IMAGE_GENERATION].value
    return EffectivePolicy(
        models=resolve_models(catalog, entitlements, chain, settings, image),
        flags=flags,
        guardrails=resolve_guardrails(guardrail_ids, chain, settings, agent),
        connection_mode=resolve_connection_mode(chain, settings),
    )
