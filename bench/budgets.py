"""Budget cases: setup through the real API, the members page with effective allocations, usage
recording (single and batches of 1,000), authorizations, and the exactness check of the ledger.

Setup (admin token, after the directory cases): setBudgetPlan (1e9 credits per cycle, renewal day 1,
BLOCK; it opens the current cycle with its GRANT), setDefaultUserCap on the account, setBudgetCap on
two organizations, three teams and one user. The caps are far above what the bench spends: no
billing notice is raised, so every request of a case does the same work.

Every usage event sent has a distinct idempotency key and a cost of k × 1e-10 USD (k in
1,000..99,999): its credits (× 1,000 credits per USD) have 7 decimals and are rounded half-up to 6,
about one event in ten being an exact tie. The bench computes every event's credits itself,
checks the server's value event by event, and sums them; `verify_ledger` then requires
ledgerReconciliation to be clean for every cycle and included + overflow to equal that sum exactly.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bench.http import LeanClient
from bench.load import BenchFailure, Case, clean_data, make_client, post_graphql
from bench.seed import TenantShape

CREDITS_PER_USD = Decimal(1000)  # the seeded account's factor (bench/seed.py INSERT_ACCOUNT)
CREDIT_QUANTUM = Decimal("0.000001")
PLAN_CREDITS = Decimal(1_000_000_000)
DEFAULT_USER_CAP = Decimal(1000)
ORG_CAPS = {0: Decimal(1_000_000), 1: Decimal(500_000)}  # by organization index ("Division 01", …)
TEAM_CAPS = {(0, 0): Decimal(100_000), (0, 1): Decimal(50_000), (1, 0): Decimal(20_000)}
USER_CAP = ((0, 1, 0), Decimal(2000))  # (organization, team, user) index, credits
HOLD_CREDITS = Decimal("0.001")
HOLD_TTL_S = 60
BATCH_SIZE = 1000
MEMBERS_TEAMS, MEMBERS_USERS = 2, 50
TRACE_LEVELS = ("ACCOUNT", "ORGANIZATION", "TEAM", "USER")
# Analyzed (as autoanalyze would) before the ledger is reconciled: without statistics the planner
# estimates one row per cycle and ledgerReconciliation's statement goes quadratic (minutes at 24,000
# events); bench.run --no-budget-analyze skips it to show that.
BUDGET_TABLES = (
    "budget_plans",
    "budget_cycles",
    "budget_caps",
    "budget_counters",
    "budget_reservations",
    "usage_events",
    "ledger_entries",
)

USER_ERRORS = "userErrors { field code message }"

IDS_QUERY = """
query BenchIds($orgs: Int!, $teams: Int!, $users: Int!) {
  account {
    id
    organizations(first: $orgs) {
      nodes { id name teams(first: $teams) { nodes { id name users(first: $users) { nodes { id } } } } }
    }
  }
}
"""

SET_PLAN = f"""
mutation BenchPlan($input: SetBudgetPlanInput!) {{
  setBudgetPlan(input: $input) {{ {USER_ERRORS} plan {{ version creditsPerCycle renewalDay overflowPolicy }} }}
}}
"""

SET_DEFAULT_USER_CAP = f"""
mutation BenchDefaultCap($input: SetBudgetCapInput!) {{
  setDefaultUserCap(input: $input) {{ {USER_ERRORS} settings {{ cap defaultUserCap }} }}
}}
"""

SET_CAP = f"""
mutation BenchCap($input: SetBudgetCapInput!) {{
  setBudgetCap(input: $input) {{ {USER_ERRORS} settings {{ cap defaultUserCap }} }}
}}
"""

BUDGET_STATE = """
query BenchBudgetState {
  account {
    budgetPlan { version creditsPerCycle }
    currentCycle { id status }
    budgetSettings { defaultUserCap }
    effectiveAllocation { spent reserved }
  }
}
"""

MEMBERS_PAGE = """
query MembersPage($org: ID!, $teams: Int!, $users: Int!) {
  node(id: $org) {
    ... on Organization {
      name
      teams(first: $teams) {
        nodes {
          name
          users(first: $users) {
            nodes {
              email
              effectiveAllocation {
                remaining
                capSource
                bindingScope { level }
                trace { cap spent headroom }
              }
              effectiveModels { allowed { providerModelId } defaultModel { providerModelId } }
            }
          }
        }
      }
    }
  }
}
"""

EVENT_FIELDS = "replayed event { idempotencyKey credits includedCredits overflowCredits }"

RECORD_USAGE = f"""
mutation RecordUsage($input: UsageEventInput!) {{
  recordUsage(input: $input) {{ {USER_ERRORS} result {{ {EVENT_FIELDS} }} }}
}}
"""

RECORD_USAGE_BATCH = f"""
mutation RecordUsageBatch($input: RecordUsageBatchInput!) {{
  recordUsageBatch(input: $input) {{ {USER_ERRORS} results {{ {EVENT_FIELDS} }} }}
}}
"""

AUTHORIZE_USAGE = f"""
mutation AuthorizeUsage($input: AuthorizeUsageInput!) {{
  authorizeUsage(input: $input) {{
    {USER_ERRORS}
    authorization {{
      allowed reason bindingScope {{ level }} reservation {{ credits status }} allocation {{ remaining }}
    }}
  }}
}}
"""

RECONCILIATION = """
query BenchReconciliation {
  account {
    ledgerReconciliation {
      cycleId status pool included overflow ledgerBalance clean
      differences { check expected actual scope { level id } }
    }
    effectiveAllocation { spent reserved }
  }
}
"""


def expected_credits(cost_usd: Decimal) -> Decimal:
    """costUsd × creditsPerUsd, unrounded, then half-up to 6 decimals (computed here, not by the product)."""
    return (cost_usd * CREDITS_PER_USD).quantize(CREDIT_QUANTUM, rounding=ROUND_HALF_UP)


def payload_of(query: str, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    return {"query": query, "variables": variables, "operationName": operation}


def mutation_payload(data: dict[str, Any], field_name: str) -> dict[str, Any]:
    """The payload of `field_name`; fail on userErrors."""
    payload = data.get(field_name)
    if payload is None:
        raise BenchFailure(f"{field_name} returned null")
    if payload["userErrors"]:
        raise BenchFailure(f"{field_name} userErrors: {payload['userErrors']}")
    return payload  # type: ignore[no-any-return]


@dataclass
class Team:
    id: str
    name: str
    users: list[str]


@dataclass
class Organization:
    id: str
    name: str
    teams: list[Team]


@dataclass
class UsageTally:
    """Every usage event the server accepted (replayed false, exact credits): count and credit sum."""

    events: int = 0
    credits: Decimal = Decimal(0)

    def add(self, credits: Decimal) -> None:
        self.events += 1
        self.credits += credits


@dataclass
class BudgetWorld:
    account_id: str
    organizations: list[Organization]
    tally: UsageTally = field(default_factory=UsageTally)
    holds: int = 0
    summary: str = ""

    @property
    def users(self) -> list[str]:
        return [u for org in self.organizations for team in org.teams for u in team.users]


async def _run(client: LeanClient, query: str, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    return clean_data(await post_graphql(client, payload_of(query, operation, variables)))


async def _fetch_directory(client: LeanClient, shape: TenantShape) -> BudgetWorld:
    variables = {"orgs": shape.organizations, "teams": shape.teams_per_organization, "users": shape.users_per_team}
    account = (await _run(client, IDS_QUERY, "BenchIds", variables))["account"]
    orgs = [
        Organization(
            o["id"],
            o["name"],
            [Team(t["id"], t["name"], [u["id"] for u in t["users"]["nodes"]]) for t in o["teams"]["nodes"]],
        )
        for o in account["organizations"]["nodes"]
    ]
    world = BudgetWorld(account["id"], orgs)
    if len(world.users) != shape.users:
        raise BenchFailure(f"fetched {len(world.users)} user ids, expected {shape.users}")
    return world


async def _set(
    client: LeanClient, query: str, operation: str, field_name: str, scope: str, credits: Decimal
) -> dict[str, Any]:
    variables = {"input": {"scopeId": scope, "credits": str(credits)}}
    return mutation_payload(await _run(client, query, operation, variables), field_name)


async def setup(base_url: str, token: str, shape: TenantShape) -> BudgetWorld:
    """Plan, default user cap and caps through the API (admin token); check the cycle and its GRANT."""
    async with make_client(base_url, token, 1) as client:
        world = await _fetch_directory(client, shape)
        plan_input = {"creditsPerCycle": str(PLAN_CREDITS), "renewalDay": 1, "overflowPolicy": "BLOCK"}
        plan = mutation_payload(await _run(client, SET_PLAN, "BenchPlan", {"input": plan_input}), "setBudgetPlan")
        if plan["plan"]["version"] != 1 or Decimal(plan["plan"]["creditsPerCycle"]) != PLAN_CREDITS:
            raise BenchFailure(f"unexpected plan: {plan['plan']}")
        await _set(
            client, SET_DEFAULT_USER_CAP, "BenchDefaultCap", "setDefaultUserCap", world.account_id, DEFAULT_USER_CAP
        )
        caps = 0
        for o, credits in ORG_CAPS.items():
            await _set(client, SET_CAP, "BenchCap", "setBudgetCap", world.organizations[o].id, credits)
            caps += 1
        for (o, t), credits in TEAM_CAPS.items():
            await _set(client, SET_CAP, "BenchCap", "setBudgetCap", world.organizations[o].teams[t].id, credits)
            caps += 1
        (o, t, u), credits = USER_CAP
        await _set(client, SET_CAP, "BenchCap", "setBudgetCap", world.organizations[o].teams[t].users[u], credits)
        caps += 1
        state = (await _run(client, BUDGET_STATE, "BenchBudgetState", {}))["account"]
        if state["currentCycle"] is None or state["currentCycle"]["status"] != "OPEN":
            raise BenchFailure(f"setBudgetPlan opened no cycle: {state}")
        if Decimal(state["budgetSettings"]["defaultUserCap"]) != DEFAULT_USER_CAP:
            raise BenchFailure(f"default user cap not stored: {state['budgetSettings']}")
        reconciliation = await ledger_state(client)
        pools = [Decimal(c["pool"]) for c in reconciliation["ledgerReconciliation"]]
        if pools != [PLAN_CREDITS]:
            raise BenchFailure(f"expected one cycle whose pool is the GRANT of {PLAN_CREDITS}, got {pools}")
    world.summary = (
        f"budget setup (API): setBudgetPlan {PLAN_CREDITS:,} credits/cycle, renewal day 1, BLOCK (cycle OPEN, "
        f"GRANT = pool {PLAN_CREDITS:,}); setDefaultUserCap {DEFAULT_USER_CAP:,} on the account; "
        f"setBudgetCap on {caps} scopes (2 organizations, 3 teams, 1 user)"
    )
    return world


async def ledger_state(client: LeanClient) -> dict[str, Any]:
    return (await _run(client, RECONCILIATION, "BenchReconciliation", {}))["account"]  # type: ignore[no-any-return]


async def verify_ledger(base_url: str, token: str, world: BudgetWorld, when: str) -> str:
    """ledgerReconciliation clean for every cycle; included + overflow = Σ credits sent, exactly; the
    open cycle's balance = pool − included − overflow; the account's spent/reserved = what was sent/held."""
    started = time.perf_counter()
    async with make_client(base_url, token, 1) as client:
        state = await ledger_state(client)
    took_ms = (time.perf_counter() - started) * 1000
    cycles = state["ledgerReconciliation"]
    if not cycles:
        raise BenchFailure(f"ledgerReconciliation {when}: no cycle")
    dirty = [c for c in cycles if not c["clean"]]
    if dirty:
        raise BenchFailure(f"ledgerReconciliation {when}: not clean: {dirty}")
    included = sum((Decimal(c["included"]) for c in cycles), Decimal(0))
    overflow = sum((Decimal(c["overflow"]) for c in cycles), Decimal(0))
    expected = world.tally.credits
    if included + overflow != expected:
        raise BenchFailure(
            f"ledgerReconciliation {when}: included {included} + overflow {overflow} = {included + overflow}, "
            f"expected exactly {expected} (Σ of {world.tally.events} events sent)"
        )
    for c in cycles:
        balance = Decimal(c["pool"]) - Decimal(c["included"]) - Decimal(c["overflow"])
        if c["status"] == "OPEN" and Decimal(c["ledgerBalance"]) != balance:
            raise BenchFailure(f"ledgerReconciliation {when}: balance {c['ledgerBalance']} ≠ pool − usage {balance}")
    spent, reserved = (Decimal(state["effectiveAllocation"][k]) for k in ("spent", "reserved"))
    held = HOLD_CREDITS * world.holds
    expired, rest = divmod(held - reserved, HOLD_CREDITS)  # holds past their TTL that authorizeUsage expired
    if spent != expected or reserved > held or rest:
        raise BenchFailure(
            f"account effectiveAllocation {when}: spent {spent} / reserved {reserved}, expected {expected} / {held}"
        )
    return (
        f"ledgerReconciliation {when} ({took_ms:.0f} ms): {len(cycles)} cycle(s), all clean; "
        f"included {included} + overflow {overflow} = Σ credits of the {world.tally.events:,} events sent "
        f"({expected}), exactly; account "
        f"effectiveAllocation spent {spent}, reserved {reserved} ({world.holds:,} holds × {HOLD_CREDITS}"
        + (f", {expired:,} of them expired" if expired else "")
        + ")"
    )


# --- cases ----------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class MembersPageCase(Case):
    """One organization's first 2 teams × 50 users, each with its effective allocation and trace and its
    effective models."""

    world: BudgetWorld

    def payload(self, seq: int) -> dict[str, Any]:
        variables = {"org": self.world.organizations[0].id, "teams": MEMBERS_TEAMS, "users": MEMBERS_USERS}
        return payload_of(MEMBERS_PAGE, "MembersPage", variables)

    def check(self, data: dict[str, Any], seq: int) -> None:
        org = data.get("node")
        if org is None:
            raise BenchFailure("members page: node(id: organization) is null")
        teams = org["teams"]["nodes"]
        users = [u for team in teams for u in team["users"]["nodes"]]
        if len(teams) != MEMBERS_TEAMS or len(users) != MEMBERS_TEAMS * MEMBERS_USERS:
            raise BenchFailure(f"members page: {len(teams)} teams, {len(users)} users")
        overrides = 0
        for user in users:
            a = user["effectiveAllocation"]
            if a is None:
                raise BenchFailure(f"members page: {user['email']} has no effectiveAllocation")
            if (
                a["remaining"] is None
                or a["bindingScope"] is None
                or a["capSource"] not in ("DEFAULT", "OVERRIDE")
                or len(a["trace"]) != len(TRACE_LEVELS)
            ):
                raise BenchFailure(f"members page: unexpected allocation of {user['email']}: {a}")
            overrides += a["capSource"] == "OVERRIDE"
            if not isinstance(user["effectiveModels"]["allowed"], list):
                raise BenchFailure(f"members page: no effective models for {user['email']}")
        if overrides != 1:  # USER_CAP is on the first user of the second team; the others get the default
            raise BenchFailure(f"members page: {overrides} users with an OVERRIDE cap, expected 1")


@dataclass(kw_only=True)
class _UsageCase(Case):
    world: BudgetWorld
    tag: str
    _sent: dict[int, list[tuple[str, Decimal]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"bench-usage-{self.tag}")  # reproducible users and costs per case

    def _events(self, seq: int, count: int) -> list[dict[str, Any]]:
        users = self.world.users
        events, sent = [], []
        for i in range(count):
            key = f"bench-{self.tag}-{seq:06d}-{i:04d}"
            cost = Decimal(self.rng.randint(1_000, 99_999)).scaleb(-10)
            events.append({"idempotencyKey": key, "userId": self.rng.choice(users), "costUsd": format(cost, "f")})
            sent.append((key, expected_credits(cost)))
        self._sent[seq] = sent
        return events

    def _check_results(self, results: list[dict[str, Any]], seq: int) -> None:
        sent = self._sent.pop(seq)
        if len(results) != len(sent):
            raise BenchFailure(f"{self.name}: {len(results)} results for {len(sent)} events")
        for result, (key, credits) in zip(results, sent, strict=True):
            event = result["event"]
            if result["replayed"] or event["idempotencyKey"] != key:
                raise BenchFailure(f"{self.name}: event {key} replayed or out of order: {result}")
            got = Decimal(event["credits"])
            if got != credits or Decimal(event["includedCredits"]) + Decimal(event["overflowCredits"]) != got:
                raise BenchFailure(f"{self.name}: event {key}: credits {event}, expected {credits}")
            self.world.tally.add(credits)


@dataclass(kw_only=True)
class RecordUsageCase(_UsageCase):
    def payload(self, seq: int) -> dict[str, Any]:
        (event,) = self._events(seq, 1)
        return payload_of(RECORD_USAGE, "RecordUsage", {"input": event})

    def check(self, data: dict[str, Any], seq: int) -> None:
        self._check_results([mutation_payload(data, "recordUsage")["result"]], seq)


@dataclass(kw_only=True)
class RecordUsageBatchCase(_UsageCase):
    def payload(self, seq: int) -> dict[str, Any]:
        events = self._events(seq, BATCH_SIZE)
        return payload_of(RECORD_USAGE_BATCH, "RecordUsageBatch", {"input": {"events": events}})

    def check(self, data: dict[str, Any], seq: int) -> None:
        self._check_results(mutation_payload(data, "recordUsageBatch")["results"], seq)


@dataclass(kw_only=True)
class AuthorizeUsageCase(Case):
    world: BudgetWorld
    rng: random.Random = field(default_factory=lambda: random.Random(1126))

    def payload(self, seq: int) -> dict[str, Any]:
        variables = {
            "userId": self.rng.choice(self.world.users),
            "estimatedCredits": str(HOLD_CREDITS),
            "ttlSeconds": HOLD_TTL_S,
            "modelId": "bench-model",
        }
        return payload_of(AUTHORIZE_USAGE, "AuthorizeUsage", {"input": variables})

    def check(self, data: dict[str, Any], seq: int) -> None:
        auth = mutation_payload(data, "authorizeUsage")["authorization"]
        if auth is None or not auth["allowed"]:
            raise BenchFailure(f"{self.name}: not allowed: {auth}")
        hold = auth["reservation"]
        if hold is None or hold["status"] != "HELD" or Decimal(hold["credits"]) != HOLD_CREDITS:
            raise BenchFailure(f"{self.name}: unexpected reservation: {hold}")
        if auth["allocation"] is None:
            raise BenchFailure(f"{self.name}: no allocation in the authorization")
        self.world.holds += 1


def members_cases(world: BudgetWorld, requests: int, seconds: float, concurrency: int) -> list[Case]:
    name = f"members page + effectiveAllocation + effectiveModels, {MEMBERS_TEAMS * MEMBERS_USERS} users (1 org: 2x50)"
    return [
        MembersPageCase(name=name, concurrency=c, max_requests=requests, max_seconds=seconds, world=world)
        for c in (1, concurrency)
    ]


def usage_cases(
    world: BudgetWorld,
    requests: int,
    seconds: float,
    concurrency: int,
    batch_requests: int,
    batch_concurrency: int,
) -> list[Case]:
    single = "recordUsage (1 event)"
    cases: list[Case] = [
        RecordUsageCase(
            name=single,
            concurrency=c,
            max_requests=requests,
            max_seconds=seconds,
            events_per_request=1,
            statements_may_vary=True,
            world=world,
            tag=f"r{c}",
        )
        for c in (1, concurrency)
    ]
    cases += [batch_case(world, batch_requests, seconds, c, f"b{c}") for c in dict.fromkeys((1, batch_concurrency))]
    return cases


def batch_case(
    world: BudgetWorld, requests: int, seconds: float, concurrency: int, tag: str, workers: int = 1
) -> RecordUsageBatchCase:
    """The recordUsageBatch case (BATCH_SIZE events a request). `tag` keeps its idempotency keys apart from
    every other case's, so every event it sends is new."""
    return RecordUsageBatchCase(
        name=f"recordUsageBatch ({BATCH_SIZE:,} events)",
        concurrency=concurrency,
        max_requests=requests,
        max_seconds=seconds,
        events_per_request=BATCH_SIZE,
        statements_may_vary=True,
        world=world,
        tag=tag,
        workers=workers,
    )


def authorize_cases(world: BudgetWorld, requests: int, seconds: float, concurrency: int) -> list[Case]:
    name = f"authorizeUsage (hold {HOLD_CREDITS} credits, ttl {HOLD_TTL_S} s)"
    return [
        AuthorizeUsageCase(name=name, concurrency=c, max_requests=requests, max_seconds=seconds, world=world)
        for c in (1, concurrency)
    ]
