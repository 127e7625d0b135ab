"""Job outcomes for /metrics: every arq job run (queued or cron) counts its outcome in one Redis hash,
`<key>` field `<job name>|<outcome>` (HINCRBY), which the API reads when /metrics is scraped.

Why Redis and not the worker's own process metrics: the worker is another process, often on another
host, and there may be several; Redis is already the one place they all share, the counts survive a
worker restart, and no extra port or scrape target is needed. The hash grows by one field per (job,
outcome): a handful.

Outcomes: `success`; `retry` (the job raised arq's Retry); `cancelled` (timeout or abort);
`failure` (any other exception). Counting never fails a job: a Redis error there is logged only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from arq.cron import CronJob
from arq.worker import Function, Retry, func

from cockpit_graphql.logging_setup import job_context

log = logging.getLogger("cockpit.jobs")

DEFAULT_KEY = "cockpit:metrics:jobs"


def _outcome(exc: BaseException | None) -> str:
    if exc is None:
        return "success"
    if isinstance(exc, Retry):
        return "retry"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "failure"


async def _count(ctx: dict[str, Any], key: str, name: str, outcome: str) -> None:
    redis = ctx.get("redis")
    if redis is None:
        return
    try:
        await asyncio.wait_for(redis.hincrby(key, f"{name}|{outcome}", 1), 2.0)
    except Exception as exc:  # counting must never change the job's outcome
        log.warning("could not count job outcome %s|%s: %s", name, outcome, type(exc).__name__)


def counted(name: str, coroutine: Callable[..., Awaitable[Any]], key: str) -> Callable[..., Awaitable[Any]]:
    """Wrap a job coroutine: run it (log lines carry the job name and id), then count its outcome."""

    @functools.wraps(coroutine)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with job_context(name, ctx.get("job_id")):
            try:
                result = await coroutine(ctx, *args, **kwargs)
            except BaseException as exc:
                await _count(ctx, key, name, _outcome(exc))
                raise
            await _count(ctx, key, name, "success")
            return result

    return run


def count_functions(functions: Sequence[Any], key: str = DEFAULT_KEY) -> list[Function]:
    """arq functions (coroutines or Function) with their outcomes counted under their job names."""
    out = []
    for f in functions:
        function = func(f)
        out.append(dataclasses.replace(function, coroutine=counted(function.name, function.coroutine, key)))
    return out


def count_cron_jobs(cron_jobs: Sequence[CronJob], key: str = DEFAULT_KEY) -> list[CronJob]:
    return [dataclasses.replace(cj, coroutine=counted(cj.name, cj.coroutine, key)) for cj in cron_jobs]
