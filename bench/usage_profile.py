"""Where a usage batch spends its time inside the account's budget mutex (issues #3 and #7).

    python -m bench.usage_profile [--events 1000] [--calls 12] [--history 20] [--cprofile 30]

A fresh database (`cockpit_usage_profile`, dropped at the end) seeded like `make bench` (20 × 10 × 50
users), a budget plan set through the domain (1e9 credits: every event is included, no notice), then
`--history` batches recorded and committed (so events, ledger and counters are not empty) and the
budget tables analyzed and the garbage collector tuned as the server tunes it (app.tune_gc), then
`--calls` calls of `metering.record_usage` as the app role, each in a transaction that is rolled back,
so every call does the same work. Each event names a random user of the tenant and costs k × 1e-10
USD, like the bench's. Printed: the median wall time and process CPU time of a call (after 2 warm-ups)
and each SQL statement's median time (SQLAlchemy's cursor events: binding, the round trip and
PostgreSQL's work). record_usage runs under the mutex from its first statement to the caller's commit,
so its wall time is the mutex's hold minus the commit. Same server selection as the bench
(DATABASE_URL, else an embedded PostgreSQL). With `--cprofile N`, the timed calls also run under
cProfile and the N functions of most own time are printed (the profiler slows Python ~2×: shares,
not times). The numbers locate the time; the bench's table is the measurement (docs/performance.md).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import secrets
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from bench.budgets import BUDGET_TABLES
from bench.database import BenchServer, analyze, recreate, run_bootstrap, run_on_scratch_database, seed
from bench.run import SHAPE, bench_settings
from cockpit_graphql.app import tune_gc
from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import User
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.budgets import metering, plans

PROFILE_DB = "cockpit_usage_profile"
WARMUP = 2
PLAN_CREDITS = Decimal(1_000_000_000)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=metering.MAX_BATCH, help="events per call")
    parser.add_argument("--calls", type=int, default=12, help="timed calls (the first 2 are warm-ups)")
    parser.add_argument("--history", type=int, default=20, help="batches committed before timing")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="print cProfile's top N functions")
    return parser.parse_args(argv)


class RolledBack(Exception):
    """Leaves a timed call's transaction by rolling it back."""


class StatementClock:
    """Time of every statement sent between `start` and `stop`, one record per call, keyed by its first
    words (what the transaction sends around the call, such as `set_config`, is not counted)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, list[float]]] = []
        self._current: dict[str, list[float]] | None = None

    def install(self, db: Database) -> None:
        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def started(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            conn.info.setdefault("started", []).append(time.perf_counter())

        @event.listens_for(db.engine.sync_engine, "after_cursor_execute")
        def ended(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
            elapsed = time.perf_counter() - conn.info["started"].pop()
            if self._current is not None:
                self._current[" ".join(statement.split())[:80]].append(elapsed * 1000)

    def start(self) -> None:
        self._current = defaultdict(list)

    def stop(self) -> None:
        assert self._current is not None
        self.calls.append(self._current)
        self._current = None


def batch(users: list[uuid.UUID], rng: random.Random, size: int, now: datetime) -> list[metering.UsageInput]:
    return [
        metering.UsageInput(
            idempotency_key=uuid.uuid4().hex,
            user_id=rng.choice(users),
            cost_usd=Decimal(rng.randint(1_000, 99_999)) * Decimal("1E-10"),
            occurred_at=now,
            agent_id="bench-agent",
            model_id="bench-model",
        )
        for _ in range(size)
    ]


async def profile(args: argparse.Namespace, server: BenchServer) -> None:
    owner_url = await recreate(server, PROFILE_DB)
    settings = bench_settings(owner_url, secrets.token_urlsafe(32))
    seeded = await seed(owner_url, settings.dev_issuer, SHAPE)
    await run_bootstrap(settings)
    db = Database.from_settings(settings)
    tenant = mint_for_system(seeded.account_id)
    operation = Operation(SYSTEM_ACTOR, "usage-profile")
    rng = random.Random(1127)
    try:
        now = datetime.now(UTC)
        async with db.tenant(tenant) as session:
            await plans.set_plan(session, tenant, operation, plans.PlanTerms(PLAN_CREDITS, 1), now)
            users = list((await session.scalars(sa.select(User.id).where(User.home_team_id.is_not(None)))).all())
        for _ in range(args.history):
            async with db.tenant(tenant) as session:
                await metering.record_usage(session, tenant, batch(users, rng, args.events, now), now)
        # As autoanalyze would (this server may run without it): plans made while the ledger looked
        # empty would time a statement the product does not run (docs/runbook.md).
        await analyze(owner_url, BUDGET_TABLES)
        tune_gc()  # as the server does at startup: CPython's default thresholds collected the whole heap often
        clock = StatementClock()
        clock.install(db)
        walls: list[float] = []
        cpus: list[float] = []
        profiler = cProfile.Profile()
        for n in range(args.calls):
            inputs = batch(users, rng, args.events, datetime.now(UTC))
            try:
                async with db.tenant(tenant) as session:
                    clock.start()
                    profiling = bool(args.cprofile) and n >= WARMUP
                    wall, cpu = time.perf_counter(), time.process_time()
                    if profiling:
                        profiler.enable()
                    await metering.record_usage(session, tenant, inputs, datetime.now(UTC))
                    if profiling:
                        profiler.disable()
                    walls.append((time.perf_counter() - wall) * 1000)
                    cpus.append((time.process_time() - cpu) * 1000)
                    clock.stop()
                    raise RolledBack  # every call does the same work on the same state
            except RolledBack:
                pass
    finally:
        await db.dispose()
    timed = clock.calls[WARMUP:]
    print(
        f"record_usage of {args.events:,} events, {len(timed)} calls after {WARMUP} warm-ups "
        f"({args.history} batches committed before): wall {statistics.median(walls[WARMUP:]):.1f} ms, "
        f"process CPU {statistics.median(cpus[WARMUP:]):.1f} ms (medians)"
    )
    names = sorted({name for call in timed for name in call})
    per_call = {name: [sum(call.get(name, [])) for call in timed] for name in names}
    for name in sorted(names, key=lambda n: -statistics.median(per_call[n])):
        count = statistics.median(len(call.get(name, [])) for call in timed)
        print(f"{statistics.median(per_call[name]):8.1f} ms  ×{count:g}  {name}")
    print(f"{statistics.median(sum(values) for values in zip(*per_call.values(), strict=True)):8.1f} ms  in all")
    if args.cprofile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.cprofile)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.calls <= WARMUP:
        raise SystemExit(f"--calls must be more than the {WARMUP} warm-ups")
    run_on_scratch_database(PROFILE_DB, lambda server: profile(args, server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
