"""At most `limit` GraphQL operations execute at once in one worker process; the others wait their
turn, first come first served (MAX_CONCURRENT_OPERATIONS; 0 removes the limit).

Why: interleaving many operations in one event loop costs CPU. Measured with `make bench-peer` on
the directory page (1,000 users, one worker, c=16, docs/performance.md): 98.9 ms of server CPU per
page with 16 pages in flight, 74.6 ms with 2 at a time and 81.9 ms with 4, against 73.8 ms at c=1;
throughput 9.8 → 13.1 (2) and 12.1 (4) pages/s, p99 2.0 → 1.4 and 1.5 s. Sixteen half-built
responses are alive at once instead of a few; raising the collector's thresholds did not change the
figure, so the cost is not the collector's (more live memory per unit of work is the likely one).
Small operations are unaffected (effectiveAccess: the same req/s with and without, within noise).

The cost is head-of-line waiting: an operation that holds its turn while it waits on PostgreSQL
delays the next one in its worker. The time operations spent waiting is exported
(`cockpit_graphql_operation_wait_seconds`), and the runbook says when to raise the limit. A waiting
operation has not begun: it holds no database connection, transaction or lock, so it blocks nobody."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class OperationGate:
    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("the operation limit is a count (0: no limit)")
        self.limit = limit
        # asyncio.Semaphore binds no event loop until it first makes a caller wait
        self._turns = asyncio.Semaphore(limit) if limit else None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[float]:
        """Hold a turn for the body of the `async with`; yields the seconds waited for it."""
        if self._turns is None:
            yield 0.0
            return
        asked = time.perf_counter()
        async with self._turns:
            yield time.perf_counter() - asked
