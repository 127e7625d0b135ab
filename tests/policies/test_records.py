"""The plain records the policy statement builds from JSON equal what the ORM would read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from cockpit_graphql.domain.policies.records import GuardrailRecord, ModelRecord


def test_json_timestamps_become_utc_instants_whatever_the_session_time_zone() -> None:
    """PostgreSQL renders a timestamptz in JSON in the session's TimeZone; asyncpg returns UTC. The
    records give the same instant in UTC, so an answer never depends on the server's TimeZone."""
    ident = uuid.uuid4()
    model = ModelRecord.from_array(
        [
            str(ident),
            "OPENAI",
            "gpt-x",
            "GPT X",
            ["CHAT"],
            "2.1234567891",
            "0.0000000001",
            True,
            False,
            "2026-11-27T09:00:00.5+01:00",
            "2026-11-27T03:30:00-05:00",
        ]
    )
    assert model.created_at == datetime(2026, 11, 27, 8, 0, 0, 500_000, tzinfo=UTC)
    assert model.created_at.utcoffset() is not None and model.created_at.tzinfo is UTC
    assert model.updated_at == datetime(2026, 11, 27, 8, 30, tzinfo=UTC) and model.updated_at.tzinfo is UTC
    assert (model.id, model.input_usd_per_mtok, model.output_usd_per_mtok) == (
        ident,
        Decimal("2.1234567891"),
        Decimal("0.0000000001"),
    )
    guardrail = GuardrailRecord.from_document(
        {
            "account_id": str(uuid.uuid4()),
            "id": str(uuid.uuid4()),
            "name": "PII",
            "type": "PII_REDACTION",
            "mode": "REDACT",
            "config": {},
            "created_at": "2026-11-27T10:00:00+02:00",
            "updated_at": "2026-11-27T08:00:00+00:00",
        }
    )
    assert guardrail.created_at == guardrail.updated_at and guardrail.created_at.tzinfo is UTC
