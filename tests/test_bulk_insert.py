"""`insert_rows` (db/bulk.py): one statement, every value back exactly as sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

from cockpit_graphql.db.bulk import insert_rows
from cockpit_graphql.db.statements import count_statements

PROBE = sa.Table(
    "bulk_probe",
    sa.MetaData(),
    sa.Column("id", PG_UUID(as_uuid=True), primary_key=True),
    sa.Column("amount", sa.Numeric(20, 10), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("tags", ARRAY(sa.Text), nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("count", sa.Integer, nullable=False, server_default="7"),
)

CREATE = """CREATE TEMP TABLE bulk_probe (id uuid PRIMARY KEY, amount numeric(20, 10) NOT NULL, at timestamptz,
tags text[] NOT NULL, flag boolean NOT NULL, note text, count integer NOT NULL DEFAULT 7) ON COMMIT DROP"""


def _rows() -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "amount": Decimal("12345678.0000000001"),
            "at": datetime(2026, 11, 27, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
            "tags": ["a", "b c", 'quote"d', "ünï"],
            "flag": True,
            "note": "line\nbreak \\ backslash",
        },
        {"id": uuid.uuid4(), "amount": Decimal("1E-10"), "at": None, "tags": [], "flag": False, "note": None},
        {"id": uuid.uuid4(), "amount": Decimal("1.5E+7"), "at": None, "tags": [], "flag": False, "note": None},
        {"id": uuid.uuid4(), "amount": Decimal("-2.50E-8"), "at": None, "tags": [], "flag": False, "note": None},
        {
            "id": uuid.uuid4(),
            "amount": Decimal("0"),
            "at": datetime(1, 1, 1, tzinfo=UTC),
            "tags": [""],
            "flag": True,
            "note": "",
        },
    ]


async def test_rows_come_back_exactly_in_one_statement(db: Any) -> None:
    rows = _rows()
    async with db.platform() as session:
        await session.execute(sa.text(CREATE))
        with count_statements() as counter:
            await insert_rows(session, PROBE, rows)
        stored = {r.id: r for r in (await session.execute(sa.select(PROBE))).all()}
    assert counter.count == 1
    assert len(stored) == len(rows)
    for row in rows:
        got = stored[row["id"]]
        for name, value in row.items():
            assert getattr(got, name) == value, name
        assert got.count == 7  # a column left out takes its database default


async def test_an_empty_batch_sends_nothing(db: Any) -> None:
    async with db.platform() as session:
        with count_statements() as counter:
            await insert_rows(session, PROBE, [])
    assert counter.count == 0


async def test_rows_must_share_their_columns_and_name_real_ones(db: Any) -> None:
    first, second, *_ = _rows()
    del second["note"]
    async with db.platform() as session:
        with pytest.raises(ValueError, match="same columns"):
            await insert_rows(session, PROBE, [first, second])
        with pytest.raises(ValueError, match="no column colour"):
            await insert_rows(session, PROBE, [{**first, "colour": "red"}])
