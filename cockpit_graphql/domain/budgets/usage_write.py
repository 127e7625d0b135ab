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
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.bulk import encode_value, recordset_sql
from cockpit_graphql.db.tables import UsageEvent
from cockpit_graphql.domain.budgets.scopes import LedgerKind
from cockpit_graphql.domain.observability import rollups


@dataclass(slots=True)
class RecordedEvent:
    """A usage event as written: every column of the usage_events row, in the table's order (the caller
    answers them as the recorded events: the GraphQL UsageEvent reads the same attribute names as a table
    row)."""

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

_PER_ROW = (
    "id",
    "idempotency_key",
    "occurred_at",
    "user_id",
    "organization_id",
    "team_id",
    "cost_usd",
    "credits",
    "included_credits",
)
"""The keys every event's object in the document has."""

_DEFAULTS: dict[str, str | None] = {  # column -> its SQL when the event's object leaves the key out (None: NULL)
    "cycle_id": ":cycle_id",
    "late": "false",
    "agent_id": None,
    "model_id": None,
    "connection_ids": "'{}'::text[]",
    "guardrails": "'{}'::text[]",
    "tokens_in": "0",
    "tokens_out": "0",
    "credits_per_usd": "CAST(:credits_per_usd AS numeric)",
    "overflow_credits": "0",
    "reservation_id": None,
}
"""The keys an event's object has only when its value differs from the call's: the first event's cycle
and factor, or the column's plain default. PostgreSQL converts every requested key of every object with
its type's input function (~0.5 ms per column per 1,000 rows) and tokenizes the whole document, so
the document carries only what varies: the 22-column document cost 16.7 ms to read for 1,000 events,
nine columns of a document without the rest 4.1 (EXPLAIN ANALYZE, docs/performance.md)."""

_PER_CALL = {"account_id": ":account_id", "recorded_at": ":recorded_at"}  # the same for every event of a call


def _column_sql(name: str) -> str:
    if name in _PER_CALL:
        return _PER_CALL[name]
    default = _DEFAULTS.get(name)
    return f"r.{name}" if default is None else f"coalesce(r.{name}, {default})"


def _insert_events_sql() -> str:
    ways = [*_PER_ROW, *_DEFAULTS, *_PER_CALL]
    if sorted(ways) != sorted(COLUMNS):
        raise AssertionError("every column of a usage event is written exactly one way")
    keys = tuple(name for name in COLUMNS if name in _PER_ROW or name in _DEFAULTS)
    values = ", ".join(_column_sql(name) for name in COLUMNS)
    source = recordset_sql(UsageEvent.__table__, keys, "r")
    return f"INSERT INTO usage_events ({', '.join(COLUMNS)}) SELECT {values} FROM {source}"


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
    events = _insert_events_sql() + " RETURNING *"
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


_CALL_PARAMETERS = (
    sa.bindparam("account_id", type_=PG_UUID(as_uuid=True)),
    sa.bindparam("recorded_at", type_=sa.DateTime(timezone=True)),
    sa.bindparam("cycle_id", type_=PG_UUID(as_uuid=True)),
    sa.bindparam("credits_per_usd", type_=sa.Text),
)
WRITE_EVENT, WRITE_BATCH = (t.bindparams(*_CALL_PARAMETERS) for t in _texts(write_sql()))
WRITE_ONLY_EVENT, WRITE_ONLY_BATCH = (t.bindparams(*_CALL_PARAMETERS) for t in _texts(write_sql(with_rollups=False)))
ROLLUPS_EVENT, ROLLUPS_BATCH = _texts(rollups_sql())


def encode_events(events: Sequence[RecordedEvent]) -> tuple[str, dict[str, object]]:
    """The `:rows` document of `events` (their objects keep only what varies, see `_DEFAULTS`) and the
    call's parameters. ValueError when the events do not share their account and recording time."""
    first = events[0]
    account, recorded, cycle, factor = first.account_id, first.recorded_at, first.cycle_id, first.credits_per_usd
    rows = []
    for e in events:
        if (e.account_id is not account and e.account_id != account) or e.recorded_at != recorded:
            raise ValueError("the events of one write share their account and recording time")
        row: dict[str, object] = {
            "id": e.id,
            "idempotency_key": e.idempotency_key,
            "occurred_at": e.occurred_at,
            "user_id": e.user_id,
            "organization_id": e.organization_id,
            "team_id": e.team_id,
            "cost_usd": e.cost_usd,
            "credits": e.credits,
            "included_credits": e.included_credits,
        }
        if e.cycle_id is not cycle and e.cycle_id != cycle:
            row["cycle_id"] = e.cycle_id
        if e.late:
            row["late"] = True
        if e.agent_id is not None:
            row["agent_id"] = e.agent_id
        if e.model_id is not None:
            row["model_id"] = e.model_id
        if e.connection_ids:
            row["connection_ids"] = e.connection_ids
        if e.guardrails:
            row["guardrails"] = e.guardrails
        if e.tokens_in:
            row["tokens_in"] = e.tokens_in
        if e.tokens_out:
            row["tokens_out"] = e.tokens_out
        if e.overflow_credits:
            row["overflow_credits"] = e.overflow_credits
        if e.credits_per_usd != factor:
            row["credits_per_usd"] = e.credits_per_usd
        if e.reservation_id is not None:
            row["reservation_id"] = e.reservation_id
        rows.append(row)
    parameters = {"account_id": account, "recorded_at": recorded, "cycle_id": cycle, "credits_per_usd": str(factor)}
    return orjson.dumps(rows, default=encode_value).decode(), parameters


async def write_events(
    session: AsyncSession, events: Sequence[RecordedEvent], *, with_rollups: bool = True
) -> dict[str, int]:
    """Insert `events`, their ledger entries and (unless told otherwise) their rollups; answers the rows
    written or upserted per table."""
    if not events:
        return {}
    document, parameters = encode_events(events)
    single, batch = (WRITE_EVENT, WRITE_BATCH) if with_rollups else (WRITE_ONLY_EVENT, WRITE_ONLY_BATCH)
    result = await session.execute(single if len(events) == 1 else batch, {"rows": document, **parameters})
    return dict(result.one()._mapping)


async def add_rollups(session: AsyncSession, account_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """Add the account's events `ids`, written without their rollups, to every rollup table; answers the
    rows upserted per table."""
    values = {"account": account_id, "ids": ",".join([str(i) for i in ids])}
    result = await session.execute(ROLLUPS_EVENT if len(ids) == 1 else ROLLUPS_BATCH, values)
    return dict(result.one()._mapping)
