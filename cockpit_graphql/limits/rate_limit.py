"""Rate limiting per principal on calculated query cost: one token bucket per principal in Redis,
shared by every replica and worker process; requests without a principal (introspection, refused
authentication) take from one bucket per client address, with smaller settings of its own.

The bucket holds up to `capacity` cost units and refills `refill_per_second` units per second.
A request takes its cost (the same number QueryLimits computes and reports in `extensions.cost`);
when the bucket holds less, the request is refused with RATE_LIMITED and told how long to wait.
A request that costs more than the capacity is charged the capacity (it needs a full bucket), so
no valid query is refused forever.

The whole decision is one atomic Lua script (EVALSHA; redis-py falls back to EVAL once per Redis
restart), on Redis's own clock (`TIME`), so replicas with skewed clocks agree. A bucket that was
not touched for the time it takes to refill expires: an idle principal costs no memory.

When Redis cannot answer (down, slow beyond `timeout`), the limiter *fails open* by default: the
request is served, a warning is logged and `cockpit_rate_limit_unavailable_total` counts it; for
`breaker_seconds` after a failure no request waits on Redis again; when the window expires exactly
one request probes (the window is re-armed before it awaits Redis, and closed when Redis answers), so
a Redis outage neither stalls requests nor floods the logs. `fail_open=False` refuses instead.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from cockpit_graphql.domain.accounts.rate_limits import RateLimitSetting

log = logging.getLogger("cockpit.rate_limit")

TOKEN_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = tokens + (now - ts) * refill / 1000
else
  now = ts
end
if tokens > capacity then
  tokens = capacity
end
local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) * 1000 / refill)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / refill) + 1000)
return {allowed, string.format('%.6f', tokens), retry_ms}
"""


@dataclass(frozen=True)
class Decision:
    """The answer for one request. `checked` is False when Redis could not be asked."""

    allowed: bool
    limit: int
    remaining: int
    cost: int
    retry_after_seconds: float | None = None
    checked: bool = True


def bucket_key(prefix: str, account_id: object | None, kind: str, principal_id: object) -> str:
    """One bucket per principal within its account: `<prefix><account|platform>:<user|operator>:<id>`."""
    return f"{prefix}{account_id if account_id is not None else 'platform'}:{kind}:{principal_id}"


def anonymous_bucket_key(prefix: str, address: str | None) -> str:
    """Requests without a principal share one bucket per client address: `<prefix>anonymous:ip:<addr>`."""
    return f"{prefix}anonymous:ip:{address or 'unknown'}"


class RateLimiter:
    """Token buckets in Redis; one EVALSHA per checked request. Create once per app (process)."""

    def __init__(
        self,
        redis_url: str,
        *,
        timeout: float = 0.25,
        fail_open: bool = True,
        breaker_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_unavailable: Callable[[], None] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.timeout = timeout
        self.fail_open = fail_open
        self.breaker_seconds = breaker_seconds
        self.clock = clock
        self.on_unavailable = on_unavailable
        self._redis: Redis | None = None
        self._script: Any = None
        self._open_until = 0.0

    def _client(self) -> Any:
        if self._redis is None:
            self._redis = Redis.from_url(
                self.redis_url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry_on_timeout=False,
            )
            self._script = self._redis.register_script(TOKEN_BUCKET_LUA)
        return self._script

    def _unavailable(self, setting: RateLimitSetting, cost: int, reason: str) -> Decision:
        if self.on_unavailable is not None:
            self.on_unavailable()
        if self.fail_open:
            return Decision(True, setting.capacity, setting.capacity, cost, None, checked=False)
        return Decision(False, setting.capacity, 0, cost, self.breaker_seconds or 1.0, checked=False)

    async def check(self, key: str, setting: RateLimitSetting, cost: int) -> Decision:
        charge = min(max(cost, 0), setting.capacity)
        if charge == 0:
            return Decision(True, setting.capacity, setting.capacity, cost, None, checked=False)
        now = self.clock()
        if now < self._open_until:
            return self._unavailable(setting, cost, "breaker open")
        probe = self._open_until > 0.0
        if probe:  # the window expired: this request probes, the others skip Redis until it answers
            self._open_until = now + self.breaker_seconds
        try:
            script = self._client()
            allowed, tokens, retry_ms = await script(
                keys=[key], args=[setting.capacity, repr(float(setting.refill_per_second)), charge]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            self._open_until = self.clock() + self.breaker_seconds
            log.warning(
                "rate limiter: Redis unavailable (%s: %s); failing %s for %.0f s",
                type(exc).__name__,
                exc,
                "open" if self.fail_open else "closed",
                self.breaker_seconds,
            )
            return self._unavailable(setting, cost, str(exc))
        if probe:
            self._open_until = 0.0  # Redis answered: closed again
        remaining = math.floor(float(tokens))
        if int(allowed) == 1:
            return Decision(True, setting.capacity, remaining, cost)
        return Decision(False, setting.capacity, remaining, cost, round(int(retry_ms) / 1000, 3))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
            self._script = None
