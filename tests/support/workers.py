"""arq test plumbing: a queue of the test module's own (parallel runs never pick up each other's
jobs) and a burst worker with the production startup (its own Database from the settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker

from cockpit_graphql.settings import Settings
from cockpit_graphql.workers.settings import shutdown, startup


async def queue_pool(settings: Settings, queue_name: str) -> AsyncIterator[ArqRedis]:
    """Body of a `queue` fixture: a pool whose default queue is `queue_name`."""
    pool = await create_pool(RedisSettings.from_dsn(settings.redis_url), default_queue_name=queue_name)
    yield pool
    await pool.aclose()


async def run_burst_worker(settings: Settings, queue_name: str, functions: Sequence[Any]) -> Worker:
    """Run every job queued on `queue_name`, then return the worker (for its counters)."""
    worker = Worker(
        functions=list(functions),
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=queue_name,
        burst=True,
        poll_delay=0.1,
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=False,
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker
