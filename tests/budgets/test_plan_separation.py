"""Single-event and batch metering statements have texts of their own, so PostgreSQL keeps a plan for
each: a generic plan learned from one-event calls ran 1,000-event batches 10-30x slower (docs/performance.md)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql

from cockpit_graphql.domain.budgets.metering import _replays
from cockpit_graphql.domain.observability.rollups import ADD_EVENT_BATCH, ADD_EVENTS

DIALECT = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]


def test_the_replay_lookup_of_one_key_and_of_a_batch_differ() -> None:
    one = str(_replays(["k"]).compile(dialect=DIALECT))
    many = str(_replays(["k", "l"]).compile(dialect=DIALECT))
    assert one != many and "ANY" in many and "ANY" not in one
    assert many == str(_replays([f"k{i}" for i in range(1000)]).compile(dialect=DIALECT))  # one text for all batches


def test_the_rollup_statements_of_one_event_and_of_a_batch_differ() -> None:
    assert ADD_EVENTS.text != ADD_EVENT_BATCH.text
    assert ADD_EVENT_BATCH.text.startswith(ADD_EVENTS.text)  # the same SQL, only the text differs
