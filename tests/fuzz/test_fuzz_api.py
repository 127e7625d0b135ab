"""Fuzzing the running server: hypothesis-graphql generates valid queries and mutations from the
server's own introspection answer (the SDL file carries federation's `@link`, which it refuses) and sends
them with a real token of each role. Every response must be free of HTTP 500s, of errors without
`extensions.code`, of INTERNAL errors (an unexpected exception, even masked, is a bug to fix: its
stack trace is in the test's log output), and, for
account roles, of any id, name or email of another account.

The server runs on a database of its own (created and migrated here, dropped after): mutations of a
super admin touch platform rows (accounts, the model catalog) that the session's other tests count.
Bounded in count and time: FUZZ_EXAMPLES (default 75) examples per role and operation kind, and
FUZZ_SECONDS (default 180) of wall clock per run: past it no further request is sent and the run
fails (no per-example deadline); ~1 minute in all.

A fuzz that only ever met 401s would pass every check above, so each run must be answered as the
intended principal: no UNAUTHENTICATED at all, and at least MIN_ANSWERED example with data.
The "other" account (never a token's own) has, besides its directory, agents, connections, a
guardrail, a budget plan with caps, a settlement and a reservation, and policy settings, all named
with its tag: a leak of any of them is caught by the id and name scan."""

from __future__ import annotations

import json
import os
import string
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries
from sqlalchemy.engine import make_url

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.migrate import upgrade_to_head
from cockpit_graphql.domain.budgets import caps
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.marketplace import agents, assignments, connections
from cockpit_graphql.domain.marketplace.audience import AgentStatus, AssignmentMode
from cockpit_graphql.domain.marketplace.connection_types import ConnectionType
from cockpit_graphql.domain.marketplace.secrets import SecretBox
from cockpit_graphql.domain.policies import service as policies
from cockpit_graphql.domain.policies.flags import flag_registry
from cockpit_graphql.domain.policies.guardrail_types import GuardrailMode, GuardrailType
from cockpit_graphql.domain.policies.settings import ConnectionMode, GuardrailState
from cockpit_graphql.ops.database import create_database, drop_database
from tests.support.budgets import give_budget_history
from tests.support.keys import KeyRing
from tests.support.live_server import live_server
from tests.support.policies import catalog_model
from tests.support.world import OP, Tenant, World

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "75"))
SECONDS = float(os.environ.get("FUZZ_SECONDS", "180"))
MIN_ANSWERED = 1
"""Examples of a run that must come back with data (a non-null root field). A count, not a share: the share
is random (seen from 8% — an account admin's queries, mostly refused as BAD_USER_INPUT or FORBIDDEN for
random ids — to 100% per run), and a share threshold failed CI once. With broken tokens it is 0; the checks
that catch broken tokens for sure are the viewer role check and "no UNAUTHENTICATED"."""
RUNS = [  # account roles first: a super admin's mutations may suspend or rename their accounts
    ("MEMBER", "query"),
    ("MEMBER", "mutation"),
    ("ACCOUNT_ADMIN", "query"),
    ("ACCOUNT_ADMIN", "mutation"),
    ("SUPER_ADMIN", "query"),
    ("SUPER_ADMIN", "mutation"),
]


NASTY_STRINGS = [
    "",
    " ",
    "a\x00b",
    "%",
    "_",
    "\\",
    "'; select 1; --",
    "\u202etxt.exe",
    "🍓" * 3,
    "x" * 300,
    "https://example.test/hook",
    "admin@example.test",
]


@dataclass
class Seeded:
    tenant: Tenant
    ids: list[str] = field(default_factory=list)  # global ids and raw uuids
    names: list[str] = field(default_factory=list)  # account, organization, team, user names; email domain


@dataclass
class Target:
    base: str
    schema: graphql.GraphQLSchema
    tokens: dict[str, str]
    own: dict[str, Seeded]  # role -> the account its token belongs to
    everyone: list[Seeded]
    id_pool: list[str]
    seen: dict[str, int] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def fuzz_settings(settings: Any) -> AsyncIterator[Any]:
    name = f"cockpit_fuzz_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    await create_database(url, name)
    try:
        await upgrade_to_head(url)
        yield settings.model_copy(update={"database_url": url})
    finally:
        await drop_database(url, name)


async def _seed(world: World, label: str) -> Seeded:
    tenant = await world.tenant()
    tag = f"{label}-{uuid.uuid4().hex[:8]}"
    tenant_id = mint_for_system(tenant.account_id)
    async with world.db.tenant(tenant_id) as session:
        org = await directory.create_organization(session, tenant_id, OP, f"Org {tag}")
        team = await directory.create_team(session, tenant_id, OP, org.id, f"Team {tag}")
        user = await directory.create_user(
            session,
            tenant_id,
            OP,
            email=f"person-{tag}@{tenant.domain}",
            display_name=f"Person {tag}",
            home_team_id=team.id,
        )
    tenant.ids |= {"org2": org.id, "team2": team.id, "user2": user.id}
    seeded = Seeded(tenant, names=[f"Tenant {tenant.external_org_id[4:]}", tenant.external_org_id, tenant.domain, tag])
    kinds = {"global_org": "Organization", "global_team": "Team", "eng": "Organization", "org2": "Organization"}
    kinds |= {"platform": "Team", "team2": "Team", "admin": "User", "member": "User", "user2": "User"}
    if label == "x":  # the account no token belongs to: everything an account can own
        kinds |= await _seed_assets(world, tenant, tag)
    seeded.ids += [tenant.account_gid, str(tenant.account_id)]
    for key, type_name in kinds.items():
        seeded.ids += [tenant.gid(type_name, key), str(tenant.ids[key])]
    return seeded


async def _seed_assets(world: World, tenant: Tenant, tag: str) -> dict[str, str]:
    """Agents, connections, a guardrail, a budget (plan, caps, a settlement, a held reservation) and
    policy settings, through the domain services; returns {key in tenant.ids: GraphQL type}."""
    tenant.ids |= await give_budget_history(world, tenant)
    model = await catalog_model(world, "fuzz-denied")  # platform-wide: not named with the tag
    tid = mint_for_system(tenant.account_id)
    account = Scope(ScopeLevel.ACCOUNT, tenant.account_id)
    team = Scope(ScopeLevel.TEAM, tenant.ids["team2"])
    async with world.db.tenant(tid) as s:
        guardrail = await policies.create_guardrail(
            s, tid, OP, f"Guardrail {tag}", GuardrailType.TOPIC_BLOCK, GuardrailMode.BLOCK, {"topics": [tag]}
        )
        connection = await connections.create_connection(
            s,
            tid,
            OP,
            SecretBox([]),
            connections.NewConnection(f"Connection {tag}", ConnectionType.SLACK, {"workspace": tag}),
            team,
        )
        draft = await agents.create_agent(s, tid, OP, account, agents.AgentChanges(name=f"Draft agent {tag}"))
        agent = await agents.create_agent(s, tid, OP, team, agents.AgentChanges(name=f"Agent {tag}"))
        await agents.transition_agent(s, tid, OP, agent.id, AgentStatus.PUBLISHED)
        await assignments.assign_agent(s, tid, OP, agent.id, team, AssignmentMode.AVAILABLE)
        await caps.set_cap(s, tid, OP, Scope(ScopeLevel.ORGANIZATION, tenant.ids["org2"]), Decimal("70"))
        await caps.set_cap(s, tid, OP, team, Decimal("40"))
        await caps.set_default_user_cap(s, tid, OP, account, Decimal("20"))
        await policies.set_guardrail_state(s, tid, OP, team, guardrail.id, GuardrailState.ENABLED, True)
        await policies.set_flag(s, tid, OP, team, flag_registry(), "CREATE_AGENTS", True, False)
        await policies.set_connection_mode(s, tid, OP, team, ConnectionMode.ADMIN_MANAGED, True)
        await policies.set_model_access(s, tid, OP, team, policies.ModelAccessRequest(None, [model], None))
    tenant.ids |= {"guardrail": guardrail.id, "connection": connection.id, "draft": draft.id, "agent": agent.id}
    return {
        "guardrail": "Guardrail",
        "connection": "Connection",
        "draft": "Agent",
        "agent": "Agent",
        "settlement": "Settlement",
        "reservation": "Reservation",
    }


@pytest.fixture(scope="module")
async def seeded(fuzz_settings: Any, keyring: KeyRing) -> AsyncIterator[tuple[dict[str, Seeded], list[Seeded], dict]]:
    db = Database.from_settings(fuzz_settings)
    world = World(settings=fuzz_settings, db=db, keys=keyring, client=None)  # type: ignore[arg-type]
    try:
        member, admin, other = await _seed(world, "m"), await _seed(world, "a"), await _seed(world, "x")
        tokens = {
            "MEMBER": world.member(member.tenant),
            "ACCOUNT_ADMIN": world.admin(admin.tenant),
            "SUPER_ADMIN": await world.super_admin("fuzz-operator"),
        }
        yield {"MEMBER": member, "ACCOUNT_ADMIN": admin}, [member, admin, other], tokens
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def target(fuzz_settings: Any, seeded: Any) -> Iterator[Target]:
    own, everyone, tokens = seeded
    with live_server(fuzz_settings) as base:
        r = httpx.post(
            f"{base}/graphql",
            json={"query": graphql.get_introspection_query(descriptions=False)},
            headers={"Authorization": f"Bearer {tokens['ACCOUNT_ADMIN']}"},
        )
        schema = graphql.build_client_schema(r.json()["data"])
        id_pool = [i for s in everyone for i in s.ids]
        yield Target(base, schema, tokens, own, everyone, id_pool)


def _json_value(value: Any) -> graphql.ValueNode:
    if isinstance(value, dict):
        return nodes.Object(
            [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_json_value(v)) for k, v in value.items()]
        )
    if isinstance(value, list):
        return nodes.List([_json_value(v) for v in value])
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if value is None:
        return graphql.NullValueNode()
    return nodes.String(value)


def custom_scalars(t: Target) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    ids = st.sampled_from(t.id_pool) | st.text(max_size=24)
    keys = st.text(alphabet=string.ascii_letters, min_size=1, max_size=8)
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=6,
    )
    offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    entity_types = ["Account", "Organization", "Team", "User", "Agent", "Connection", "Guardrail", "Model"]
    representations = st.fixed_dictionaries({"__typename": st.sampled_from(entity_types), "id": ids})
    strings = st.text(max_size=40) | st.sampled_from(NASTY_STRINGS)
    return {
        "String": strings.map(nodes.String),
        "ID": ids.map(nodes.String),
        "Date": st.dates().map(nodes.String) | st.text(max_size=12).map(nodes.String),
        # any offset, or none: 0001-01-01T00:00+14:00 is a datetime but no UTC one
        "DateTime": st.datetimes(timezones=st.none() | offsets).map(lambda d: nodes.String(d.isoformat())),
        # mostly plausible amounts; also NaN, sNaN, infinities and any exponent (the scalar refuses them)
        "Decimal": (
            st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9)
            | st.decimals()
            | st.sampled_from(["1e999999999", "1E+2147483647", "-1e31", "1e-31", "9.999e30"]).map(Decimal)
        ).map(nodes.String),
        "JSON": json_values.map(_json_value),
        "_Any": representations.map(_json_value),
    }


def check(t: Target, role: str, document: str, response: httpx.Response) -> None:
    where = f"{role} sent:\n{document}\nand got {response.status_code}: {response.text[:2000]}"
    assert response.status_code < 500, where
    body = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code, f"an error without extensions.code: {where}"
        assert code != "INTERNAL", f"an unexpected exception (see the server log): {where}"
        t.seen[code] = t.seen.get(code, 0) + 1
    own = t.own.get(role)
    if own is None:  # a super admin may read every account
        return
    data = json.dumps(body.get("data"))
    errors = json.dumps(body.get("errors"))
    for other in t.everyone:
        if other is own:
            continue
        for marker in other.ids + other.names:
            assert marker not in data, f"{marker!r} of another account in the data: {where}"
            if marker not in document:  # an id the request itself named may be quoted back in an error
                assert marker not in errors, f"{marker!r} of another account in an error: {where}"


@pytest.mark.parametrize(("role", "kind"), RUNS, ids=[f"{r}-{k}" for r, k in RUNS])
def test_fuzz_the_running_server(target: Target, role: str, kind: str) -> None:
    make = queries if kind == "query" else mutations
    root = target.schema.query_type if kind == "query" else target.schema.mutation_type
    assert root is not None
    scalars = custom_scalars(target)
    # one root field per document: a document selecting a random subset of every root field is mostly
    # refused as too costly before anything runs
    strategy = st.one_of([make(target.schema, fields=[name], custom_scalars=scalars) for name in sorted(root.fields)])
    outcomes = {"answered": 0, "refused": 0, "unauthenticated": 0, "sent": 0, "skipped": 0}
    headers = {"Authorization": f"Bearer {target.tokens[role]}"}
    started = time.monotonic()

    with httpx.Client(base_url=target.base, headers=headers, timeout=30) as client:
        who = client.post("/graphql", json={"query": "{ viewer { role } }"})
        assert who.json().get("data") == {"viewer": {"role": role}}, who.text  # the token is the intended principal

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        )
        @given(document=strategy)
        def fuzz(document: str) -> None:
            if time.monotonic() - started > SECONDS:  # the time bound: send nothing more (the run fails below)
                outcomes["skipped"] += 1
                return
            response = client.post("/graphql", json={"query": document})
            check(target, role, document, response)
            body = response.json()
            codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
            outcomes["sent"] += 1
            outcomes["unauthenticated"] += response.status_code == 401 or "UNAUTHENTICATED" in codes
            data = body.get("data") or {}
            outcomes["answered" if any(v is not None for v in data.values()) else "refused"] += 1

        fuzz()
    took = time.monotonic() - started
    print(f"{role} {kind}: {outcomes['sent']} examples in {took:.1f}s, {outcomes}; error codes so far {target.seen}")
    assert outcomes["skipped"] == 0 and took < SECONDS + 60, f"over FUZZ_SECONDS={SECONDS:g}: {took:.0f} s"
    assert outcomes["sent"] >= min(EXAMPLES, 10), outcomes
    assert outcomes["unauthenticated"] == 0, f"answered as no principal: {outcomes}"
    assert outcomes["answered"] >= MIN_ANSWERED, f"nothing answered with data: {outcomes}"
