"""Observability jobs: record the cost anomalies of every account daily (with a catch-up of the last
days; idempotent through the table's unique key), and rebuild an account's daily usage rollups for a
range of UTC days from the raw usage events (repair or catch-up; the write path keeps them current on
its own). The rebuild's job id is deterministic per (account, range), so a range is queued once;
running it twice changes nothing (rebuild_rollups recomputes the days under the account's budget
mutex, in one transaction)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from arq import cron
from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Function, func

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.observability.anomaly_records import MAX_CATCH_UP_DAYS, record_range
from cockpit_graphql.domain.observability.rollups import rebuild_rollups as rebuild
from cockpit_graphql.workers.budgets import _account_ids

REBUILD_ROLLUPS = "observability.rebuild_rollups"
RECORD_ANOMALIES = "observability.record_anomalies"
CATCH_UP_DAYS = 7
"""The daily run judges yesterday and re-judges the 6 days before it (late usage; missed runs)."""

log = logging.getLogger(__name__)


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


async def rebuild_rollups(ctx: dict[str, Any], account_id: str, from_day: str, to_day: str) -> dict[str, Any]:
    """Recompute the rollups of one account for the UTC days `from_day`..`to_day` (ISO dates, inclusive)."""
    db: Database = ctx["db"]
    tenant = mint_for_system(uuid.UUID(str(account_id)))
    async with db.tenant(tenant) as session:
        done = await rebuild(session, tenant, _day(from_day), _day(to_day))
    return {
        "from": done.from_day.isoformat(),
        "to": done.to_day.isoformat(),
        "daily": done.daily_rows,
        "tags": done.tag_rows,
    }


def rebuild_job_id(account_id: uuid.UUID, from_day: date, to_day: date) -> str:
    return f"{REBUILD_ROLLUPS}:{account_id}:{from_day.isoformat()}:{to_day.isoformat()}"


async def enqueue_rebuild(pool: ArqRedis, account_id: uuid.UUID, from_day: date, to_day: date) -> Job | None:
    """Queue the rebuild of one account's range once (None when that job is already queued or done)."""
    return await pool.enqueue_job(
        REBUILD_ROLLUPS,
        str(account_id),
        from_day.isoformat(),
        to_day.isoformat(),
        _job_id=rebuild_job_id(account_id, from_day, to_day),
    )


async def record_anomalies(
    ctx: dict[str, Any],
    day: str | None = None,
    days: int = CATCH_UP_DAYS,
    now: datetime | None = None,
    account_id: str | None = None,
) -> dict[str, Any]:
    """For every account (or only `account_id`; one transaction each), record the anomalies of `day`
    (default: yesterday, UTC) and of the `days - 1` days before it. A failing account is logged and does
    not stop the others; the job then fails so that it is visible (the next run's catch-up retries)."""
    db: Database = ctx["db"]
    at = now or datetime.now(UTC)
    last = _day(day) if day is not None else at.astimezone(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=min(max(days, 1), MAX_CATCH_UP_DAYS) - 1)
    recorded, failed = 0, []
    accounts = [uuid.UUID(str(account_id))] if account_id is not None else await _account_ids(db)
    for account in accounts:
        tenant = mint_for_system(account)
        try:
            async with db.tenant(tenant) as session:
                recorded += await record_range(session, tenant, first, last, at)
        except Exception:
            log.exception("anomaly recording failed for account %s", account)
            failed.append(account)
    if failed:
        raise RuntimeError(f"anomaly recording failed for {len(failed)} account(s): {', '.join(map(str, failed))}")
    return {"accounts": len(accounts), "from": first.isoformat(), "to": last.isoformat(), "recorded": recorded}


def record_job_id(day: date) -> str:
    return f"{RECORD_ANOMALIES}:{day.isoformat()}"


async def enqueue_record_anomalies(pool: ArqRedis, day: date) -> Job | None:
    """Queue the recording of `day` (and its catch-up) once (None when already queued or done)."""
    return await pool.enqueue_job(RECORD_ANOMALIES, day.isoformat(), _job_id=record_job_id(day))


FUNCTIONS: list[Function] = [
    func(rebuild_rollups, name=REBUILD_ROLLUPS),
    func(record_anomalies, name=RECORD_ANOMALIES),
]

CRON_JOBS = [
    # Daily at 00:20 UTC, after the usage grace of the day that ended. arq's cron job id is
    # deterministic per (name, run time): one run per day however many workers there are.
    cron(record_anomalies, name=RECORD_ANOMALIES, hour=0, minute=20, second=0, run_at_startup=False),
]
