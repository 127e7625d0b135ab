"""UserChains (budgets/scopes.py): each user's chain is exactly Placement.chain(), the levels above the
users of one team are built once and shared, and `above` holds every scope above a user."""

from __future__ import annotations

import uuid

from cockpit_graphql.domain.budgets.scopes import Placement, Scope, ScopeLevel, UserChains


def test_each_chain_is_the_placements_and_a_teams_prefix_is_shared() -> None:
    account, o1, o2, t1, t2 = (uuid.uuid4() for _ in range(5))
    places = [Placement(account, o1, t1, uuid.uuid4()) for _ in range(3)] + [Placement(account, o2, t2, uuid.uuid4())]
    chains = UserChains.of(places)
    assert {user: chain for user, chain in chains.by_user.items()} == {
        Scope(ScopeLevel.USER, p.user_id): p.chain() for p in places
    }
    first, second = (chains.by_user[Scope(ScopeLevel.USER, p.user_id)] for p in places[:2])
    assert all(a is b for a, b in zip(first[:3], second[:3], strict=True))  # built once for t1
    assert chains.above == {s for p in places for s in p.chain()[:3]}


def test_a_team_moved_between_organizations_gives_each_placement_its_own_prefix() -> None:
    """Placements of one team under two organizations (a settle keeps its reservation's snapshot) do not
    share the prefix of the other."""
    account, o1, o2, team = (uuid.uuid4() for _ in range(4))
    before, after = Placement(account, o1, team, uuid.uuid4()), Placement(account, o2, team, uuid.uuid4())
    chains = UserChains.of([before, after])
    assert chains.by_user[Scope(ScopeLevel.USER, before.user_id)] == before.chain()
    assert chains.by_user[Scope(ScopeLevel.USER, after.user_id)] == after.chain()
    assert UserChains.of([]).by_user == {} and UserChains.of([]).above == set()
