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

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.bulk import encode_value, insert_select_sql
from cockpit_graphql.db.tables import UsageEvent
from cockpit_graphql.domain.budgets.scopes import LedgerKind
from cockpit_graphql.domain.observability import rollups


@dataclass(slots=True)
class RecordedEvent:
    """A usage event as written: every column of the usage_events row, in the table's order. The write
    encodes these objects as they are (orjson reads a dataclass's slots in order), and the caller answers
    them as the recorded events (the GraphQL UsageEvent reads the same attribute names as a table row)."""

    account_id: uuid.UUID
    id: uuid.UUID
    idempotency_key: str
    cycle_id: uuid.UUID
    occurred_at: datetime
    recorded_at: datetime
    late: bool
    user_id: uuid.UUID
    organization_id: uuid.UUID
    team_id: uuid.UUID
    agent_id: str | None
    model_id: str | None
    connection_ids: list[str]
    guardrails: list[str]
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    credits_per_usd: Decimal
    credits: Decimal
    included_credits: Decimal
    overflow_credits: Decimal
    reservation_id: uuid.UUID | None


_VERSION_4 = (4 << 76) | (2 << 62)  # RFC 9562: version 4 in bits 76-79, variant 0b10 in bits 62-63
_KEEP_RANDOM = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)


def new_event_ids(count: int) -> list[uuid.UUID]:
    """`count` random (version 4) UUIDs from one read of the OS's random source: `uuid.uuid4()` reads it
    once per id, ~2 µs each, 2 ms of a 1,000-event batch; this takes ~1."""
    pool = os.urandom(16 * count)
    return [
        uuid.UUID(int=(int.from_bytes(pool[at : at + 16]) & _KEEP_RANDOM) | _VERSION_4)
        for at in range(0, 16 * count, 16)
    ]


COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(RecordedEvent))
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


def encode_events(events: Sequence[RecordedEvent]) -> str:
    """The `:rows` document of `events`: one JSON object per event with every column of COLUMNS, in that
    order, straight from the dataclass (building a dict per event first cost ~0.5 ms a batch)."""
    return orjson.dumps(events, default=encode_value).decode()


async def write_events(
    session: AsyncSession, events: Sequence[RecordedEvent], *, with_rollups: bool = True
) -> dict[str, int]:
    """Insert `events`, their ledger entries and (unless told otherwise) their rollups; answers the rows
    written or upserted per table."""
    if not events:
        return {}
    document = encode_events(events)
    single, batch = (WRITE_EVENT, WRITE_BATCH) if with_rollups else (WRITE_ONLY_EVENT, WRITE_ONLY_BATCH)
    result = await session.execute(single if len(events) == 1 else batch, {"rows": document})
    return dict(result.one()._mapping)


async def add_rollups(session: AsyncSession, account_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """Add the account's events `ids`, written without their rollups, to every rollup table; answers the
    rows upserted per table."""
    values = {"account": account_id, "ids": ",".join([str(i) for i in ids])}
    result = await session.execute(ROLLUPS_EVENT if len(ids) == 1 else ROLLUPS_BATCH, values)
    return dict(result.one()._mapping)
