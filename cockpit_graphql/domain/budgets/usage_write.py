"""Writing a call's new usage events: ONE statement inserts the events, derives their ledger entries
from the inserted rows and adds them to every daily rollup table.

Each event's ledger entries are `USAGE` (−its included credits) and `OVERFLOW_USAGE` (−its overflow
credits), each only when that part is not zero (domain.md §2's ledger table). They used to be built in
Python (a dict, a uuid4 and a JSON value per entry) and sent as a second statement, and the rollups'
statement then read the just-inserted events back by id; here PostgreSQL derives both from the
INSERT's RETURNING rows: one round trip, one JSON document, no event read twice. The three writes still
succeed or fail together (one statement, in the caller's transaction). The caller holds the account's
budget mutex and passes only events it has decided to write (never replays).
"""

from __future__ import annotations

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


def write_sql() -> str:
    """The statement: `written` (the INSERT of the `:rows` document, answering every column), `ledger`
    and the rollup upserts; it answers the rows written per table."""
    events = insert_select_sql(UsageEvent.__table__, COLUMNS) + " RETURNING *"
    rollup_ctes, rollup_counts = rollups.add_ctes(rollups.input_sql("written e"))
    ctes = [f"written AS ({events})", f"ledger AS ({_LEDGER})", *rollup_ctes]
    written = "(SELECT count(*) FROM written) AS usage_events, (SELECT count(*) FROM ledger) AS ledger_entries"
    counts = f"{written}, {rollup_counts}"
    return "WITH " + ",\n".join(ctes) + f"\nSELECT {counts}"


WRITE_EVENT = sa.text(write_sql())
# The same statement under a second text for batches: PostgreSQL keeps one plan per prepared text, and a
# generic plan learned from one-event calls must never run a 1,000-event batch (docs/performance.md).
WRITE_BATCH = sa.text(WRITE_EVENT.text + "\n-- batch")


async def write_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert `rows` (usage events with every column of COLUMNS, in that order), their ledger entries and
    their rollups; answers the rows written or upserted per table."""
    if not rows:
        return {}
    if tuple(rows[0]) != COLUMNS:
        raise ValueError("a usage event is written with every column of usage_write.COLUMNS, in order")
    statement = WRITE_EVENT if len(rows) == 1 else WRITE_BATCH
    result = await session.execute(statement, {"rows": encode_rows(rows)})
    return dict(result.one()._mapping)
