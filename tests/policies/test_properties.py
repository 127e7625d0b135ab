"""Property tests (Hypothesis) over random trees and settings: model access only narrows down a
chain, a locked flag is never overridden below it, an enforced guardrail is never off below it (agents
included), and the entitlement is a ceiling nothing widens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.policies.entitlements import Entitlements
from cockpit_graphql.domain.policies.flags import Flag, flag_registry
from cockpit_graphql.domain.policies.resolve import (
    IMAGE,
    AgentGuardrailOverride,
    AgentOwnership,
    EffectivePolicy,
    resolve_policy,
)
from cockpit_graphql.domain.policies.settings import (
    ConnectionMode,
    GuardrailState,
    ModelAccessSetting,
    ScopePolicies,
    Toggle,
)

MODELS = [uuid.UUID(int=i + 1) for i in range(6)]
CATALOG = {m: frozenset({IMAGE} if i >= 4 else {"CHAT"}) for i, m in enumerate(MODELS)}
GUARDRAILS = [uuid.UUID(int=100 + i) for i in range(3)]
REGISTRY = flag_registry({"EXTRA_ONE": True})
FLAGS = sorted(REGISTRY)

ACCOUNT = Scope(ScopeLevel.ACCOUNT, uuid.UUID(int=1000))
ORGS = [Scope(ScopeLevel.ORGANIZATION, uuid.UUID(int=2000 + i)) for i in range(2)]
TEAMS = [Scope(ScopeLevel.TEAM, uuid.UUID(int=3000 + i)) for i in range(4)]  # teams 0,1 in org 0; 2,3 in org 1
USERS = [Scope(ScopeLevel.USER, uuid.UUID(int=4000 + i)) for i in range(8)]  # users 2t, 2t+1 in team t
ALL_SCOPES = [ACCOUNT, *ORGS, *TEAMS, *USERS]


def chain_of(user: int) -> list[Scope]:
    team = user // 2
    return [ACCOUNT, ORGS[team // 2], TEAMS[team], USERS[user]]


model_sets = st.frozensets(st.sampled_from(MODELS))
model_access = st.builds(
    ModelAccessSetting,
    allow=st.none() | model_sets,
    deny=model_sets,
    default_model=st.none() | st.sampled_from(MODELS),
)
scope_policies = st.builds(
    ScopePolicies,
    model_access=st.none() | model_access,
    flags=st.dictionaries(st.sampled_from(FLAGS), st.builds(Toggle, st.booleans(), st.booleans()), max_size=3),
    guardrails=st.dictionaries(
        st.sampled_from(GUARDRAILS),
        st.sampled_from(GuardrailState).flatmap(
            lambda s: st.builds(Toggle, st.just(s), st.booleans() if s is GuardrailState.ENABLED else st.just(False))
        ),
        max_size=3,
    ),
    connection_mode=st.none() | st.builds(Toggle, st.sampled_from(ConnectionMode), st.booleans()),
)
trees = st.dictionaries(st.sampled_from(ALL_SCOPES), scope_policies, max_size=len(ALL_SCOPES))
entitlements = st.builds(
    Entitlements,
    allow_all_models=st.booleans(),
    allowed_model_ids=model_sets,
    disabled_features=st.frozensets(st.sampled_from(FLAGS), max_size=2),
)
agents = st.none() | st.builds(
    AgentGuardrailOverride,
    st.sampled_from(AgentOwnership),
    st.dictionaries(st.sampled_from(GUARDRAILS), st.sampled_from(GuardrailState), max_size=3),
)


@dataclass
class Resolved:
    by_prefix: dict[int, EffectivePolicy]  # chain length -> policy of that scope


def resolve_chain(
    chain: list[Scope], tree: dict[Scope, ScopePolicies], ent: Entitlements, agent: AgentGuardrailOverride | None = None
) -> Resolved:
    return Resolved(
        {
            n: resolve_policy(
                chain[:n],
                tree,
                catalog=CATALOG,
                entitlements=ent,
                registry=REGISTRY,
                guardrail_ids=GUARDRAILS,
                agent=agent if n == len(chain) else None,
            )
            for n in range(1, len(chain) + 1)
        }
    )


@settings(max_examples=300, deadline=None)
@given(tree=trees, ent=entitlements, user=st.integers(0, 7))
def test_model_access_only_narrows_down_the_chain(
    tree: dict[Scope, ScopePolicies], ent: Entitlements, user: int
) -> None:
    r = resolve_chain(chain_of(user), tree, ent)
    entitled = set(CATALOG) if ent.allow_all_models else ent.allowed_model_ids
    for n in range(1, 5):
        policy = r.by_prefix[n]
        assert policy.models.allowed <= entitled
        assert policy.models.default_model is None or policy.models.default_model in policy.models.allowed
        if not policy.flags[Flag.IMAGE_GENERATION].value:
            assert not any(IMAGE in CATALOG[m] for m in policy.models.allowed)
        for ancestor in range(1, n):
            above = r.by_prefix[ancestor].models
            # IMAGE_GENERATION is itself a flag resolved per scope: a scope that turns it on may use
            # image models its ancestor (with it off) does not, but never a model a list above removed
            before_rule = above.allowed | {
                m for s in above.trace if s.scope is None and s.allow is None for m in s.removed
            }
            assert policy.models.allowed <= before_rule
            assert {m for m in policy.models.allowed if IMAGE not in CATALOG[m]} <= above.allowed


@settings(max_examples=300, deadline=None)
@given(tree=trees, ent=entitlements, user=st.integers(0, 7))
def test_a_locked_flag_is_never_overridden_below(
    tree: dict[Scope, ScopePolicies], ent: Entitlements, user: int
) -> None:
    chain = chain_of(user)
    r = resolve_chain(chain, tree, ent)
    for key in FLAGS:
        if key in ent.disabled_features:
            assert all(r.by_prefix[n].flags[key].value is False for n in range(1, 5))
            continue
        lock_at = next(
            (i for i, s in enumerate(chain) if (t := tree.get(s)) and key in t.flags and t.flags[key].locked), None
        )
        if lock_at is None:
            continue
        locked_value = tree[chain[lock_at]].flags[key].value
        for n in range(lock_at + 1, 5):
            resolved = r.by_prefix[n].flags[key]
            assert resolved.value is locked_value and resolved.locked


@settings(max_examples=300, deadline=None)
@given(tree=trees, ent=entitlements, user=st.integers(0, 7), agent=agents)
def test_an_enforced_guardrail_is_never_off_below(
    tree: dict[Scope, ScopePolicies], ent: Entitlements, user: int, agent: AgentGuardrailOverride | None
) -> None:
    chain = chain_of(user)
    r = resolve_chain(chain, tree, ent, agent)
    for n in range(1, 5):
        by_id = {g.guardrail_id: g for g in r.by_prefix[n].guardrails}
        for gid in GUARDRAILS:
            enforced_above = any(
                (t := tree.get(s)) and gid in t.guardrails and t.guardrails[gid].locked for s in chain[:n]
            )
            if enforced_above:
                assert by_id[gid].enabled and by_id[gid].enforced
            set_anywhere = any((t := tree.get(s)) and gid in t.guardrails for s in chain[:n])
            agent_enables = n == 4 and agent is not None and agent.states.get(gid) is GuardrailState.ENABLED
            if not set_anywhere and not agent_enables:
                assert not by_id[gid].enabled  # a guardrail no scope sets is off
            if n == 4 and agent is not None and agent.ownership is AgentOwnership.PERSONAL:
                without_agent = resolve_chain(chain, tree, ent).by_prefix[4]
                before = {g.guardrail_id: g.enabled for g in without_agent.guardrails}
                assert all(by_id[g].enabled or not before[g] for g in GUARDRAILS)  # personal agents only add


@settings(max_examples=200, deadline=None)
@given(tree=trees, user=st.integers(0, 7))
def test_connection_mode_nearest_or_locked(tree: dict[Scope, ScopePolicies], user: int) -> None:
    chain = chain_of(user)
    mode = resolve_chain(chain, tree, Entitlements()).by_prefix[4].connection_mode
    settings_down = [(s, t.connection_mode) for s in chain if (t := tree.get(s)) and t.connection_mode]
    locked = [(s, m) for s, m in settings_down if m.locked]
    if locked:
        assert (mode.value, mode.decided_at) == (locked[0][1].value, locked[0][0])
    elif settings_down:
        assert (mode.value, mode.decided_at) == (settings_down[-1][1].value, settings_down[-1][0])
    else:
        assert mode.value is ConnectionMode.ADMIN_MANAGED
