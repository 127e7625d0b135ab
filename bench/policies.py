"""Policy setup through the real API, and the effectiveAccess cases (the runtime's question, issue #4).

Setup (after the budget setup, whose plan effectiveAccess needs): as super admin, 8 catalog models
(one IMAGE; provider model ids unique per run) and the account's entitlements (6 of them, the IMAGE
one included); as the account admin, model access (account: deny one, default model; one
organization: allow list with its own default; one team: default model), feature flags (one locked
at the account, others at teams and a user), 3 guardrails (PII_REDACTION, PROMPT_INJECTION,
TOPIC_BLOCK) enabled/enforced at the account and organizations and disabled at a team, and a
connection mode at an organization. Every mutation must answer without userErrors; then
effectiveAccess of the first user of each of the 7 kinds of placement must show the allowed models
and default model the settings imply, and pass the cases' checks.

The cases (c=1 and c=16) call effectiveAccess for the 10,000 seeded users, each once: request `seq`
asks about user ((offset + seq) × 7919) mod 10,000 (7919 is coprime with 10,000, so consecutive
requests land in different organizations and teams), the c=16 case starting half-way (offset 5,000)
so that, up to 5,000 requests each, the two cases ask about different users. Every answer is checked
against what the setup implies for that user's placement: allowed, no reasons, the DEFAULT model
expected there (id and providerModelId), budget remaining > 0 with a binding scope, every flag's
value, every guardrail (definition, enabled, enforced) and the connection mode.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.budgets import USER_ERRORS, BudgetWorld, mutation_payload, payload_of
from bench.http import LeanClient
from bench.load import BenchFailure, Case, clean_data, make_client, post_graphql

EFFECTIVE_ACCESS = """
query Access($u: ID!) {
  effectiveAccess(userId: $u) {
    allowed reasons modelChoice model { id providerModelId } budget { remaining } bindingScope { level id }
    flags { flag enabled } guardrails { guardrail { id type mode config } enabled enforced } connectionMode { mode }
  }
}
"""

ACCESS_CHECK = """
query BenchAccessCheck($u: ID!) {
  effectiveAccess(userId: $u) {
    allowed reasons models { allowed { providerModelId } defaultModel { providerModelId } }
  }
}
"""

FEATURE_FLAGS = "query BenchFlags { featureFlags { key default } }"

FLOOR = "query Floor { viewer { role } }"

CREATE_MODEL = f"""
mutation BenchModel($input: CreateModelInput!) {{
  createModel(input: $input) {{ {USER_ERRORS} model {{ id providerModelId capabilities enabled }} }}
}}
"""

ENTITLEMENTS = f"""
mutation BenchEntitlements($input: UpdateAccountEntitlementsInput!) {{
  updateAccountEntitlements(input: $input) {{ {USER_ERRORS} account {{ id }} }}
}}
"""

CREATE_GUARDRAIL = f"""
mutation BenchGuardrail($input: CreateGuardrailInput!) {{
  createGuardrail(input: $input) {{ {USER_ERRORS} guardrail {{ id type mode config }} }}
}}
"""

SETTING_MUTATIONS = {
    name: (
        f"mutation Bench{name[0].upper()}{name[1:]}($input: {input_type}!) "
        f"{{ {name}(input: $input) {{ {USER_ERRORS} scope {{ level id }} }} }}"
    )
    for name, input_type in (
        ("setModelAccess", "SetModelAccessInput"),
        ("setFeatureFlag", "SetFeatureFlagInput"),
        ("setGuardrailState", "SetGuardrailStateInput"),
        ("setConnectionMode", "SetConnectionModeInput"),
    )
}

# (provider, name suffix, capability); the last one is the IMAGE model.
MODELS = (
    ("OPENAI", "chat-0", "CHAT"),
    ("ANTHROPIC", "chat-1", "CHAT"),
    ("MISTRAL", "chat-2", "CHAT"),
    ("VERTEX", "chat-3", "CHAT"),
    ("BEDROCK", "chat-4", "CHAT"),
    ("XAI", "chat-5", "CHAT"),
    ("AZURE_OPENAI", "embed-6", "EMBEDDING"),
    ("OPENAI", "image-7", "IMAGE"),
)
IMAGE_MODEL = 7
ENTITLED = (0, 1, 2, 3, 4, IMAGE_MODEL)  # 6 of the 8; 5 and 6 are outside the entitlement
ACCOUNT_DENY, ACCOUNT_DEFAULT = 4, 0
ORG_ALLOW = (1, (1, 2, IMAGE_MODEL), 1)  # organization index, allow list, default model (the account's is not in it)
TEAM_DEFAULT = ((0, 0), 2)  # (organization, team) index, default model
IMAGE_TEAM = (0, 1)  # IMAGE_GENERATION on: the IMAGE model is allowed there
NO_SELECTION_TEAM = (1, 1)  # MODEL_SELECTION off
AGENTS_TEAM = (0, 2)  # CREATE_AGENTS on, blocked by the account's lock
CONNECTIONS_USER = (0, 2, 0)  # CREATE_CONNECTIONS on for this (organization, team, user)
SELF_MANAGED_ORG = 0  # connection mode SELF_MANAGED_ALLOWED
# (name, type, mode, config)
GUARDRAILS = (
    ("bench PII", "PII_REDACTION", "REDACT", {"entities": ["EMAIL"]}),
    ("bench injection", "PROMPT_INJECTION", "BLOCK", {}),
    ("bench topics", "TOPIC_BLOCK", "BLOCK", {"topics": ["x"]}),
)
PII, INJECTION, TOPICS = range(3)
INJECTION_ORG, INJECTION_OFF_TEAM, TOPICS_ORG = 0, (0, 1), 1


@dataclass(frozen=True)
class Expected:
    """What effectiveAccess must answer for a user of one kind of placement."""

    model: int  # index in MODELS
    allowed: frozenset[int]
    flags: dict[str, bool]
    guardrails: dict[int, tuple[bool, bool]]  # index in GUARDRAILS → (enabled, enforced)
    connection_mode: str


@dataclass
class PolicyWorld:
    budget: BudgetWorld
    models: list[dict[str, Any]]  # createModel's answers, in MODELS order
    guardrails: list[dict[str, Any]]  # createGuardrail's answers (id type mode config), in GUARDRAILS order
    flag_defaults: dict[str, bool]
    expected: dict[str, Expected] = field(default_factory=dict)  # by user id
    # each kind of placement: repr → (expected, its first user, its (organization, team, user) indexes)
    kinds: dict[str, tuple[Expected, str, tuple[int, int, int]]] = field(default_factory=dict)
    summary: str = ""

    @property
    def users(self) -> list[str]:
        return self.budget.users


def expected_for(o: int, t: int, u: int, flag_defaults: dict[str, bool]) -> Expected:
    """The answer the setup implies for user u of team t of organization o (seeded indexes)."""
    flags = dict(flag_defaults)
    flags["CREATE_AGENTS"] = False  # locked at the account: the team's true is blocked
    flags["IMAGE_GENERATION"] = (o, t) == IMAGE_TEAM
    flags["MODEL_SELECTION"] = (o, t) != NO_SELECTION_TEAM
    flags["CREATE_CONNECTIONS"] = (o, t, u) == CONNECTIONS_USER
    allowed = frozenset(ENTITLED) - {ACCOUNT_DENY}
    org, org_allow, org_default = ORG_ALLOW
    if o == org:
        allowed &= frozenset(org_allow)
    if not flags["IMAGE_GENERATION"]:
        allowed -= {IMAGE_MODEL}
    model = ACCOUNT_DEFAULT
    if o == org:
        model = org_default
    if (o, t) == TEAM_DEFAULT[0]:
        model = TEAM_DEFAULT[1]
    guardrails = {
        PII: (True, True),
        INJECTION: (o == INJECTION_ORG and (o, t) != INJECTION_OFF_TEAM, False),
        TOPICS: (o == TOPICS_ORG, o == TOPICS_ORG),
    }
    mode = "SELF_MANAGED_ALLOWED" if o == SELF_MANAGED_ORG else "ADMIN_MANAGED"
    return Expected(model, allowed, flags, guardrails, mode)


async def _call(client: LeanClient, query: str, field_name: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run one mutation; fail on errors or userErrors; return its payload."""
    operation = query.split("(", 1)[0].split()[-1]
    data = clean_data(await post_graphql(client, payload_of(query, operation, variables)))
    return mutation_payload(data, field_name)


async def _set(client: LeanClient, field_name: str, scope_id: str, **values: Any) -> None:
    payload = await _call(client, SETTING_MUTATIONS[field_name], field_name, {"input": {"scopeId": scope_id, **values}})
    if payload["scope"] is None or payload["scope"]["id"] != scope_id:
        raise BenchFailure(f"{field_name} on {scope_id}: unexpected scope {payload['scope']}")


async def _catalog(client: LeanClient, account_id: str) -> tuple[list[dict[str, Any]], dict[str, bool]]:
    """As super admin: the 8 models, the entitlements, and the registered flags."""
    tag = secrets.token_hex(4)
    models = []
    for provider, suffix, capability in MODELS:
        model_input = {"provider": provider, "providerModelId": f"bench-{tag}-{suffix}", "capabilities": [capability]}
        model = (await _call(client, CREATE_MODEL, "createModel", {"input": model_input}))["model"]
        if model is None or not model["enabled"] or model["capabilities"] != [capability]:
            raise BenchFailure(f"createModel {model_input}: unexpected model {model}")
        models.append(model)
    entitlements = {"id": account_id, "allowAllModels": False, "allowedModelIds": [models[i]["id"] for i in ENTITLED]}
    await _call(client, ENTITLEMENTS, "updateAccountEntitlements", {"input": entitlements})
    flags = clean_data(await post_graphql(client, payload_of(FEATURE_FLAGS, "BenchFlags", {})))["featureFlags"]
    return models, {f["key"]: f["default"] for f in flags}


async def _policies(client: LeanClient, world: PolicyWorld) -> None:
    """As the account admin: model access, flags, guardrails and their states, connection mode."""
    orgs, account = world.budget.organizations, world.budget.account_id
    model = [m["id"] for m in world.models]
    await _set(
        client, "setModelAccess", account, denyModelIds=[model[ACCOUNT_DENY]], defaultModelId=model[ACCOUNT_DEFAULT]
    )
    o, allow, default = ORG_ALLOW
    await _set(
        client, "setModelAccess", orgs[o].id, allowModelIds=[model[i] for i in allow], defaultModelId=model[default]
    )
    (o, t), default = TEAM_DEFAULT
    await _set(client, "setModelAccess", orgs[o].teams[t].id, defaultModelId=model[default])

    await _set(client, "setFeatureFlag", account, flag="CREATE_AGENTS", enabled=False, locked=True)
    for (o, t), flag, enabled in (
        (IMAGE_TEAM, "IMAGE_GENERATION", True),
        (NO_SELECTION_TEAM, "MODEL_SELECTION", False),
        (AGENTS_TEAM, "CREATE_AGENTS", True),
    ):
        await _set(client, "setFeatureFlag", orgs[o].teams[t].id, flag=flag, enabled=enabled)
    o, t, u = CONNECTIONS_USER
    await _set(client, "setFeatureFlag", orgs[o].teams[t].users[u], flag="CREATE_CONNECTIONS", enabled=True)

    for name, kind, mode, config in GUARDRAILS:
        guardrail_input = {"name": name, "type": kind, "mode": mode, "config": config}
        guardrail = (await _call(client, CREATE_GUARDRAIL, "createGuardrail", {"input": guardrail_input}))["guardrail"]
        if guardrail is None or (guardrail["type"], guardrail["mode"]) != (kind, mode):
            raise BenchFailure(f"createGuardrail {guardrail_input}: unexpected guardrail {guardrail}")
        world.guardrails.append(guardrail)
    gid = [g["id"] for g in world.guardrails]
    (o_off, t_off) = INJECTION_OFF_TEAM
    for scope, guardrail, state, enforced in (
        (account, PII, "ENABLED", True),
        (orgs[INJECTION_ORG].id, INJECTION, "ENABLED", False),
        (orgs[TOPICS_ORG].id, TOPICS, "ENABLED", True),
        (orgs[o_off].teams[t_off].id, INJECTION, "DISABLED", False),
    ):
        await _set(client, "setGuardrailState", scope, guardrailId=gid[guardrail], state=state, enforced=enforced)

    await _set(client, "setConnectionMode", orgs[SELF_MANAGED_ORG].id, mode="SELF_MANAGED_ALLOWED", locked=False)


async def _check_representatives(client: LeanClient, world: PolicyWorld) -> int:
    """effectiveAccess of the first user of every kind of placement: allowed models and default model,
    then the cases' query and checks."""
    pmid = [m["providerModelId"] for m in world.models]
    for expected, user, where in world.kinds.values():
        data = clean_data(await post_graphql(client, payload_of(ACCESS_CHECK, "BenchAccessCheck", {"u": user})))
        access = data["effectiveAccess"]
        if access is None or not access["allowed"] or access["reasons"]:
            raise BenchFailure(f"effectiveAccess of user {where} {user} after setup: {access}")
        allowed = sorted(m["providerModelId"] for m in access["models"]["allowed"])
        default = (access["models"]["defaultModel"] or {}).get("providerModelId")
        want = sorted(pmid[i] for i in expected.allowed)
        if allowed != want or default != pmid[expected.model]:
            raise BenchFailure(
                f"effectiveAccess of user {where} {user} after setup: allowed {allowed}, default {default}; "
                f"expected allowed {want}, default {pmid[expected.model]}"
            )
        data = clean_data(await post_graphql(client, payload_of(EFFECTIVE_ACCESS, "Access", {"u": user})))
        access = data["effectiveAccess"]
        problem = "null" if access is None else access_problem(world, access, expected)
        if problem:
            raise BenchFailure(f"effectiveAccess of user {where} {user} after setup: {problem}: {access}")
    return len(world.kinds)


async def setup(base_url: str, admin_token: str, super_token: str, world: BudgetWorld) -> PolicyWorld:
    """Catalog and entitlements as super admin, policies as the account admin; fail on any userError."""
    async with make_client(base_url, super_token, 1) as client:
        models, flag_defaults = await _catalog(client, world.account_id)
    policy = PolicyWorld(world, models, [], flag_defaults)
    for o, org in enumerate(world.organizations):
        for t, team in enumerate(org.teams):
            for u, user in enumerate(team.users):
                e = expected_for(o, t, u, flag_defaults)
                e = policy.kinds.setdefault(repr(e), (e, user, (o, t, u)))[0]  # one object per kind
                policy.expected[user] = e
    async with make_client(base_url, admin_token, 1) as client:
        await _policies(client, policy)
        kinds = await _check_representatives(client, policy)
    policy.summary = (
        f"policy setup (API): {len(MODELS)} catalog models (1 IMAGE) as super admin, entitlements to "
        f"{len(ENTITLED)} of them; as the account admin, model access at the account (deny 1, default), 1 "
        f"organization (allow list of 3, default) and 1 team (default), feature flags at the account (locked), "
        f"3 teams and 1 user, {len(GUARDRAILS)} guardrails (enabled/enforced at the account and 2 organizations, "
        f"disabled at 1 team), a connection mode at 1 organization; effectiveAccess checked after setup for the "
        f"first user of each of the {kinds} kinds of placement"
    )
    return policy


# --- cases ----------------------------------------------------------------------------------------


def access_problem(world: PolicyWorld, access: dict[str, Any], expected: Expected) -> str | None:
    """What is wrong with an effectiveAccess answer (EFFECTIVE_ACCESS's selection), None when nothing."""
    if access["allowed"] is not True or access["reasons"]:
        return "not allowed"
    model = world.models[expected.model]
    got = access["model"]
    if got is None or access["modelChoice"] != "DEFAULT" or got != {k: model[k] for k in ("id", "providerModelId")}:
        return f"expected the DEFAULT model {model['providerModelId']}"
    remaining = access["budget"]["remaining"]
    if remaining is None or Decimal(remaining) <= 0 or access["bindingScope"] is None:
        return "expected budget remaining > 0 and a binding scope"
    flags = access["flags"]
    if len(flags) != len(expected.flags) or {f["flag"]: f["enabled"] for f in flags} != expected.flags:
        return f"expected flags {expected.flags}"
    guardrails = access["guardrails"]
    want = {world.guardrails[i]["id"]: (world.guardrails[i], *state) for i, state in expected.guardrails.items()}
    if (
        len(guardrails) != len(want)
        or {g["guardrail"]["id"]: (g["guardrail"], g["enabled"], g["enforced"]) for g in guardrails} != want
    ):
        return f"expected guardrails (definition, enabled, enforced) {list(want.values())}"
    if access["connectionMode"]["mode"] != expected.connection_mode:
        return f"expected connection mode {expected.connection_mode}"
    return None


def user_stride(users: int) -> int:
    """A step coprime with the number of users, about 0.79 of it: consecutive requests ask about users
    of different organizations and teams, and no user comes back before every other one was asked."""
    stride = max(1, round(users * 0.7919))
    while math.gcd(stride, users) != 1:
        stride += 1
    return stride


@dataclass(kw_only=True)
class EffectiveAccessCase(Case):
    """effectiveAccess(userId) for request `seq`: the seeded user ((offset + seq) × stride) mod users."""

    world: PolicyWorld
    offset: int

    def __post_init__(self) -> None:
        self.stride = user_stride(len(self.world.users))

    def _user(self, seq: int) -> str:
        users = self.world.users
        return users[(self.offset + seq) * self.stride % len(users)]

    def payload(self, seq: int) -> dict[str, Any]:
        return payload_of(EFFECTIVE_ACCESS, "Access", {"u": self._user(seq)})

    def check(self, data: dict[str, Any], seq: int) -> None:
        user = self._user(seq)
        access = data.get("effectiveAccess")
        if access is None:
            raise BenchFailure(f"{self.name}: effectiveAccess({user}) is null")
        if problem := access_problem(self.world, access, self.world.expected[user]):
            raise BenchFailure(f"{self.name}: effectiveAccess({user}): {problem}: {access}")


@dataclass(kw_only=True)
class FloorCase(Case):
    """The floor under every GraphQL request on this stack: `viewer { role }` authenticates the caller
    (one statement) and reads nothing else. No query the runtime can send is faster than this row."""

    def payload(self, seq: int) -> dict[str, Any]:
        return payload_of(FLOOR, "Floor", {})

    def check(self, data: dict[str, Any], seq: int) -> None:
        if (data.get("viewer") or {}).get("role") != "ACCOUNT_ADMIN":
            raise BenchFailure(f"{self.name}: viewer.role is not ACCOUNT_ADMIN: {data}")


def effective_access_cases(
    world: PolicyWorld, requests: int, seconds: float, concurrency: int, workers: int = 1
) -> list[Case]:
    """c=1 and c=`concurrency`; the second case starts half-way through the users, so that the two ask
    about different users as long as each sends at most half as many requests as there are users. Then
    the floor (FloorCase) at both concurrencies on the same server: what any query costs at least."""
    users = len(world.users)
    name = f"effectiveAccess ({users:,} users, each once)"
    return [
        EffectiveAccessCase(
            name=name,
            concurrency=c,
            max_requests=requests,
            max_seconds=seconds,
            workers=workers,
            world=world,
            offset=k * users // 2,
        )
        for k, c in enumerate((1, concurrency))
    ] + [
        FloorCase(
            name="GraphQL floor: viewer { role } (authentication only)",
            concurrency=c,
            max_requests=requests,
            max_seconds=seconds,
            workers=workers,
        )
        for c in (1, concurrency)
    ]
