"""in_force_at (domain/in_force.py): the one rule for the factor and the placement in force at an instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit_graphql.domain.in_force import in_force_at

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_value_in_force_is_the_earliest_that_ended_after_the_instant_else_the_current_one() -> None:
    ended = [(T0, "a"), (T0 + timedelta(days=1), "b")]  # "a" until T0, "b" until T0 + 1 day, then "c"
    assert in_force_at("c", ended, T0 - timedelta(microseconds=1)) == "a"
    assert in_force_at("c", ended, T0) == "b"  # a change applies from its instant on
    assert in_force_at("c", ended, T0 + timedelta(hours=12)) == "b"
    assert in_force_at("c", ended, T0 + timedelta(days=1)) == "c"
    assert in_force_at("c", ended, T0 + timedelta(days=9)) == "c"
    assert in_force_at("c", [], T0) == "c"
