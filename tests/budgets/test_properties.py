"""Property tests of budgets.

1. Pure: on random trees (account → 1–3 orgs → 1–3 teams → 1–4 users) with random caps, default user
   caps, spent, reserved and plan ceilings, `allocate()` agrees with a brute force written from
   domain.md §2: remaining = min over the capped levels of (cap − spent − reserved), clamped at 0;
   binding = the argmin, the most specific on a tie; a user's DEFAULT cap comes from the nearest
   ancestor that sets one.
2. Against PostgreSQL: random sequences of authorize / record usage (new, replayed, settling a
   reservation) / release / expire on a small tenant, checked step by step against an in-memory model
   of the rules (who may be authorized, the included/overflow split, reservation transitions), and
   after every sequence `reconcile()` is clean and every running total equals the model's.

How Hypothesis runs with the ONE session event loop: the async tests are decorated with @given
directly. pytest-asyncio recognises a Hypothesis test whose inner test is a coroutine function and
replaces that inner test with a synchronous wrapper that runs each example to completion on the
test's (session-scoped) loop, so no loop is created and no connection crosses loops. Each example
builds its own tenant, so examples are independent. The example database is off (database=None):
nothing is written into the working tree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit_graphql.domain.budgets import effective, metering, repository
from cockpit_graphql.domain.budgets.allocation import CapSource, PlanCeiling, ScopeSettings, allocate
from cockpit_graphql.domain.budgets.metering import AuthorizationRequest
from cockpit_graphql.domain.budgets.plans import OverflowPolicy
from cockpit_graphql.domain.budgets.repository import CounterDelta
from cockpit_graphql.domain.budgets.scopes import Scope, ScopeLevel
from cockpit_graphql.domain.errors import UserErrorCode, UserInputError
from tests.support.budget_scenarios import counters, expire_due, only_cycle, record, release, tree, usage
from tests.support.budgets import NOW, Budget, new_budget
from tests.support.world import World

Q = Decimal("0.000001")
ZERO = Decimal(0)


# --- the brute force --------------------------------------------------------------------------


def brute_caps(
    chain: list[Scope],
    caps: dict[Scope, Decimal],
    defaults: dict[Scope, Decimal],
    account_cap: Decimal | None,
) -> list[tuple[Decimal | None, CapSource, Scope | None]]:
    """Per level: the cap, its source and the scope it came from, straight from domain.md."""
    out: list[tuple[Decimal | None, CapSource, Scope | None]] = []
    for i, scope in enumerate(chain):
        if scope.level is ScopeLevel.ACCOUNT:
            planned = account_cap is not None
            out.append((account_cap, CapSource.PLAN, scope) if planned else (None, CapSource.NONE, None))
        elif scope in caps:
            out.append((caps[scope], CapSource.OVERRIDE, scope))
        elif scope.level is ScopeLevel.USER:
            ancestors = [a for a in chain[:i] if a in defaults]
            if ancestors:
                nearest = ancestors[-1]  # chains run most general first
                out.append((defaults[nearest], CapSource.DEFAULT, nearest))
            else:
                out.append((None, CapSource.NONE, None))
        else:
            out.append((None, CapSource.NONE, None))
    return out


def brute_headrooms(
    chain: list[Scope], resolved: list[tuple[Decimal | None, Any, Any]], spent: Any, reserved: Any
) -> list[Decimal | None]:
    """cap − spent − reserved per level (None where uncapped); `spent`/`reserved` map a scope to credits."""
    levels = zip(chain, resolved, strict=True)
    return [None if cap is None else cap - spent(s) - reserved(s) for s, (cap, _, _) in levels]


def brute_binding(headrooms: list[tuple[int, Decimal]], chain: list[Scope]) -> tuple[Decimal, Scope]:
    """The smallest headroom and its scope, the most specific (deepest) on a tie."""
    smallest = min(h for _, h in headrooms)
    deepest = max(i for i, h in headrooms if h == smallest)
    return smallest, chain[deepest]


# --- 1. pure ----------------------------------------------------------------------------------

AMOUNT = st.one_of(
    st.sampled_from([0, 1, 100, 250, 500]).map(Decimal),  # small set: ties happen often
    st.decimals(min_value=0, max_value=2000, places=6, allow_nan=False, allow_infinity=False),
)
MAYBE = st.one_of(st.none(), AMOUNT)


@dataclass
class Tree:
    account: Scope
    chains: list[list[Scope]]  # the chain of every node (orgs, teams and users)
    caps: dict[Scope, Decimal]
    defaults: dict[Scope, Decimal]
    spent: dict[Scope, Decimal]
    reserved: dict[Scope, Decimal]
    ceiling: PlanCeiling | None


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    ids = iter(range(1, 10_000))

    def new(level: ScopeLevel) -> Scope:
        return Scope(level, uuid.UUID(int=next(ids)))

    account = new(ScopeLevel.ACCOUNT)
    chains: list[list[Scope]] = []
    for _ in range(draw(st.integers(1, 3))):
        org = new(ScopeLevel.ORGANIZATION)
        chains.append([account, org])
        for _ in range(draw(st.integers(1, 3))):
            team = new(ScopeLevel.TEAM)
            chains.append([account, org, team])
            chains += [[account, org, team, new(ScopeLevel.USER)] for _ in range(draw(st.integers(1, 4)))]
    scopes = [account] + [c[-1] for c in chains]
    caps = {s: c for s in scopes[1:] if (c := draw(MAYBE)) is not None}
    defaults = {s: d for s in scopes if s.level is not ScopeLevel.USER and (d := draw(MAYBE)) is not None}
    spent = {s: draw(AMOUNT) for s in scopes}
    reserved = {s: draw(AMOUNT) for s in scopes}
    ceiling = draw(
        st.one_of(
            st.none(),
            st.builds(PlanCeiling, pool=AMOUNT, overflow_allowed=st.just(False), overflow_cap=st.none()),
            st.builds(PlanCeiling, pool=AMOUNT, overflow_allowed=st.just(True), overflow_cap=MAYBE),
        )
    )
    return Tree(account, chains, caps, defaults, spent, reserved, ceiling)


@settings(max_examples=300, deadline=None, database=None)
@given(t=trees())
def test_allocate_agrees_with_the_brute_force(t: Tree) -> None:
    settings_ = {s: ScopeSettings(t.caps.get(s), t.defaults.get(s)) for s in {*t.caps, *t.defaults}}
    for chain in t.chains:
        got = allocate(chain, settings_, t.ceiling, t.spent, t.reserved)
        account_cap = t.ceiling.cap if t.ceiling else None
        if t.ceiling is not None:  # the account's cap: the pool (BLOCK), pool + overflow cap, or none
            expected_cap = (
                t.ceiling.pool
                if not t.ceiling.overflow_allowed
                else (None if t.ceiling.overflow_cap is None else t.ceiling.pool + t.ceiling.overflow_cap)
            )
            assert account_cap == expected_cap
        resolved = brute_caps(chain, t.caps, t.defaults, account_cap)
        assert [(lvl.cap, lvl.source, lvl.source_scope) for lvl in got.levels] == resolved
        each = brute_headrooms(chain, resolved, t.spent.__getitem__, t.reserved.__getitem__)
        assert [lvl.headroom for lvl in got.levels] == each
        headrooms = [(i, h) for i, h in enumerate(each) if h is not None]
        if t.ceiling is None:  # no plan authorizes nothing
            assert (got.remaining, got.binding, got.has_plan) == (ZERO, t.account, False)
        elif not headrooms:
            assert (got.remaining, got.binding) == (None, None)
        else:
            smallest, binding = brute_binding(headrooms, chain)
            assert (got.remaining, got.binding) == (max(smallest, ZERO), binding)
            assert got.remaining >= 0
        if t.ceiling is not None:
            used = t.spent[t.account] + t.reserved[t.account]
            assert got.pool_headroom == t.ceiling.pool - used
            if t.ceiling.overflow_allowed and t.ceiling.overflow_cap is not None:
                assert got.overflow_headroom == t.ceiling.overflow_cap - max(used - t.ceiling.pool, ZERO)
            else:
                assert got.overflow_headroom is None


# --- 2. against the database ------------------------------------------------------------------

USERS = ["u1", "u2", "u3", "u4"]
PATHS = {"u1": ("o1", "t1", "u1"), "u2": ("o1", "t1", "u2"), "u3": ("o1", "t2", "u3"), "u4": ("o2", "t3", "u4")}
CAP_KEYS = ["o1", "o2", "t1", "t2", "t3", "u1", "u2", "u3", "u4"]
DEFAULT_KEYS = ["account", "o1", "t1", "t2"]
SMALL = st.one_of(st.sampled_from(["0", "10", "25", "60"]), st.decimals(0, 80, places=6).map(str))
STEP = st.integers(0, 240)  # seconds between operations

OPS = st.one_of(
    st.tuples(
        st.just("authorize"),
        st.sampled_from(USERS),
        st.decimals("0.000001", 40, places=6),
        st.sampled_from([30, 120, 900]),
        STEP,
    ),
    st.tuples(
        st.just("usage"),
        st.sampled_from(USERS),
        st.decimals(0, "0.045", places=10),
        st.one_of(st.none(), st.integers(0, 20)),
        STEP,
    ),
    st.tuples(st.just("replay"), st.sampled_from(USERS), st.decimals(0, 1, places=4), st.integers(0, 20), STEP),
    st.tuples(st.just("release"), st.integers(0, 20), STEP),
    st.tuples(st.just("expire"), STEP),
)


@dataclass
class Scenario:
    pool: str
    policy: OverflowPolicy
    overflow_cap: Decimal | None
    caps: dict[str, str]
    defaults: dict[str, str]
    ops: list[tuple[Any, ...]]


SCENARIOS = st.builds(
    Scenario,
    pool=st.sampled_from(["50", "120.5", "300"]),
    policy=st.sampled_from(list(OverflowPolicy)),
    overflow_cap=st.one_of(st.none(), st.sampled_from([Decimal(0), Decimal("25.5")])),
    caps=st.dictionaries(st.sampled_from(CAP_KEYS), SMALL, max_size=3),
    defaults=st.dictionaries(st.sampled_from(DEFAULT_KEYS), SMALL, max_size=2),
    ops=st.lists(OPS, min_size=1, max_size=14),
)


@dataclass
class Hold:
    user: str
    credits: Decimal
    expires_at: datetime
    status: str = "HELD"


@dataclass
class Model:
    """The rules of domain.md §2, in memory, for one tenant whose users never move."""

    b: Budget
    s: Scenario
    events: list[tuple[str, Decimal, Decimal, Decimal]] = field(default_factory=list)  # user, credits, in, over
    keys: dict[str, uuid.UUID] = field(default_factory=dict)
    holds: dict[uuid.UUID, Hold] = field(default_factory=dict)

    def chain(self, user: str) -> list[Scope]:
        return [self.b.account, *(self.b.scope(k) for k in PATHS[user])]

    def spent(self, scope: Scope) -> Decimal:
        return sum((c for u, c, _, _ in self.events if scope in self.chain(u)), ZERO)

    def reserved(self, scope: Scope) -> Decimal:
        return sum((h.credits for h in self.holds.values() if h.status == "HELD" and scope in self.chain(h.user)), ZERO)

    @property
    def included(self) -> Decimal:
        return sum((i for _, _, i, _ in self.events), ZERO)

    @property
    def account_cap(self) -> Decimal | None:
        pool = Decimal(self.s.pool)
        if self.s.policy is OverflowPolicy.BLOCK:
            return pool
        return None if self.s.overflow_cap is None else pool + self.s.overflow_cap  # only ALLOW has one

    def expire(self, now: datetime) -> int:
        due = [h for h in self.holds.values() if h.status == "HELD" and h.expires_at <= now]
        for h in due:
            h.status = "EXPIRED"
        return len(due)

    def headrooms(self, chain: list[Scope]) -> list[Decimal | None]:
        caps = {self.b.scope(k): Decimal(v) for k, v in self.s.caps.items()}
        defaults = {
            self.b.account if k == "account" else self.b.scope(k): Decimal(v) for k, v in self.s.defaults.items()
        }
        resolved = brute_caps(chain, caps, defaults, self.account_cap)
        return brute_headrooms(chain, resolved, self.spent, self.reserved)

    def decide(self, user: str, estimate: Decimal) -> tuple[bool, Scope | None, str | None]:
        chain = self.chain(user)
        each = self.headrooms(chain)
        short = [(i, h) for i, h in enumerate(each) if h is not None and h < estimate]
        if not short:
            return True, None, None
        _, binding = brute_binding(short, chain)
        if binding.level is not ScopeLevel.ACCOUNT:
            return False, binding, "CAP_EXCEEDED"
        over = self.s.policy is OverflowPolicy.ALLOW and self.s.overflow_cap is not None
        return False, binding, "OVERFLOW_CAP_REACHED" if over else "POOL_EXHAUSTED"


async def _authorize(b: Budget, user: str, estimate: Decimal, ttl: int, now: datetime) -> metering.AuthorizationResult:
    async with b.db.tenant(b.tid) as s:
        return await metering.authorize(s, b.tid, AuthorizationRequest(b.ids[user], estimate, ttl), now)


async def run(b: Budget, m: Model, ops: list[tuple[Any, ...]]) -> None:
    now = NOW
    reservations: list[uuid.UUID] = []
    for op in ops:
        kind, *args, step = op
        now += timedelta(seconds=step)
        if kind == "authorize":
            user, estimate, ttl = args
            m.expire(now)  # authorization releases due holds first
            allowed, binding, reason = m.decide(user, estimate)
            got = await _authorize(b, user, estimate, ttl, now)
            assert (got.allowed, got.binding if not got.allowed else None) == (allowed, binding), (op, got)
            if allowed:
                assert got.reservation.credits == estimate
                m.holds[got.reservation.id] = Hold(user, estimate, now + timedelta(seconds=ttl))
                reservations.append(got.reservation.id)
            else:
                assert got.reason.value == reason
        elif kind == "usage":
            user, cost, settle = args
            rid = reservations[settle % len(reservations)] if settle is not None and reservations else None
            key = f"k{len(m.keys)}"
            hold = m.holds.get(rid) if rid else None
            if hold is not None and hold.status in ("SETTLED", "RELEASED"):
                try:
                    await record(b, [usage(b, user, cost, key=key, at=now, reservation=rid)], now)
                except UserInputError as err:
                    assert err.errors[0].code is UserErrorCode.ILLEGAL_TRANSITION
                    continue
                raise AssertionError(f"settled a {hold.status} reservation")
            credits = (cost * 1000).quantize(Q, rounding=ROUND_HALF_UP)
            included = min(credits, max(Decimal(m.s.pool) - m.included, ZERO))
            out = (await record(b, [usage(b, user, cost, key=key, at=now, reservation=rid)], now))[0]
            assert not out.replayed
            assert (out.event.credits, out.event.included_credits, out.event.overflow_credits) == (
                credits,
                included,
                credits - included,
            )
            m.events.append((user, credits, included, credits - included))
            m.keys[key] = out.event.id
            if hold is not None:
                hold.status = "SETTLED"
        elif kind == "replay":
            user, cost, index = args
            if not m.keys:
                continue
            key = sorted(m.keys)[index % len(m.keys)]
            out = (await record(b, [usage(b, user, cost, key=key, at=now)], now))[0]
            assert out.replayed and out.event.id == m.keys[key]
        elif kind == "release":
            (index,) = args
            if not reservations:
                continue
            rid = reservations[index % len(reservations)]
            if m.holds[rid].status == "HELD":
                assert (await release(b, rid, now)).status == "RELEASED"
                m.holds[rid].status = "RELEASED"
            else:
                try:
                    await release(b, rid, now)
                except UserInputError as err:
                    assert err.errors[0].code is UserErrorCode.ILLEGAL_TRANSITION
                else:
                    raise AssertionError("released a resolved reservation")
        else:
            assert await expire_due(b, now) == m.expire(now)


async def build(world: World, s: Scenario) -> tuple[Budget, Model]:
    terms: dict[str, Any] = {"overflow_policy": s.policy}
    if s.policy is OverflowPolicy.ALLOW:
        terms["overflow_cap_credits"] = s.overflow_cap
    b = await tree(await new_budget(world), s.pool, **terms)
    for key, cap in s.caps.items():
        await b.cap(key, cap)
    for key, cap in s.defaults.items():
        await b.default_cap(key, cap)
    return b, Model(b, s)


@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=SCENARIOS)
async def test_random_metering_sequences_reconcile_and_match_the_model(world: World, scenario: Scenario) -> None:
    b, m = await build(world, scenario)
    await run(b, m, scenario.ops)

    c = await only_cycle(b)
    assert c.differences == []
    assert (c.pool, c.included) == (Decimal(scenario.pool), m.included)
    assert c.overflow == sum((o for _, _, _, o in m.events), ZERO)
    totals = await counters(b)
    scopes = {b.account, *(b.scope(k) for k in ["o1", "o2", "t1", "t2", "t3", *USERS])}
    for scope in scopes:
        got = totals.get(scope)
        assert (got.spent if got else ZERO, got.reserved if got else ZERO) == (m.spent(scope), m.reserved(scope))
    if b.account in totals:
        assert (totals[b.account].included, totals[b.account].overflow) == (m.included, c.overflow)
    await check_effective_allocations(b, m)


CHILDREN = {"o1": ["t1", "t2"], "o2": ["t3"], "t1": ["u1", "u2"], "t2": ["u3"], "t3": ["u4"]}


async def check_effective_allocations(b: Budget, m: Model) -> None:
    """What the API shows (effective.allocations, for every node at once) agrees with the brute force."""
    paths = sorted({PATHS[u][:depth] for u in USERS for depth in (1, 2, 3)})
    chains = [[b.account]] + [[b.account, *(b.scope(k) for k in path)] for path in paths]
    async with b.db.tenant(b.tid) as s:
        found = await effective.allocations(s, b.tid, chains, NOW + timedelta(hours=1))
    for chain, got in zip(chains, found, strict=True):
        each = m.headrooms(chain)
        assert [lvl.headroom for lvl in got.levels] == each
        assert [(lvl.spent, lvl.reserved) for lvl in got.levels] == [(m.spent(x), m.reserved(x)) for x in chain]
        capped = [(i, h) for i, h in enumerate(each) if h is not None]
        if capped:
            smallest, binding = brute_binding(capped, chain)
            assert (got.remaining, got.binding) == (max(smallest, ZERO), binding)
        else:
            assert (got.remaining, got.binding) == (None, None)
        node = chain[-1]
        key = "account" if node == b.account else next(k for k in b.ids if b.ids[k] == node.id)
        children = ["o1", "o2"] if key == "account" else CHILDREN.get(key, [])
        assert got.allocated_to_children == sum((Decimal(m.s.caps[c]) for c in children if c in m.s.caps), ZERO)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(list(ScopeLevel)), st.uuids()), max_size=60, unique=True))
def test_counters_are_bumped_in_scope_order(pairs: list[tuple[ScopeLevel, uuid.UUID]]) -> None:
    """Concurrent writers lock counter rows in one order, Scope's own (level, then id): the sort key of
    bump_counters must give exactly that order."""
    deltas = {Scope(level, ident): CounterDelta() for level, ident in pairs}
    assert sorted(deltas.items(), key=repository._scope_order) == sorted(deltas.items())
