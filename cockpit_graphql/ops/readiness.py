"""`/readyz`: may this process take traffic? The database (as the app role, through the app's pool)
must answer within `READINESS_TIMEOUT_SECONDS`; Redis is asked concurrently.

Redis only serves the rate limiter on a request's path (the arq jobs are enqueued by the worker's
cron, never by a request), and the limiter fails open by default: then a Redis outage leaves every
replica able to serve, so /readyz stays ready and reports Redis `degraded` (a 503 would make the
load balancer drain every replica at once). With `RATE_LIMIT_FAIL_OPEN=false` the limiter refuses
every request while Redis is down, so the replica is not ready. The database is needed by every
request: failed → not ready. `/healthz` stays a liveness probe (the process answers) and touches nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import sqlalchemy as sa
from redis.asyncio import Redis

from cockpit_graphql.db.engine import Database


async def _database(db: Database) -> None:
    async with db.platform() as session:
        await session.execute(sa.text("SELECT 1"))


async def _redis(redis_url: str, seconds: float) -> None:
    redis = Redis.from_url(redis_url, socket_timeout=seconds, socket_connect_timeout=seconds)
    try:
        await redis.ping()
    finally:
        await redis.aclose()


async def _probe(check: Awaitable[None], seconds: float) -> str:
    try:
        await asyncio.wait_for(check, seconds)
    except TimeoutError:
        return f"failed: no answer within {seconds:g} s"
    except Exception as exc:  # the class only: messages can carry hosts or credentials
        return f"failed: {type(exc).__name__}"
    return "ok"


async def readiness(
    db: Database | None, redis_url: str, seconds: float, redis_required: bool = True
) -> tuple[bool, dict[str, str]]:
    """(ready, {"database": "ok" | "failed: …", "redis": "ok" | "failed: …" | "degraded: …"}).

    `redis_required=False` (the rate limiter fails open): a Redis failure is reported as
    `degraded: <reason>` and does not make the process unready."""
    database = _probe(_database(db), seconds) if db is not None else _skipped()
    results = await asyncio.gather(database, _probe(_redis(redis_url, seconds), seconds))
    checks = {"database": results[0], "redis": results[1]}
    if not redis_required and checks["redis"] != "ok":
        checks["redis"] = "degraded: " + checks["redis"].removeprefix("failed: ")
    return all(v == "ok" or v.startswith("degraded") for v in checks.values()), checks


async def _skipped() -> str:
    return "failed: not started"
