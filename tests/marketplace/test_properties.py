"""The audience rule, end to end: on random small directories with random agents (owned by the account,
an organization, a team or a user; DRAFT, PUBLISHED or ARCHIVED), random assignments (scope, mode),
random installs and random moves of users — all set up through the domain services — every (user,
agent) pair gets the same answer from

- the member's marketplace and workspace (through the API),
- the member's `nodes(ids:)` (members see their own agents and their audience's, nothing else),
- the admin's audience view and its counts per assigned scope (through the API),
- the runtime's reads (agents_repository + membership()),

and from a brute force written here from domain.md §4, independently of `membership()`:
U may discover and run A ⇔ A is PUBLISHED and assigned to a scope of U's chain, or A is U's own and not
ARCHIVED; it is in U's workspace when it is U's own, an assignment of U's chain INSTALLs it, or U
installed it while it was AVAILABLE to them (an install counts only while U is in the audience).

Hypothesis runs each example on the session loop (see tests/budgets/test_properties.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit_graphql.auth.tenant import TenantId, mint_for_system
from cockpit_graphql.domain.actor import Actor, ActorType, Operation
from cockpit_graphql.domain.budgets import repository as budget_repo
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.directory import service as directory
from cockpit_graphql.domain.errors import UserInputError
from cockpit_graphql.domain.marketplace import agents as agent_service
from cockpit_graphql.domain.marketplace import agents_repository as repo
from cockpit_graphql.domain.marketplace import assignments
from cockpit_graphql.domain.marketplace.audience import AgentStatus, AssignmentMode, membership
from cockpit_graphql.domain.roles import Role
from cockpit_graphql.types.ids import encode_id
from tests.marketplace.helpers import AUDIENCE, MARKET, WORKSPACE, ok
from tests.support.world import OP, Tenant, World

LEVEL_TYPE = {"ACCOUNT": "Account", "ORGANIZATION": "Organization", "TEAM": "Team", "USER": "User"}
KINDS = ("ACCOUNT", "ORGANIZATION", "TEAM", "USER")

# --- scenarios -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    extra_orgs: int
    teams: list[int]  # org index of each extra team (orgs: 0 = Global, 1 = Engineering, then extras)
    users: list[int]  # team index of each extra user (teams: 0 = Global, 1 = Platform, then extras)
    agents: list[tuple[str, int, str]]  # (owner kind, owner index, final status)
    assigned: list[tuple[int, str, int, str]]  # (agent, scope kind, scope index, mode)
    installs: list[tuple[int, int]]  # (user, agent)
    moves: list[tuple[int, int]]  # (user, team)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    extra_orgs = draw(st.integers(0, 1))
    teams = draw(st.lists(st.integers(0, 1 + extra_orgs), max_size=2))
    users = draw(st.lists(st.integers(0, 1 + len(teams)), max_size=2))
    idx = st.integers(0, 20)
    agents = draw(
        st.lists(
            st.tuples(st.sampled_from(KINDS), idx, st.sampled_from(["DRAFT", "PUBLISHED", "PUBLISHED", "ARCHIVED"])),
            min_size=1,
            max_size=5,
        )
    )
    assigned = draw(
        st.lists(st.tuples(idx, st.sampled_from(KINDS), idx, st.sampled_from(["AVAILABLE", "INSTALLED"])), max_size=7)
    )
    installs = draw(st.lists(st.tuples(idx, idx), max_size=6))
    moves = draw(st.lists(st.tuples(idx, idx), max_size=2))
    return Scenario(extra_orgs, teams, users, agents, assigned, installs, moves)


# --- the world of one example, and the brute force -------------------------------------------------


@dataclass
class Model:
    t: Tenant
    orgs: list[uuid.UUID]
    teams: list[uuid.UUID]
    team_org: dict[uuid.UUID, uuid.UUID]
    users: list[uuid.UUID]
    emails: dict[uuid.UUID, str]
    home: dict[uuid.UUID, uuid.UUID]
    agents: list[uuid.UUID] = field(default_factory=list)
    status: dict[uuid.UUID, str] = field(default_factory=dict)
    owner: dict[uuid.UUID, tuple[str, uuid.UUID]] = field(default_factory=dict)
    assigned: dict[uuid.UUID, dict[tuple[str, uuid.UUID], str]] = field(default_factory=dict)
    installed: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)

    def scope(self, kind: str, i: int) -> tuple[str, uuid.UUID]:
        pool = {"ACCOUNT": [self.t.account_id], "ORGANIZATION": self.orgs, "TEAM": self.teams, "USER": self.users}
        ids = pool[kind]
        return kind, ids[i % len(ids)]

    def chain(self, user: uuid.UUID) -> list[tuple[str, uuid.UUID]]:
        team = self.home[user]
        return [("ACCOUNT", self.t.account_id), ("ORGANIZATION", self.team_org[team]), ("TEAM", team), ("USER", user)]

    def expect(self, user: uuid.UUID, agent: uuid.UUID) -> dict[str, Any] | None:
        """The brute force: how `agent` reaches `user`, or None."""
        chain = self.chain(user)
        status = self.status[agent]
        own = self.owner[agent] == ("USER", user) and status != "ARCHIVED"
        hits = [s for s in chain if s in self.assigned[agent]] if status == "PUBLISHED" else []
        if not own and not hits:
            return None
        mode = None
        if hits:
            mode = "INSTALLED" if any(self.assigned[agent][s] == "INSTALLED" for s in hits) else "AVAILABLE"
        installed = (agent, user) in self.installed
        in_workspace = own or mode == "INSTALLED" or installed
        return {
            "via": "OWN" if own else "ASSIGNED",
            "mode": mode,
            "inWorkspace": in_workspace,
            "removable": not own and mode == "AVAILABLE",
            "assignedAt": [s[0] for s in hits],
        }

    def gid(self, kind: str, ident: uuid.UUID) -> str:
        return encode_id(LEVEL_TYPE[kind], self.t.account_id, ident)


def _user_op(user: uuid.UUID) -> Operation:
    return Operation(Actor(ActorType.USER, Role.MEMBER, f"user {user}", user_id=user), "property")


async def build(world: World, sc: Scenario) -> Model:
    t = await world.tenant()
    tenant = mint_for_system(t.account_id)
    orgs = [t.ids["global_org"], t.ids["eng"]]
    teams = [t.ids["global_team"], t.ids["platform"]]
    team_org = {t.ids["global_team"]: t.ids["global_org"], t.ids["platform"]: t.ids["eng"]}
    users = [t.ids["member"], t.ids["admin"]]
    emails = {t.ids["member"]: t.member_email, t.ids["admin"]: t.admin_email}
    home = {t.ids["member"]: t.ids["platform"], t.ids["admin"]: t.ids["global_team"]}
    async with world.db.tenant(tenant) as s:
        for i in range(sc.extra_orgs):
            orgs.append((await directory.create_organization(s, tenant, OP, f"Org {i}")).id)
        for i, org in enumerate(sc.teams):
            team = await directory.create_team(s, tenant, OP, orgs[org], f"Team {i}")
            teams.append(team.id)
            team_org[team.id] = orgs[org]
        for i, team_index in enumerate(sc.users):
            email = f"user{i}@{t.domain}"
            user = await directory.create_user(s, tenant, OP, email=email, home_team_id=teams[team_index])
            users.append(user.id)
            emails[user.id] = email
            home[user.id] = user.home_team_id
    m = Model(t, orgs, teams, team_org, users, emails, home)

    for i, (kind, index, status) in enumerate(sc.agents):
        owner = m.scope(kind, index)
        async with world.db.tenant(tenant) as s:
            row = await agent_service.create_agent(
                s, tenant, OP, Scope(ScopeLevel(kind), owner[1]), agent_service.AgentChanges(name=f"Agent {i}")
            )
        m.agents.append(row.id)
        m.owner[row.id] = owner
        m.status[row.id] = "DRAFT"
        m.assigned[row.id] = {}
        if status != "DRAFT":
            op = _user_op(owner[1]) if kind == "USER" else OP
            async with world.db.tenant(tenant) as s:
                await agent_service.transition_agent(s, tenant, op, row.id, AgentStatus.PUBLISHED)
            m.status[row.id] = "PUBLISHED"

    for agent_index, kind, index, mode in sc.assigned:
        agent = m.agents[agent_index % len(m.agents)]
        scope = m.scope(kind, index)
        try:
            async with world.db.tenant(tenant) as s:
                await assignments.assign_agent(
                    s, tenant, OP, agent, Scope(ScopeLevel(kind), scope[1]), AssignmentMode(mode)
                )
        except UserInputError:
            assert m.status[agent] != "PUBLISHED" or m.assigned[agent].get(scope) == mode
            continue
        assert m.status[agent] == "PUBLISHED"
        m.assigned[agent][scope] = mode

    for user_index, agent_index in sc.installs:
        user, agent = m.users[user_index % len(m.users)], m.agents[agent_index % len(m.agents)]
        seen = m.expect(user, agent)
        allowed = (
            seen is not None
            and seen["via"] == "ASSIGNED"
            and seen["mode"] == "AVAILABLE"
            and (agent, user) not in m.installed
        )
        try:
            async with world.db.tenant(tenant) as s:
                await assignments.install_agent(s, tenant, _user_op(user), user, agent)
        except UserInputError:
            assert not allowed, (user, agent, seen)
            continue
        assert allowed, (user, agent, seen)
        m.installed.add((agent, user))

    for user_index, team_index in sc.moves:  # installs of a user who moves out stay recorded, inactive
        user, team = m.users[user_index % len(m.users)], m.teams[team_index % len(m.teams)]
        if m.home[user] == team:
            continue
        async with world.db.tenant(tenant) as s:
            await directory.move_user(s, tenant, OP, user, team)
        m.home[user] = team

    for i, (kind, _, status) in enumerate(sc.agents):
        if status == "ARCHIVED":
            agent = m.agents[i]
            op = _user_op(m.owner[agent][1]) if kind == "USER" else OP
            async with world.db.tenant(tenant) as s:
                await agent_service.transition_agent(s, tenant, op, agent, AgentStatus.ARCHIVED)
            m.status[agent] = "ARCHIVED"
    return m


# --- the property --------------------------------------------------------------------------------


async def _runtime(world: World, m: Model, tenant: TenantId, user: uuid.UUID) -> dict[uuid.UUID, Any]:
    """What the runtime reads: the batch functions of agents_repository, decided by membership()."""
    async with world.db.tenant(tenant) as s:
        chain = (await budget_repo.placements(s, tenant, [user]))[user].chain()
        agents = await repo.agents_by_ids(s, m.agents)
        assigned = await repo.assignments_of(s, m.agents)
        installed = await repo.installed_by(s, user, m.agents)
    out = {}
    for agent in m.agents:
        found = membership(repo.facts(agents[agent]), chain, assigned[agent], agent in installed)
        if found is not None:
            out[agent] = {
                "via": found.via.value,
                "mode": found.mode.value if found.mode else None,
                "inWorkspace": found.in_workspace,
                "removable": found.removable,
                "assignedAt": [s.level.value for s in found.assigned_at],
            }
    return out


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sc=scenarios())
async def test_every_view_of_the_audience_agrees_with_the_brute_force(world: World, sc: Scenario) -> None:
    m = await build(world, sc)
    tenant = mint_for_system(m.t.account_id)
    agent_gids = {encode_id("Agent", m.t.account_id, a): a for a in m.agents}
    admin = world.admin(m.t)

    for user in m.users:
        expected = {a: e for a in m.agents if (e := m.expect(user, a)) is not None}
        token = world.token(m.t, m.emails[user])

        market = (await ok(world, MARKET, {"first": 100}, token))["marketplace"]
        got = {
            agent_gids[n["agent"]["id"]]: {k: n[k] for k in ("via", "mode", "inWorkspace", "removable")}
            | {"assignedAt": [s["level"] for s in n["assignedAt"]]}
            for n in market["nodes"]
        }
        assert got == expected, ("marketplace", user)
        assert market["totalCount"] == len(expected)
        installed_flags = {agent_gids[n["agent"]["id"]]: n["installed"] for n in market["nodes"]}
        assert installed_flags == {a: (a, user) in m.installed for a in expected}

        work = (await ok(world, WORKSPACE, None, token))["workspace"]
        assert {agent_gids[n["agent"]["id"]] for n in work["nodes"]} == {
            a for a, e in expected.items() if e["inWorkspace"]
        }, ("workspace", user)

        assert await _runtime(world, m, tenant, user) == expected, ("runtime", user)

        nodes = await ok(world, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": list(agent_gids)}, token)
        visible = {agent_gids[n["id"]] for n in nodes["nodes"] if n is not None}
        if user == m.t.ids["admin"]:
            assert visible == set(m.agents)  # admins see every agent of their account
        else:
            assert visible == set(expected) | {a for a in m.agents if m.owner[a] == ("USER", user)}, ("node", user)

    for gid, agent in agent_gids.items():
        aud = (await ok(world, AUDIENCE, {"id": gid}, admin))["node"]["audience"]
        members = {n["user"]["id"]: n for n in aud["nodes"]}
        expected_users = {m.gid("USER", u): m.expect(u, agent) for u in m.users if m.expect(u, agent) is not None}
        assert set(members) == set(expected_users), ("audience", agent)
        for uid, n in members.items():
            e = expected_users[uid]
            assert (n["via"], n["mode"], n["inWorkspace"]) == (e["via"], e["mode"], e["inWorkspace"]), uid
        assert aud["totalCount"] == len(expected_users)
        assert aud["inWorkspaceCount"] == sum(e["inWorkspace"] for e in expected_users.values())
        counts = {(c["scope"]["level"], c["scope"]["id"]): c["users"] for c in aud["countsByScope"]}
        want = {
            (kind, m.gid(kind, ident)): sum(
                1 for u in m.users if m.status[agent] == "PUBLISHED" and (kind, ident) in m.chain(u)
            )
            for (kind, ident) in m.assigned[agent]
        }
        assert counts == want, ("counts", agent)
