"""Single-event and batch metering statements have texts of their own, so PostgreSQL keeps a plan for
each: a generic plan learned from one-event calls ran 1,000-event batches 10-30x slower (docs/performance.md)."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql

from cockpit_graphql.domain.budgets.metering import _replays
from cockpit_graphql.domain.budgets.usage_write import WRITE_BATCH, WRITE_EVENT

DIALECT = postgresql.asyncpg.dialect()  # type: ignore[attr-defined]


def test_the_replay_lookup_of_one_key_and_of_a_batch_differ() -> None:
    one = str(_replays(["k"]).compile(dialect=DIALECT))
    many = str(_replays(["k", "l"]).compile(dialect=DIALECT))
    assert one != many and "ANY" in many and "ANY" not in one
    assert many == str(_replays([f"k{i}" for i in range(1000)]).compile(dialect=DIALECT))  # one text for all batches


def test_the_write_statements_of_one_event_and_of_a_batch_differ() -> None:
    assert WRITE_EVENT.text != WRITE_BATCH.text
    assert WRITE_BATCH.text.startswith(WRITE_EVENT.text)  # the same SQL, only the text differs
