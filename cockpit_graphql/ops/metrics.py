"""Prometheus metrics (`GET /metrics`): GraphQL requests by operation and outcome, latency and SQL
statements per request, rate limiter health; queue depth and job outcomes read from Redis at scrape.

Several uvicorn workers (`cockpit serve --workers N`): every worker process writes its samples to
files in `PROMETHEUS_MULTIPROC_DIR` (prometheus-client's multiprocess mode, chosen when the variable
is set before prometheus_client is first imported; `cockpit serve` sets and empties it), and a
scrape of any worker merges all of them, so one scrape sees every worker's requests. Without the
variable (one process: tests, `make run`) the samples live in this module's registry.

Queue depth and job outcomes are not per process: they are read from Redis when scraped (the worker
counts each job's outcome in a Redis hash, see ops/metrics_jobs.py), so every replica reports the
same values: aggregate them with `max`, not `sum`.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from redis.asyncio import Redis

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATION_NAMES = 200
"""Distinct operation names per process before further new names are reported as `other` (clients
choose operation names; a bounded label set keeps a hostile client from exploding the series). Only
requests of an authenticated principal name their operation: a client without a valid token gets
`unauthenticated`, so it can neither add series nor use up the cap."""

NO_OPERATION = "none"  # the request never reached GraphQL (refused by authentication or the body limit)
ANONYMOUS = "anonymous"  # an authenticated request whose operation has no name
UNAUTHENTICATED = "unauthenticated"  # a request without a principal, whatever its operation name
OTHER = "other"

disable_created_metrics()  # the *_created series only add noise here

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "cockpit_graphql_requests",
    "GraphQL requests (POST /graphql) by operation name, operation type and outcome "
    "(ok, user_error, or the first error's extensions.code).",
    ["operation", "operation_type", "outcome"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "cockpit_graphql_request_duration_seconds",
    "Wall time of a GraphQL request, from the first byte in to the last byte out.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
SQL_STATEMENTS = Histogram(
    "cockpit_graphql_sql_statements",
    "SQL statements run for one GraphQL request (the x-sql-statements header).",
    ["operation"],
    buckets=(0, 1, 2, 4, 6, 10, 15, 20, 30, 50, 100, 200, 500, 1000),
    registry=REGISTRY,
)
OPERATION_WAIT = Histogram(
    "cockpit_graphql_operation_wait_seconds",
    "Time a GraphQL operation waited for its turn to execute (MAX_CONCURRENT_OPERATIONS per worker).",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
METERING_TURN_WAIT = Histogram(
    "cockpit_graphql_metering_turn_wait_seconds",
    "Time a metering mutation waited for its account's turn in the worker (METERING_TURNS_PER_ACCOUNT).",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
RATE_LIMIT_UNAVAILABLE = Counter(
    "cockpit_rate_limit_unavailable",
    "Requests whose rate limit could not be checked because Redis did not answer (fail-open serves them).",
    registry=REGISTRY,
)

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,99}$")
_seen: set[str] = set()


def operation_label(name: str | None, authenticated: bool) -> str:
    """A bounded label for a client-chosen operation name; only an authenticated request's name is
    admitted to the label set (and counts against MAX_OPERATION_NAMES)."""
    if not authenticated:
        return UNAUTHENTICATED
    if not name:
        return ANONYMOUS
    if name in _seen:
        return name
    if not _NAME.match(name) or len(_seen) >= MAX_OPERATION_NAMES:
        return OTHER
    _seen.add(name)
    return name


def observe_request(operation: str, operation_type: str, outcome: str, seconds: float, statements: int) -> None:
    REQUESTS.labels(operation, operation_type, outcome).inc()
    DURATION.labels(operation).observe(seconds)
    SQL_STATEMENTS.labels(operation).observe(statements)


class _Families:
    """A collector that yields metric families computed before the (synchronous) collection."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class _Forward:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


async def redis_families(redis_url: str, queue_name: str, jobs_key: str, seconds: float = 1.0) -> list[Metric]:
    """Queue depth and job outcomes from Redis; `cockpit_redis_up` 0 (and nothing else) when it fails."""
    up = GaugeMetricFamily("cockpit_redis_up", "1 when Redis answered this scrape, else 0.")
    queue = GaugeMetricFamily(
        "cockpit_queue_jobs", "Jobs waiting in the arq queue (queued or deferred), read at scrape.", labels=["queue"]
    )
    jobs = CounterMetricFamily(
        "cockpit_jobs",
        "arq job runs by job name and outcome (success, failure, retry, cancelled), counted by the workers in Redis.",
        labels=["job", "outcome"],
    )
    redis = Redis.from_url(redis_url, socket_timeout=seconds, socket_connect_timeout=seconds)
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zcard(queue_name)
            pipe.hgetall(jobs_key)
            depth, counts = await asyncio.wait_for(pipe.execute(), seconds * 2)
    except Exception:
        up.add_metric([], 0)
        return [up]
    finally:
        await redis.aclose()
    up.add_metric([], 1)
    queue.add_metric([queue_name], int(depth))
    for field, value in sorted(counts.items()):
        job, _, outcome = field.decode().rpartition("|")
        if job:
            jobs.add_metric([job, outcome], float(value))
    return [up, queue, jobs]


def render(extra: Iterable[Metric] = (), multiproc_dir: str | None = None) -> bytes:
    """The exposition text: this process's (or, in multiprocess mode, every worker's) samples plus `extra`."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiproc_dir or os.environ.get(MULTIPROC_ENV)
    if directory:
        MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Forward(REGISTRY))  # type: ignore[arg-type]
    registry.register(_Families(extra))  # type: ignore[arg-type]
    return generate_latest(registry)


CONTENT_TYPE = CONTENT_TYPE_LATEST


def prepare_multiproc_dir(path: str) -> None:
    """Create the directory and remove samples of earlier runs (their pids could be reused)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def describe() -> dict[str, Any]:
    """Metric names and help texts (docs/operations.md lists the same)."""
    return {m.name: m.documentation for m in REGISTRY.collect()}
