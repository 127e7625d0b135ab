"""The policy rules of domain.md §3, table-driven against the pure resolution functions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from cockpit_graphql.domain.budgets.allocation import Allocation
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.policies.access import AccessDenial, AccessRequest, ModelChoice, decide_access
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.domain.policies.flags import Flag, flag_registry
from cockpit_graphql.domain.policies.resolve import (
    AgentGuardrailOverride,
    AgentOwnership,
    Outcome,
    Source,
    resolve_connection_mode,
    resolve_flags,
    resolve_guardrails,
    resolve_models,
    resolve_policy,
)
from cockpit_graphql.domain.policies.settings import (
    ConnectionMode,
    GuardrailState,
    ModelAccessSetting,
    ScopePolicies,
    Toggle,
)

ACCOUNT = Scope(ScopeLevel.ACCOUNT, uuid.uuid4())
ORG = Scope(ScopeLevel.ORGANIZATION, uuid.uuid4())
TEAM = Scope(ScopeLevel.TEAM, uuid.uuid4())
USER = Scope(ScopeLevel.USER, uuid.uuid4())
CHAIN = [ACCOUNT, ORG, TEAM, USER]
LEVEL = {"A": ACCOUNT, "O": ORG, "T": TEAM, "U": USER}
ALL = Entitlements()
REGISTRY = flag_registry()


def _flag_settings(spec: str, key: str = Flag.CREATE_AGENTS) -> dict[Scope, ScopePolicies]:
    """'A:1L T:0' = account true locked, team false."""
    out: dict[Scope, ScopePolicies] = {}
    for part in spec.split():
        level, value = part.split(":")
        out[LEVEL[level]] = ScopePolicies(flags={key: Toggle(value[0] == "1", value.endswith("L"))})
    return out


@pytest.mark.parametrize(
    ("spec", "disabled", "value", "locked", "decided_by", "outcomes"),
    [
        ("", False, False, False, Source.DEFAULT, ["APPLIED"]),
        ("A:1", False, True, False, Source.SCOPE, ["OVERRIDDEN", "APPLIED"]),
        ("A:1 T:0", False, False, False, Source.SCOPE, ["OVERRIDDEN", "OVERRIDDEN", "APPLIED"]),
        ("A:1 O:0 U:1", False, True, False, Source.SCOPE, ["OVERRIDDEN", "OVERRIDDEN", "OVERRIDDEN", "APPLIED"]),
        # a lock ends the walk: everything below is blocked
        (
            "A:1L T:0 U:0",
            False,
            True,
            True,
            Source.SCOPE,
            ["OVERRIDDEN", "APPLIED", "BLOCKED_BY_LOCK", "BLOCKED_BY_LOCK"],
        ),
        ("A:0 O:1L T:0L", False, True, True, Source.SCOPE, ["OVERRIDDEN", "OVERRIDDEN", "APPLIED", "BLOCKED_BY_LOCK"]),
        # a lock lower down still wins over nothing below it
        ("O:1 U:0L", False, False, True, Source.SCOPE, ["OVERRIDDEN", "OVERRIDDEN", "APPLIED"]),
        # the entitlement disables: off and locked for everyone, every scope setting blocked
        ("", True, False, True, Source.ENTITLEMENT, ["OVERRIDDEN", "APPLIED"]),
        (
            "A:1L U:1",
            True,
            False,
            True,
            Source.ENTITLEMENT,
            ["OVERRIDDEN", "APPLIED", "BLOCKED_BY_ENTITLEMENT", "BLOCKED_BY_ENTITLEMENT"],
        ),
    ],
)
def test_flags(spec: str, disabled: bool, value: bool, locked: bool, decided_by: Source, outcomes: list[str]) -> None:
    ent = Entitlements(disabled_features=frozenset({Flag.CREATE_AGENTS}) if disabled else frozenset())
    r = resolve_flags(REGISTRY, CHAIN, _flag_settings(spec), ent)[Flag.CREATE_AGENTS]
    assert (r.value, r.locked, r.decided_by) == (value, locked, decided_by)
    assert [s.outcome.value for s in r.trace] == outcomes


def test_flags_resolve_for_a_scope_above_the_user() -> None:
    settings = _flag_settings("A:1 T:0")
    assert resolve_flags(REGISTRY, [ACCOUNT, ORG], settings, ALL)[Flag.CREATE_AGENTS].value is True
    assert resolve_flags(REGISTRY, [ACCOUNT, ORG, TEAM], settings, ALL)[Flag.CREATE_AGENTS].value is False


def test_registry_defaults_and_configured_flags() -> None:
    registry = flag_registry({"web_search": True})
    assert registry["WEB_SEARCH"].default is True and not registry["WEB_SEARCH"].built_in
    assert registry[Flag.MODEL_SELECTION].default is True and registry[Flag.CREATE_AGENTS].default is False
    r = resolve_flags(registry, CHAIN, {}, ALL)
    assert r["WEB_SEARCH"].value is True
    with pytest.raises(ValueError, match="built in"):
        flag_registry({"CREATE_AGENTS": True})
    with pytest.raises(ValueError, match="names are"):
        flag_registry({"bad name": True})


def test_connection_mode_nearest_wins_and_locks() -> None:
    assert resolve_connection_mode(CHAIN, {}).value is ConnectionMode.ADMIN_MANAGED
    self_managed = Toggle(ConnectionMode.SELF_MANAGED_ALLOWED)
    settings = {ORG: ScopePolicies(connection_mode=self_managed)}
    r = resolve_connection_mode(CHAIN, settings)
    assert (r.value, r.decided_at) == (ConnectionMode.SELF_MANAGED_ALLOWED, ORG)
    settings[ACCOUNT] = ScopePolicies(connection_mode=Toggle(ConnectionMode.ADMIN_MANAGED, locked=True))
    r = resolve_connection_mode(CHAIN, settings)
    assert (r.value, r.locked, r.decided_at) == (ConnectionMode.ADMIN_MANAGED, True, ACCOUNT)
    assert r.trace[-1].outcome is Outcome.BLOCKED_BY_LOCK


G = uuid.uuid4()


def _guardrail_settings(spec: str) -> dict[Scope, ScopePolicies]:
    """'A:E! T:D' = account enabled and enforced, team disabled."""
    out: dict[Scope, ScopePolicies] = {}
    for part in spec.split():
        level, value = part.split(":")
        state = GuardrailState.ENABLED if value[0] == "E" else GuardrailState.DISABLED
        out[LEVEL[level]] = ScopePolicies(guardrails={G: Toggle(state, value.endswith("!"))})
    return out


@dataclass
class GuardrailCase:
    spec: str
    enabled: bool
    enforced: bool = False
    agent: AgentOwnership | None = None
    agent_state: GuardrailState | None = None
    agent_outcome: Outcome | None = None
    outcomes: list[str] = field(default_factory=list)


GUARDRAIL_CASES = {
    "no scope sets it: off": GuardrailCase("", False, outcomes=["APPLIED"]),
    "enabled at the account": GuardrailCase("A:E", True, outcomes=["OVERRIDDEN", "APPLIED"]),
    "disabled below": GuardrailCase("A:E T:D", False, outcomes=["OVERRIDDEN", "OVERRIDDEN", "APPLIED"]),
    "enforced cannot be disabled below": GuardrailCase(
        "A:E! T:D U:D", True, True, outcomes=["OVERRIDDEN", "APPLIED", "BLOCKED_BY_LOCK", "BLOCKED_BY_LOCK"]
    ),
    "enforced at the team": GuardrailCase("O:D T:E! U:D", True, True),
    "admin agent disables a non-enforced one": GuardrailCase(
        "A:E", False, agent=AgentOwnership.ADMIN, agent_state=GuardrailState.DISABLED, agent_outcome=Outcome.APPLIED
    ),
    "admin agent cannot disable an enforced one": GuardrailCase(
        "A:E!", True, True, AgentOwnership.ADMIN, GuardrailState.DISABLED, Outcome.BLOCKED_BY_LOCK
    ),
    "personal agent may only add": GuardrailCase(
        "A:E",
        True,
        agent=AgentOwnership.PERSONAL,
        agent_state=GuardrailState.DISABLED,
        agent_outcome=Outcome.NOT_ALLOWED,
    ),
    "personal agent enables one no scope sets": GuardrailCase(
        "", True, agent=AgentOwnership.PERSONAL, agent_state=GuardrailState.ENABLED, agent_outcome=Outcome.APPLIED
    ),
    "admin agent enables one disabled by the team": GuardrailCase(
        "T:D", True, agent=AgentOwnership.ADMIN, agent_state=GuardrailState.ENABLED, agent_outcome=Outcome.APPLIED
    ),
}


@pytest.mark.parametrize("case", GUARDRAIL_CASES.values(), ids=GUARDRAIL_CASES.keys())
def test_guardrails(case: GuardrailCase) -> None:
    agent = AgentGuardrailOverride(case.agent, {G: case.agent_state}) if case.agent and case.agent_state else None
    [r] = resolve_guardrails([G], CHAIN, _guardrail_settings(case.spec), agent)
    assert (r.enabled, r.enforced) == (case.enabled, case.enforced)
    if case.outcomes:
        assert [s.outcome.value for s in r.trace] == case.outcomes
    if case.agent_outcome:
        assert r.trace[-1].source is Source.AGENT and r.trace[-1].outcome is case.agent_outcome
        if case.agent_outcome is Outcome.APPLIED:
            assert r.decided_by is Source.AGENT
            assert all(s.outcome is not Outcome.APPLIED for s in r.trace[:-1])


M1, M2, M3, IMG = (uuid.uuid4() for _ in range(4))
CATALOG = {
    M1: frozenset({"CHAT"}),
    M2: frozenset({"CHAT"}),
    M3: frozenset({"CHAT", "EMBEDDING"}),
    IMG: frozenset({"IMAGE"}),
}


def _access(
    allow: set[uuid.UUID] | None = None,
    deny: set[uuid.UUID] = frozenset(),  # type: ignore[assignment]
    default: uuid.UUID | None = None,
) -> ScopePolicies:
    return ScopePolicies(
        model_access=ModelAccessSetting(frozenset(allow) if allow is not None else None, frozenset(deny), default)
    )


@pytest.mark.parametrize(
    ("entitled", "scope_settings", "image", "allowed", "default"),
    [
        (None, {}, True, {M1, M2, M3, IMG}, None),
        (None, {}, False, {M1, M2, M3}, None),
        ({M1, M2}, {}, True, {M1, M2}, None),
        # an allow list cannot widen what is allowed above: M3 stays out
        ({M1, M2}, {ORG: _access(allow={M2, M3})}, True, {M2}, None),
        (None, {ACCOUNT: _access(deny={M1}), TEAM: _access(allow={M1, M2})}, True, {M2}, None),
        # the nearest default that is still allowed wins
        (None, {ACCOUNT: _access(default=M1), TEAM: _access(default=M2)}, True, {M1, M2, M3, IMG}, M2),
        (
            None,
            {ACCOUNT: _access(default=M1), TEAM: _access(default=M2), USER: _access(deny={M2})},
            True,
            {M1, M3, IMG},
            M1,
        ),
        (None, {ACCOUNT: _access(default=M1, deny=set()), ORG: _access(deny={M1})}, True, {M2, M3, IMG}, None),
        # a default image model drops out with IMAGE_GENERATION off
        (None, {ACCOUNT: _access(default=M1), USER: _access(default=IMG)}, False, {M1, M2, M3}, M1),
    ],
)
def test_model_access(
    entitled: set[uuid.UUID] | None,
    scope_settings: dict[Scope, ScopePolicies],
    image: bool,
    allowed: set[uuid.UUID],
    default: uuid.UUID | None,
) -> None:
    ent = Entitlements(False, frozenset(entitled)) if entitled is not None else ALL
    r = resolve_models(CATALOG, ent, CHAIN, scope_settings, image)
    assert r.allowed == allowed
    assert r.default_model == default
    for step in r.trace:  # every step's removals are exactly what it took away
        assert not (step.removed & r.allowed)


def test_model_trace_marks_defaults() -> None:
    settings = {ACCOUNT: _access(default=M1), ORG: _access(default=M2), USER: _access(deny={M2}, default=M2)}
    r = resolve_models(CATALOG, ALL, CHAIN, settings, True)
    assert [s.default_outcome for s in r.trace] == [Outcome.APPLIED, Outcome.NOT_ALLOWED, Outcome.NOT_ALLOWED]
    assert r.default_from == ACCOUNT


def test_disabled_models_are_not_in_the_catalog_passed_in() -> None:
    """resolve_models takes the *enabled* catalog: an entitlement or allow list naming a disabled or
    deleted model never brings it back."""
    ent = Entitlements(False, frozenset({M1, uuid.uuid4()}))
    r = resolve_models({M1: frozenset({"CHAT"})}, ent, CHAIN, {ACCOUNT: _access(allow={M1, M2})}, True)
    assert r.allowed == {M1}


def _allocation(remaining: str | None, has_plan: bool = True) -> Allocation:
    return Allocation(
        USER, [], Decimal(remaining) if remaining is not None else None, ACCOUNT, Decimal(0), None, None, has_plan
    )


@pytest.mark.parametrize(
    ("flags", "requested", "agent", "remaining", "has_plan", "active", "reasons", "model", "choice"),
    [
        ({}, None, None, "10", True, True, [], M1, ModelChoice.DEFAULT),
        ({}, M2, None, "10", True, True, [], M2, ModelChoice.REQUESTED),
        ({}, IMG, None, "10", True, True, [AccessDenial.MODEL_NOT_ALLOWED], None, None),
        ({}, None, M3, "10", True, True, [], M3, ModelChoice.AGENT),
        ({}, None, IMG, "10", True, True, [], M1, ModelChoice.DEFAULT),  # the agent's model is not allowed
        ({"MODEL_SELECTION": False}, M2, None, "10", True, True, [], M1, ModelChoice.DEFAULT),
        ({"MODEL_SELECTION": False}, M2, M3, "10", True, True, [], M3, ModelChoice.AGENT),
        ({}, None, None, "0", True, True, [AccessDenial.BUDGET_EXHAUSTED], M1, ModelChoice.DEFAULT),
        ({}, None, None, None, True, True, [], M1, ModelChoice.DEFAULT),  # uncapped (overflow without a cap)
        (
            {},
            None,
            None,
            "0",
            False,
            False,
            [AccessDenial.ACCOUNT_SUSPENDED, AccessDenial.NO_PLAN],
            M1,
            ModelChoice.DEFAULT,
        ),
    ],
)
def test_access_decision(
    flags: dict[str, bool],
    requested: uuid.UUID | None,
    agent: uuid.UUID | None,
    remaining: str | None,
    has_plan: bool,
    active: bool,
    reasons: list[AccessDenial],
    model: uuid.UUID | None,
    choice: ModelChoice | None,
) -> None:
    settings = {ACCOUNT: _access(default=M1)}
    for key, value in flags.items():
        settings[ACCOUNT].flags[key] = Toggle(value)
    policy = resolve_policy(
        CHAIN, settings, catalog=CATALOG, entitlements=ALL, registry=REGISTRY, guardrail_ids=[]
    )  # IMAGE_GENERATION is off by default, so IMG is not allowed
    d = decide_access(
        policy, _allocation(remaining, has_plan), active, AccessRequest(requested_model=requested, agent_model=agent)
    )
    assert list(d.reasons) == reasons
    assert d.allowed is (not reasons)
    assert (d.model, d.model_choice) == (model, choice)


def test_no_model_available() -> None:
    policy = resolve_policy(
        CHAIN,
        {ACCOUNT: _access(allow=set())},
        catalog=CATALOG,
        entitlements=ALL,
        registry=REGISTRY,
        guardrail_ids=[],
    )
    d = decide_access(policy, _allocation("5"), True, AccessRequest())
    assert d.reasons == (AccessDenial.NO_MODEL_AVAILABLE,)


def test_a_bad_flag_configuration_stops_the_server_from_starting(settings: object) -> None:
    from cockpit_graphql.app import create_app

    bad = settings.model_copy(update={"extra_feature_flags": {"not a flag": True}})  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="feature flag"):
        create_app(bad)


def test_an_agent_outside_the_audience_is_denied() -> None:
    policy = resolve_policy(
        CHAIN, {ACCOUNT: _access(default=M1)}, catalog=CATALOG, entitlements=ALL, registry=REGISTRY, guardrail_ids=[]
    )
    agent = uuid.uuid4()
    denied = decide_access(policy, _allocation("5"), True, AccessRequest(agent_id=agent, agent_model=M2), False)
    assert denied.reasons == (AccessDenial.AGENT_NOT_AVAILABLE,) and not denied.allowed
    assert (denied.model, denied.model_choice) == (M2, ModelChoice.AGENT)  # still says what it would use
    allowed = decide_access(policy, _allocation("5"), True, AccessRequest(agent_id=agent, agent_model=M2), True)
    assert allowed.allowed
