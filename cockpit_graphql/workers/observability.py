"""Observability jobs: rebuild an account's daily usage rollups for a range of UTC days from the raw
usage events (repair or catch-up; the write path keeps them current on its own). The job id is
deterministic per (account, range), so a range is queued once; running it twice changes nothing
(rebuild_rollups recomputes the days under the account's budget mutex, in one transaction)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job
from arq.worker import Function, func

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.domain.observability.rollups import rebuild_rollups as rebuild

REBUILD_ROLLUPS = "observability.rebuild_rollups"


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


FUNCTIONS: list[Function] = [func(rebuild_rollups, name=REBUILD_ROLLUPS)]
