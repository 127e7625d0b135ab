"""The worker's heartbeat: a Redis key that `cockpit doctor` checks for freshness."""

from __future__ import annotations

import time
from typing import Any

HEARTBEAT_KEY = "cockpit:worker:heartbeat"


async def heartbeat(ctx: dict[str, Any]) -> float:
    now = time.time()
    await ctx["redis"].set(HEARTBEAT_KEY, str(now), ex=3600)
    return now


async def heartbeat_age(redis: Any) -> float | None:
    raw = await redis.get(HEARTBEAT_KEY)
    if raw is None:
        return None
    return time.time() - float(raw)
