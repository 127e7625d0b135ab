"""The runtime's question, "may user U run (agent A) now, and with what?", answered by one function
from the effective policy and the effective allocation (domain.md §4 "Effective access")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from cockpit_graphql.domain.budgets.allocation import Allocation
from cockpit_graphql.domain.policies.flags import Flag
from cockpit_graphql.domain.policies.resolve import EffectivePolicy


class AccessDenial(StrEnum):
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    AGENT_NOT_AVAILABLE = "AGENT_NOT_AVAILABLE"
    MODEL_NOT_ALLOWED = "MODEL_NOT_ALLOWED"
    NO_MODEL_AVAILABLE = "NO_MODEL_AVAILABLE"
    NO_PLAN = "NO_PLAN"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"


class ModelChoice(StrEnum):
    REQUESTED = "REQUESTED"
    AGENT = "AGENT"
    DEFAULT = "DEFAULT"


@dataclass(frozen=True)
class AccessRequest:
    requested_model: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None  # the agent to run, if any
    agent_model: uuid.UUID | None = None  # that agent's model (filled in by the runtime from the agent)


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    reasons: tuple[AccessDenial, ...]
    model: uuid.UUID | None
    model_choice: ModelChoice | None


def choose_model(policy: EffectivePolicy, request: AccessRequest) -> tuple[uuid.UUID | None, ModelChoice | None, bool]:
    """(model, why, requested-but-refused). With MODEL_SELECTION on, a requested model must be
    allowed; with it off the request is ignored. Then the agent's model if allowed, else the default."""
    allowed = policy.models.allowed
    selection = policy.flags[Flag.MODEL_SELECTION].value
    if request.requested_model is not None and selection:
        if request.requested_model in allowed:
            return request.requested_model, ModelChoice.REQUESTED, False
        return None, None, True
    if request.agent_model is not None and request.agent_model in allowed:
        return request.agent_model, ModelChoice.AGENT, False
    if policy.models.default_model is not None:
        return policy.models.default_model, ModelChoice.DEFAULT, False
    return None, None, False


def decide_access(
    policy: EffectivePolicy,
    allocation: Allocation,
    account_active: bool,
    request: AccessRequest,
    agent_available: bool = True,
) -> AccessDecision:
    """Allowed only when the account is active, the agent (if any) is in the user's audience (the
    audience rule, decided by the caller with marketplace.audience.membership), a model is chosen
    and the budget has room; every reason that applies is reported, in a stable order."""
    reasons: list[AccessDenial] = []
    if not account_active:
        reasons.append(AccessDenial.ACCOUNT_SUSPENDED)
    if request.agent_id is not None and not agent_available:
        reasons.append(AccessDenial.AGENT_NOT_AVAILABLE)
    model, choice, refused = choose_model(policy, request)
    if refused:
        reasons.append(AccessDenial.MODEL_NOT_ALLOWED)
    elif model is None:
        reasons.append(AccessDenial.NO_MODEL_AVAILABLE)
    if not allocation.has_plan:
        reasons.append(AccessDenial.NO_PLAN)
    elif allocation.remaining is not None and allocation.remaining <= Decimal(0):
        reasons.append(AccessDenial.BUDGET_EXHAUSTED)
    return AccessDecision(not reasons, tuple(reasons), model, choice)
