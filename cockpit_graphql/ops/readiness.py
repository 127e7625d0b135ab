"""`/readyz`: may this process take traffic? The database (as the app role, through the app's pool)
and Redis must answer, each within `READINESS_TIMEOUT_SECONDS`; both are asked concurrently.
`/healthz` stays a liveness probe (the process answers) and touches nothing."""

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


async def readiness(db: Database | None, redis_url: str, seconds: float) -> tuple[bool, dict[str, str]]:
    """(ready, {"database": "ok" | "failed: …", "redis": …})."""
    database = _probe(_database(db), seconds) if db is not None else _skipped()
    results = await asyncio.gather(database, _probe(_redis(redis_url, seconds), seconds))
    checks = {"database": results[0], "redis": results[1]}
    return all(v == "ok" for v in checks.values()), checks


async def _skipped() -> str:
    return "failed: not started"
