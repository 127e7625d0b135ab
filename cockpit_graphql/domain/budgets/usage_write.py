"""Writing a call's new usage events: ONE statement inserts the events, derives their ledger entries
from the inserted rows and adds them to every daily rollup table.

Each event's ledger entries are `USAGE` (−its included credits) and `OVERFLOW_USAGE` (−its overflow
credits), each only when that part is not zero (domain.md §2's ledger table). They used to be built in
Python (a dict, a uuid4 and a JSON value per entry) and sent as a second statement, and the rollups'
statement then read the just-inserted events back by id; here PostgreSQL derives both from the
INSERT's RETURNING rows: one round trip, one JSON document, no event read twice. The three writes still
succeed or fail together (one statement, in the caller's transaction). The caller passes only events it
has decided to write (never replays). Under the account's budget mutex the one statement writes all
three; metering's write-ahead path writes events and ledger entries before taking it and adds the
rollups under it (`add_rollups`, reading the events it wrote back by id): rollup rows are shared by
concurrent calls, and upserting them outside the mutex would let two calls deadlock on each other's rows.
The document is JSON, not JSONB: PostgreSQL reads it once, and building a JSONB value first cost ~30 %
more (bench figures in docs/performance.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.bulk import encode_rows, insert_select_sql
from cockpit_graphql.db.tables import UsageEvent
from cockpit_graphql.domain.budgets.scopes import LedgerKind
from cockpit_graphql.domain.observability import rollups

COLUMNS = (
    "account_id",
    "id",
    "idempotency_key",
    "cycle_id",
    "occurred_at",
    "recorded_at",
    "late",
    "user_id",
    "organization_id",
    "team_id",
    "agent_id",
    "model_id",
    "connection_ids",
    "guardrails",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "credits_per_usd",
    "credits",
    "included_credits",
    "overflow_credits",
    "reservation_id",
)
"""The columns a usage event is written with (every one: the row is complete when it is recorded)."""

_LEDGER = f"""INSERT INTO ledger_entries (account_id, id, cycle_id, kind, amount, usage_event_id)
    SELECT e.account_id, gen_random_uuid(), e.cycle_id, part.kind, -part.credits, e.id
    FROM written e
    CROSS JOIN LATERAL (
        VALUES ('{LedgerKind.USAGE.value}', e.included_credits),
               ('{LedgerKind.OVERFLOW_USAGE.value}', e.overflow_credits)
    ) AS part(kind, credits)
    WHERE part.credits <> 0
    RETURNING 1"""


def write_sql(*, with_rollups: bool = True) -> str:
    """The statement: `written` (the INSERT of the `:rows` document, answering every column), `ledger`
    and (unless told otherwise) the rollup upserts; it answers the rows written per table."""
    events = insert_select_sql(UsageEvent.__table__, COLUMNS) + " RETURNING *"
    ctes = [f"written AS ({events})", f"ledger AS ({_LEDGER})"]
    counts = "(SELECT count(*) FROM written) AS usage_events, (SELECT count(*) FROM ledger) AS ledger_entries"
    if with_rollups:
        rollup_ctes, rollup_counts = rollups.add_ctes(rollups.input_sql("written e"))
        ctes += rollup_ctes
        counts = f"{counts}, {rollup_counts}"
    return "WITH " + ",\n".join(ctes) + f"\nSELECT {counts}"


def rollups_sql() -> str:
    """The rollup upserts of the account's events `:ids` (comma-separated), already written
    (`write_sql(with_rollups=False)`), read back by primary key: sending their document again cost
    PostgreSQL a second parse of it (~15-30 ms for 1,000 events; 1,000 key probes cost a few)."""
    written = rollups.events_sql("e.id = ANY(string_to_array(:ids, ',')::uuid[])")
    rollup_ctes, rollup_counts = rollups.add_ctes(written)
    return "WITH " + ",\n".join(rollup_ctes) + f"\nSELECT {rollup_counts}"


def _texts(sql: str) -> tuple[sa.TextClause, sa.TextClause]:
    """One text for single events, another for batches: PostgreSQL keeps one plan per prepared text, and
    a generic plan learned from one-event calls must never run a 1,000-event batch (docs/performance.md)."""
    return sa.text(sql), sa.text(sql + "\n-- batch")


WRITE_EVENT, WRITE_BATCH = _texts(write_sql())
WRITE_ONLY_EVENT, WRITE_ONLY_BATCH = _texts(write_sql(with_rollups=False))
ROLLUPS_EVENT, ROLLUPS_BATCH = _texts(rollups_sql())


def encode_events(rows: Sequence[dict[str, Any]]) -> str:
    """The `:rows` document of usage events with every column of COLUMNS, in that order."""
    if rows and tuple(rows[0]) != COLUMNS:
        raise ValueError("a usage event is written with every column of usage_write.COLUMNS, in order")
    return encode_rows(rows)


async def write_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, with_rollups: bool = True
) -> dict[str, int]:
    """Insert `rows` (usage events with every column of COLUMNS, in that order), their ledger entries and
    (unless told otherwise) their rollups; answers the rows written or upserted per table."""
    if not rows:
        return {}
    document = encode_events(rows)
    single, batch = (WRITE_EVENT, WRITE_BATCH) if with_rollups else (WRITE_ONLY_EVENT, WRITE_ONLY_BATCH)
    result = await session.execute(single if len(rows) == 1 else batch, {"rows": document})
    return dict(result.one()._mapping)


async def add_rollups(session: AsyncSession, account_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """Add the account's events `ids`, written without their rollups, to every rollup table; answers the
    rows upserted per table."""
    values = {"account": account_id, "ids": ",".join([str(i) for i in ids])}
    result = await session.execute(ROLLUPS_EVENT if len(ids) == 1 else ROLLUPS_BATCH, values)
    return dict(result.one()._mapping)
