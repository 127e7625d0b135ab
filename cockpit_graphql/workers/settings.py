"""arq WorkerSettings: explicit job names; jobs call the same domain services as resolvers."""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from cockpit_graphql.db.engine import Database
from cockpit_graphql.ops.metrics_jobs import count_cron_jobs, count_functions
from cockpit_graphql.settings import get_settings
from cockpit_graphql.workers import budgets, observability
from cockpit_graphql.workers.heartbeat import heartbeat


async def startup(ctx: dict[str, Any]) -> None:
    ctx["db"] = Database.for_jobs(get_settings())
    await heartbeat(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    db = ctx.get("db")
    if db is not None:
        await db.dispose()


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url)


class WorkerSettings:
    # every job run counts its outcome in Redis for /metrics (ops/metrics_jobs.py)
    functions = count_functions(
        [heartbeat, *budgets.FUNCTIONS, *observability.FUNCTIONS], get_settings().metrics_jobs_key
    )
    cron_jobs = count_cron_jobs(
        [
            cron(heartbeat, name="worker.heartbeat", second={0, 15, 30, 45}, run_at_startup=False),
            *budgets.CRON_JOBS,  # renewal sweep every 5 minutes, reservation expiry every minute
            *observability.CRON_JOBS,  # anomaly recording daily at 00:20 UTC
        ],
        get_settings().metrics_jobs_key,
    )
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = redis_settings()
    queue_name = get_settings().worker_queue_name
    health_check_interval = 30
