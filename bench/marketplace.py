"""Marketplace setup through the real API, and the member's marketplace page cases (issue #5).

Setup (after the policy setup in a full run, whose guardrails it reuses: creating more would change
every effectiveAccess answer; with `--only marketplace` it creates the same two guardrails itself):
as super admin, 3 catalog models (provider model ids unique per run); as the account admin,
5 admin connections (SLACK, JIRA, GITHUB, CONFLUENCE, HTTP_API) assigned to the account, and
120 agents owned by the account, agent i with 0–2 connections (i mod 3), a model (none when
i mod 4 = 3), a category (none when i mod 6 = 5), 0–3 tags and 0–2 guardrail overrides. The member
is the first user of the 4th team of the 3rd organization ("Division 03" / "Team 04"). Agents 0–99
are published and assigned to a scope of the member's chain (account, organization, team, user by
i mod 4; INSTALLED when i mod 5 = 0, AVAILABLE otherwise; those with i mod 10 = 7 also AVAILABLE at
the account): that is the member's marketplace, 100 items. Agents 100–104 are published and assigned
outside the chain (another organization, another team of the member's organization, a teammate,
another organization's team), 105–114 published and not assigned, 115–119 left DRAFT: none of them
is visible to the member. The member then installs 20 of the 80 AVAILABLE ones (installAgent with
the member's own token). Every mutation must answer without userErrors. After the setup, the
member's marketplace must equal what the setup implies, item by item; `workspace` must hold the 20
INSTALLED and the 20 installed ones; and `marketplace(first: 5)` must cost as many SQL statements as
`marketplace(first: 100)` (the constant count of issue #5).

The cases (c=1 and c=`--concurrency`, one uvicorn worker) send the member's page
`marketplace(first: 100)` (MARKETPLACE_PAGE) and check every answer in full: totalCount and the
number of edges (100), and each item (via, mode, inWorkspace, removable, installed, and the agent's
id, name, description, category, tags, model, connections and guardrail overrides) in name order.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.budgets import USER_ERRORS, mutation_payload, payload_of
from bench.http import LeanClient
from bench.load import BenchFailure, Case, clean_data, make_client, post_graphql, statement_count

MARKETPLACE_PAGE = """
query MarketplacePage($first: Int!) {
  marketplace(first: $first) {
    totalCount
    edges {
      node {
        via mode inWorkspace removable installed
        agent {
          id name description category tags model { displayName } connections { id name type }
          guardrailOverrides { guardrail { name } state }
        }
      }
    }
  }
}
"""

WORKSPACE = "query BenchWorkspace { workspace(first: 100) { totalCount nodes { agent { id } } } }"

DIRECTORY = """
query BenchMarketDirectory {
  account {
    id
    organizations(first: 20) {
      nodes { id name teams(first: 10) { nodes { id name users(first: 2) { nodes { id email } } } } }
    }
  }
}
"""

VIEWER = "query BenchViewer { viewer { role user { id email homeTeam { id } organization { id } } } }"

CREATE_MODEL = f"""
mutation BenchMarketModel($input: CreateModelInput!) {{
  createModel(input: $input) {{ {USER_ERRORS} model {{ id displayName }} }}
}}
"""

CREATE_GUARDRAIL = f"""
mutation BenchMarketGuardrail($input: CreateGuardrailInput!) {{
  createGuardrail(input: $input) {{ {USER_ERRORS} guardrail {{ id name }} }}
}}
"""

CREATE_CONNECTION = f"""
mutation BenchMarketConnection($input: CreateConnectionInput!) {{
  createConnection(input: $input) {{ {USER_ERRORS} connection {{ id name type assignedTo {{ level id }} }} }}
}}
"""

CREATE_AGENT = f"""
mutation BenchMarketAgent($input: CreateAgentInput!) {{
  createAgent(input: $input) {{ {USER_ERRORS} agent {{ id status tags connectionIds }} }}
}}
"""

PUBLISH_AGENT = f"""
mutation BenchMarketPublish($input: PublishAgentInput!) {{
  publishAgent(input: $input) {{ {USER_ERRORS} agent {{ id status }} }}
}}
"""

ASSIGN_AGENT = f"""
mutation BenchMarketAssign($input: AssignAgentInput!) {{
  assignAgent(input: $input) {{ {USER_ERRORS} agent {{ id }} }}
}}
"""

INSTALL_AGENT = f"""
mutation BenchMarketInstall($input: InstallAgentInput!) {{
  installAgent(input: $input) {{ {USER_ERRORS} item {{ installed inWorkspace removable }} }}
}}
"""

MODELS = (("OPENAI", "Market GPT"), ("ANTHROPIC", "Market Claude"), ("MISTRAL", "Market Mistral"))
# The first two guardrails of bench.policies.GUARDRAILS (created here only with --only marketplace).
GUARDRAILS = (
    ("bench PII", "PII_REDACTION", "REDACT", {"entities": ["EMAIL"]}),
    ("bench injection", "PROMPT_INJECTION", "BLOCK", {}),
)
CONNECTIONS = (
    ("market slack", "SLACK", {"workspace": "acme"}),
    ("market jira", "JIRA", {"baseUrl": "https://acme.atlassian.net", "projectKeys": ["OPS"]}),
    ("market github", "GITHUB", {"organization": "acme"}),
    ("market confluence", "CONFLUENCE", {"baseUrl": "https://acme.atlassian.net/wiki"}),
    ("market api", "HTTP_API", {"baseUrl": "https://api.acme.example"}),
)
CATEGORIES = ("Engineering", "Sales", "Support", "Finance", "Legal", None)
TAGS = ("code", "review", "crm", "docs", "triage", "reports", "search")

AGENTS = 120
VISIBLE = 100  # agents 0..99: assigned to the member's chain
OUTSIDE = range(100, 105)  # published, assigned outside the member's chain
UNASSIGNED = range(105, 115)  # published, not assigned
DRAFTS = range(115, 120)  # never published
INSTALLS = 20
MEMBER = (2, 3)  # (organization, team) index of the member: "Division 03" / "Team 04", its first user
CHAIN = ("account", "organization", "team", "user")


@dataclass
class Directory:
    account: str
    organizations: list[str]
    teams: list[list[str]]  # by organization
    member: str  # user id
    member_email: str
    teammate: str


@dataclass
class MarketplaceWorld:
    member_token: str
    expected: list[dict[str, Any]]  # the page's nodes, in name order
    summary: str = ""
    agents: list[str] = field(default_factory=list)

    @property
    def visible(self) -> int:
        return len(self.expected)


async def _call(client: LeanClient, query: str, field_name: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run one mutation; fail on errors or userErrors; return its payload."""
    operation = query.split("(", 1)[0].split()[-1]
    data = clean_data(await post_graphql(client, payload_of(query, operation, variables)))
    return mutation_payload(data, field_name)


async def _query(client: LeanClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    operation = query.split("{", 1)[0].split("(", 1)[0].split()[-1]
    return clean_data(await post_graphql(client, payload_of(query, operation, variables or {})))


async def _directory(admin: LeanClient) -> Directory:
    account = (await _query(admin, DIRECTORY))["account"]
    orgs = account["organizations"]["nodes"]
    o, t = MEMBER
    if len(orgs) <= o or len(orgs[o]["teams"]["nodes"]) <= t:
        raise BenchFailure(f"the seeded directory is too small for the marketplace setup: {len(orgs)} organizations")
    users = orgs[o]["teams"]["nodes"][t]["users"]["nodes"]
    if len(users) < 2:
        raise BenchFailure(f"the member's team has {len(users)} users: the setup needs a teammate")
    return Directory(
        account=account["id"],
        organizations=[org["id"] for org in orgs],
        teams=[[team["id"] for team in org["teams"]["nodes"]] for org in orgs],
        member=users[0]["id"],
        member_email=users[0]["email"],
        teammate=users[1]["id"],
    )


def _agent_input(
    i: int, models: list[str], connections: list[str], guardrails: list[str], owner: str
) -> dict[str, Any]:
    pii, injection = guardrails
    overrides = (
        [{"guardrailId": pii, "state": "ENABLED"}],
        [{"guardrailId": injection, "state": "ENABLED"}, {"guardrailId": pii, "state": "DISABLED"}],
        [],
        [],
    )[i % 4]
    category = CATEGORIES[i % len(CATEGORIES)]
    chosen = [connections[(i + k) % len(connections)] for k in range(i % 3)]
    return {
        "name": f"Market agent {i:03}",
        "ownerId": owner,
        "description": f"Bench marketplace agent {i}: a {(category or 'general').lower()} helper "
        f"with {len(chosen)} connection(s).",
        "category": category,
        "tags": [TAGS[(i + k) % len(TAGS)] for k in range(i % 4)],
        "instructions": f"You are bench agent {i}.",
        "modelId": models[i % 4] if i % 4 < len(models) else None,
        "connectionIds": chosen,
        "guardrailOverrides": overrides,
    }


def _assignments(i: int, d: Directory) -> list[tuple[str, str]]:
    """(scope id, mode) of agent i."""
    o, t = MEMBER
    chain = {"account": d.account, "organization": d.organizations[o], "team": d.teams[o][t], "user": d.member}
    if i < VISIBLE:
        out = [(chain[CHAIN[i % 4]], "INSTALLED" if i % 5 == 0 else "AVAILABLE")]
        if i % 10 == 7:  # also at the account (primary scope: the organization or the user)
            out.append((d.account, "AVAILABLE"))
        return out
    if i in OUTSIDE:
        other_team = (t + 1) % len(d.teams[o])
        return [
            [(d.organizations[0], "AVAILABLE")],
            [(d.teams[o][other_team], "INSTALLED")],
            [(d.teammate, "AVAILABLE")],
            [(d.teams[0][0], "INSTALLED")],
            [(d.organizations[1], "INSTALLED")],
        ][i - OUTSIDE.start]
    return []


def _mode(assigned: list[tuple[str, str]]) -> str:
    return "INSTALLED" if any(mode == "INSTALLED" for _, mode in assigned) else "AVAILABLE"


def expected_node(
    agent_id: str,
    spec: dict[str, Any],
    mode: str,
    installed: bool,
    models: dict[str, str],
    connections: dict[str, dict[str, str]],
    guardrails: dict[str, str],
) -> dict[str, Any]:
    """What the member's page must show for a visible agent (ASSIGNED to their chain)."""
    overrides = sorted(
        ((guardrails[o["guardrailId"]], o["guardrailId"], o["state"]) for o in spec["guardrailOverrides"]),
    )
    model = spec["modelId"]
    return {
        "via": "ASSIGNED",
        "mode": mode,
        "inWorkspace": mode == "INSTALLED" or installed,
        "removable": mode == "AVAILABLE",
        "installed": installed,
        "agent": {
            "id": agent_id,
            "name": spec["name"],
            "description": spec["description"],
            "category": spec["category"],
            "tags": spec["tags"],
            "model": None if model is None else {"displayName": models[model]},
            "connections": [connections[c] for c in spec["connectionIds"]],
            "guardrailOverrides": [{"guardrail": {"name": name}, "state": state} for name, _, state in overrides],
        },
    }


async def _catalog(client: LeanClient) -> dict[str, str]:
    """As super admin: 3 catalog models; model id → display name."""
    tag = secrets.token_hex(4)
    models = {}
    for i, (provider, name) in enumerate(MODELS):
        model_input = {
            "provider": provider,
            "providerModelId": f"bench-{tag}-market-{i}",
            "displayName": name,
            "capabilities": ["CHAT"],
        }
        model = (await _call(client, CREATE_MODEL, "createModel", {"input": model_input}))["model"]
        if model is None or model["displayName"] != name:
            raise BenchFailure(f"createModel {model_input}: unexpected model {model}")
        models[model["id"]] = name
    return models


async def _guardrails(client: LeanClient) -> list[tuple[str, str]]:
    out = []
    for name, kind, mode, config in GUARDRAILS:
        guardrail_input = {"name": name, "type": kind, "mode": mode, "config": config}
        guardrail = (await _call(client, CREATE_GUARDRAIL, "createGuardrail", {"input": guardrail_input}))["guardrail"]
        if guardrail is None or guardrail["name"] != name:
            raise BenchFailure(f"createGuardrail {guardrail_input}: unexpected guardrail {guardrail}")
        out.append((guardrail["id"], name))
    return out


async def _connections(client: LeanClient, account: str) -> dict[str, dict[str, str]]:
    """5 admin connections assigned to the account; id → {id, name, type} (the page's selection)."""
    out = {}
    for name, kind, config in CONNECTIONS:
        connection_input = {"name": name, "type": kind, "config": config, "scopeId": account}
        made = (await _call(client, CREATE_CONNECTION, "createConnection", {"input": connection_input}))["connection"]
        if made is None or made["type"] != kind or made["assignedTo"] != [{"level": "ACCOUNT", "id": account}]:
            raise BenchFailure(f"createConnection {connection_input}: unexpected connection {made}")
        out[made["id"]] = {"id": made["id"], "name": made["name"], "type": kind}
    return out


async def _member(client: LeanClient, d: Directory) -> None:
    """The member's token is theirs: a MEMBER in the expected team (this first request links the identity)."""
    viewer = (await _query(client, VIEWER))["viewer"]
    user = viewer["user"] or {}
    o, t = MEMBER
    if (
        viewer["role"] != "MEMBER"
        or user.get("id") != d.member
        or user["homeTeam"]["id"] != d.teams[o][t]
        or user["organization"]["id"] != d.organizations[o]
    ):
        raise BenchFailure(f"the member token of {d.member_email} resolved to {viewer}")


async def _check_after_setup(member: LeanClient, world: MarketplaceWorld, in_workspace: int) -> str:
    """The page equals the expectation; the workspace holds what it should; first 5 costs as much as first 100."""
    counts = {}
    for first in (5, VISIBLE):
        response = await post_graphql(member, payload_of(MARKETPLACE_PAGE, "MarketplacePage", {"first": first}))
        data = clean_data(response)
        if problem := page_problem(data, world.expected, first):
            raise BenchFailure(f"the member's marketplace(first: {first}) after setup: {problem}")
        counts[first] = statement_count(response)
    if counts[5] != counts[VISIBLE]:
        raise BenchFailure(f"marketplace(first: 5) cost {counts[5]} statements, first: {VISIBLE} {counts[VISIBLE]}")
    workspace = (await _query(member, WORKSPACE))["workspace"]
    want = sorted(n["agent"]["id"] for n in world.expected if n["inWorkspace"])
    got = sorted(n["agent"]["id"] for n in workspace["nodes"])
    if workspace["totalCount"] != in_workspace or got != want:
        raise BenchFailure(f"the member's workspace after setup: {workspace['totalCount']} agents, expected {want}")
    return f"{counts[VISIBLE]} SQL statements for marketplace(first: 5) and (first: {VISIBLE}) alike"


async def setup(
    base_url: str,
    admin_token: str,
    super_token: str,
    user_token: Callable[[str], str],
    guardrails: list[tuple[str, str]] | None = None,
) -> MarketplaceWorld:
    """Models as super admin, connections and agents as the account admin, installs as the member;
    fail on any userError. `guardrails`: (id, name) of two existing guardrails to override (PII,
    injection), else they are created. `user_token(email)` mints a token for a seeded user."""
    async with make_client(base_url, super_token, 1) as client:
        models = await _catalog(client)
    model_ids = list(models)
    async with make_client(base_url, admin_token, 1) as admin:
        d = await _directory(admin)
        if guardrails is None:
            guardrails = await _guardrails(admin)
        connections = await _connections(admin, d.account)
        names = dict(guardrails)
        specs, agent_ids = [], []
        for i in range(AGENTS):
            spec = _agent_input(i, model_ids, list(connections), [g for g, _ in guardrails], d.account)
            agent = (await _call(admin, CREATE_AGENT, "createAgent", {"input": spec}))["agent"]
            if (
                agent is None
                or agent["status"] != "DRAFT"
                or agent["tags"] != spec["tags"]
                or agent["connectionIds"] != spec["connectionIds"]
            ):
                raise BenchFailure(f"createAgent {spec['name']}: unexpected agent {agent}")
            specs.append(spec)
            agent_ids.append(agent["id"])
            if i in DRAFTS:
                continue
            published = (await _call(admin, PUBLISH_AGENT, "publishAgent", {"input": {"id": agent["id"]}}))["agent"]
            if published is None or published["status"] != "PUBLISHED":
                raise BenchFailure(f"publishAgent {spec['name']}: unexpected agent {published}")
            for scope, mode in _assignments(i, d):
                assign = {"agentId": agent["id"], "scopeId": scope, "mode": mode}
                await _call(admin, ASSIGN_AGENT, "assignAgent", {"input": assign})

    modes = [_mode(_assignments(i, d)) for i in range(VISIBLE)]
    available = [i for i in range(VISIBLE) if modes[i] == "AVAILABLE"]
    installs = set(available[:: len(available) // INSTALLS][:INSTALLS])
    member_token = user_token(d.member_email)
    async with make_client(base_url, member_token, 1) as member:
        await _member(member, d)
        for i in sorted(installs):
            item = (await _call(member, INSTALL_AGENT, "installAgent", {"input": {"agentId": agent_ids[i]}}))["item"]
            if item != {"installed": True, "inWorkspace": True, "removable": True}:
                raise BenchFailure(f"installAgent {specs[i]['name']} as the member: unexpected item {item}")
        expected = [
            expected_node(agent_ids[i], specs[i], modes[i], i in installs, models, connections, names)
            for i in range(VISIBLE)
        ]
        world = MarketplaceWorld(member_token, expected, agents=agent_ids)
        in_workspace = sum(1 for node in expected if node["inWorkspace"])
        statements = await _check_after_setup(member, world, in_workspace)
    installed_mode = modes.count("INSTALLED")
    world.summary = (
        f"marketplace setup (API): {len(MODELS)} catalog models as super admin; as the account admin "
        f"{len(CONNECTIONS)} admin connections assigned to the account and {AGENTS} agents owned by the account "
        f"(0–2 connections, {len(CATEGORIES) - 1} categories, 0–3 tags, 0–2 guardrail overrides), "
        f"{AGENTS - len(DRAFTS)} published, {VISIBLE} assigned to the member's chain (account, organization, team, "
        f"user; {installed_mode} INSTALLED, {VISIBLE - installed_mode} AVAILABLE), {len(OUTSIDE)} outside it, "
        f"{len(UNASSIGNED)} unassigned, {len(DRAFTS)} DRAFT; the member ({d.member_email}) installed {len(installs)}: "
        f"{world.visible} items in their marketplace, {in_workspace} in their workspace; {statements}"
    )
    return world


# --- cases ----------------------------------------------------------------------------------------


def page_problem(data: dict[str, Any], expected: list[dict[str, Any]], first: int) -> str | None:
    """What is wrong with a marketplace page (MARKETPLACE_PAGE's selection), None when nothing."""
    page = data.get("marketplace")
    if page is None:
        return "marketplace is null"
    if page["totalCount"] != len(expected):
        return f"totalCount {page['totalCount']}, expected {len(expected)}"
    nodes = [edge["node"] for edge in page["edges"]]
    want = expected[:first]
    if len(nodes) != len(want):
        return f"{len(nodes)} items, expected {len(want)}"
    if nodes != want:
        i = next(k for k, (got, exp) in enumerate(zip(nodes, want, strict=True)) if got != exp)
        return f"item {i} is {nodes[i]}, expected {want[i]}"
    return None


@dataclass(kw_only=True)
class MarketplacePageCase(Case):
    """The member's marketplace(first: 100): every item checked against the setup."""

    world: MarketplaceWorld

    def payload(self, seq: int) -> dict[str, Any]:
        return payload_of(MARKETPLACE_PAGE, "MarketplacePage", {"first": VISIBLE})

    def check(self, data: dict[str, Any], seq: int) -> None:
        if problem := page_problem(data, self.world.expected, VISIBLE):
            raise BenchFailure(f"{self.name}: {problem}")


def marketplace_cases(world: MarketplaceWorld, requests: int, seconds: float, concurrency: int) -> list[Case]:
    name = f"member marketplace page, {world.visible} agents (of {AGENTS})"
    return [
        MarketplacePageCase(name=name, concurrency=c, max_requests=requests, max_seconds=seconds, world=world)
        for c in (1, concurrency)
    ]
