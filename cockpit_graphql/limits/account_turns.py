"""At most `limit` metering transactions per account at a time in one worker process (1 when the server
runs several workers; see settings.metering_turns_per_account); the account's other ones wait their turn
here, first come first served, holding no database connection.

Why: every authorization and usage write of an account takes the account's budget mutex in PostgreSQL
(docs/budgets.md, "Concurrency"). Sixteen of one account's calls in flight in a worker would hold
sixteen pooled connections, fifteen of them waiting on that lock, and the mutex holder's own steps would
queue in the event loop behind the others' Python (a 1,000-event batch is ~60 ms of it), so it held the
mutex longer and everybody waited longer. Measured with recordUsageBatch, 1,000 events, one account, two
workers at c=16 (bench.usage_floor, docs/performance.md): see the figures there. Calls of different
accounts do not wait for each other here, and a worker's calls still overlap the other workers' (the
write-ahead path, docs/budgets.md: one batch writes its events while another holds the mutex).

The locks are made on first use and dropped when nobody holds or waits for one, so the registry holds
only the accounts with a call in flight."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator


class AccountTurns:
    def __init__(self) -> None:
        self._turns: dict[uuid.UUID, asyncio.Semaphore] = {}
        self._users: dict[uuid.UUID, int] = {}  # holders and waiters per account

    @contextlib.asynccontextmanager
    async def turn(self, account_id: uuid.UUID, limit: int) -> AsyncIterator[float]:
        """Hold one of the account's `limit` turns for the body of the `async with` (0: no limit); yields
        the seconds waited for it. The limit is the first holder's while anybody holds or waits for a turn
        of that account."""
        if limit <= 0:
            yield 0.0
            return
        turns = self._turns.get(account_id)
        if turns is None:
            turns = self._turns[account_id] = asyncio.Semaphore(limit)  # binds no loop until someone waits
        self._users[account_id] = self._users.get(account_id, 0) + 1
        try:
            asked = time.perf_counter()
            async with turns:
                yield time.perf_counter() - asked
        finally:
            left = self._users[account_id] - 1
            if left:
                self._users[account_id] = left
            else:
                del self._users[account_id], self._turns[account_id]

    def in_flight(self) -> int:
        """Accounts with a call holding or waiting for a turn (for tests)."""
        return len(self._turns)


METERING_TURNS = AccountTurns()
"""The worker process's turns for the calls that take an account's budget mutex."""
