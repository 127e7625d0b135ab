"""The floor of recordUsageBatch (issue #3: ≥ 10,000 events/s, 1,000 events per call, on 2 cores): the least
CPU a 1,000-event batch can cost on this stack, measured in two parts.

    python -m bench.usage_floor [--only graphql|database] [--no-real] [--requests 200] [--db-batches 30] …

Same PostgreSQL selection as `make bench` (DATABASE_URL, else the embedded PostgreSQL 16); the rate
limiter's Redis is --redis-url (db 7 by default, not the machine's db 0). The 10-million-step loop
(bench.report) is timed at the start, between the parts and at the end.

**graphql**: the GraphQL/transport floor. A fresh database seeded like `make bench` (20 × 10 × 50 users)
and the bench's budget setup through the API, then the exact request `make bench` sends
(bench.budgets.RecordUsageBatchCase: the RECORD_USAGE_BATCH document, 1,000 events with distinct keys,
random seeded users and costs k × 1e-10 USD, the admin's bearer token, bench.http.LeanClient, every
result checked event by event: credits exact, included + overflow = credits, not replayed) against
(a) the real server (`cockpit serve`, bench.server.ServerProcess) and (b) the floor server
(bench.usage_floor_app: the same app and uvicorn with `metering.record_usage` replaced by pure Python
that answers the same per-event results without any database work; its docstring says exactly what
the floor keeps and drops), each with 1 and 2 uvicorn workers, at concurrency 1 and 16 (with 2
workers on connections spread evenly over them, bench.server.pin_connections, as the bench's
effectiveAccess cases). The real rows are the same hour's reference; their ledger is reconciled
exactly at the end (bench.budgets.verify_ledger). Per case, the CPU seconds of the server's workers,
of the PostgreSQL backends that served them (pg_stat_activity by application_name), of all processes
of that PostgreSQL server that pg_stat_activity lists (backends, WAL writer, checkpointer, …), of the
redis-server processes of this machine, of this (client) process and of the whole machine.

**database**: the PostgreSQL write floor. A fresh scratch database seeded like bench.usage_profile (the
tenant, a budget plan of 1e9 credits, 20 committed batches of 1,000 events through the metering, the
budget tables analyzed). Then, as the app role (the app's engine: RLS on, the tenant set by
`db.tenant()`), batches of 1,000 events, one transaction each, committed, at 1 and 2 concurrent
connections, in four variants:
- `floor`: the minimum the rules require: 1,000 usage_events rows and 1,000 ledger entries (USAGE), as
  two INSERT … SELECT FROM unnest($arrays) statements with binary parameters (no JSON);
- `events+ledger`: the product's one statement for the same rows (usage_write.WRITE_ONLY_BATCH,
  json_to_recordset of one document, the ledger derived in a CTE), as the write-ahead path sends it;
- `+rollups`: that statement, then the product's rollup upserts (usage_write.ROLLUPS_BATCH) under the
  account's budget mutex, as the write-ahead path sends both;
- `record_usage`: the whole `metering.record_usage` (every statement a batch sends: replay lookup,
  factor, placements, pool, events and ledger, mutex, cycle lock, counters, rollups, notices).
The rows of each batch are built before it is timed; the per-batch Python work of the call (encoding,
and for record_usage the whole domain) is in the client process's CPU. Every event goes to a random
seeded user, costs k × 1e-10 USD and is wholly included (the pool is never reached).

CPU per 1,000 events: 10,000 events/s on 2 cores allows 2 × 1,000 / 10 = 200 ms of CPU in all per 1,000
events (server, PostgreSQL, client, everything). Results are printed and written to
bench/results/usage-floor.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import budgets, database
from bench.budgets import BUDGET_TABLES, BudgetWorld, UsageTally
from bench.database import BenchServer
from bench.harness import run_bench
from bench.load import Case, CaseResult, query_once, run_case, warm_up
from bench.report import LOOP_STEPS, git_revision, python_loop_seconds
from bench.run import RESULTS_DIR, ROOT, SHAPE, admin_token, bench_settings
from bench.server import (
    HOST,
    KEEP_ALIVE_S,
    OURS_APP_NAME,
    ServerProcess,
    cpu_seconds,
    machine_busy_seconds,
    pin_connections,
    server_environment,
)
from cockpit_graphql.auth.tenant import TenantId, mint_for_system
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.tables import User
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.budgets import metering, plans
from cockpit_graphql.domain.budgets import repository as repo
from cockpit_graphql.domain.budgets.money import credits_of
from cockpit_graphql.domain.budgets.scopes import LedgerKind
from cockpit_graphql.domain.budgets.usage_write import COLUMNS, ROLLUPS_BATCH, RecordedEvent, add_rollups, write_events
from cockpit_graphql.ops.database import drop_database, owner_connection

FLOOR_DB = "cockpit_usage_floor"
WRITE_DB = "cockpit_usage_write_floor"
BATCH = budgets.BATCH_SIZE
CREDITS_PER_USD = Decimal(1000)  # the seeded account's factor (bench/seed.py)
CPU_PER_1000_ALLOWED_MS = 200.0  # 2 cores × 1 s / 10 batches of 1,000 events


# --- CPU accounting --------------------------------------------------------------------------------


def redis_cpu() -> dict[int, float]:
    """CPU seconds of every redis-server process of this machine (the limiter's Redis is one of them)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "redis-server":
                    found[int(entry.name)] = cpu_seconds(int(entry.name))
            except OSError:
                continue
    return found


async def postgres_cpu(owner_url: str) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds of (the app's backends in this database, every process pg_stat_activity lists)."""
    conn = await owner_connection(owner_url)
    try:
        rows = await conn.fetch(
            "SELECT pid, datname = current_database() AND application_name = $1 AS ours FROM pg_stat_activity",
            OURS_APP_NAME,
        )
    finally:
        await conn.close()
    own = os.getpid()
    everything = {r["pid"]: cpu_seconds(r["pid"]) for r in rows if r["pid"] != own}
    return {p: everything[p] for p in (r["pid"] for r in rows if r["ours"]) if p in everything}, everything


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


@dataclass
class Snapshot:
    server: dict[int, float]
    backends: dict[int, float]
    postgres: dict[int, float]
    redis: dict[int, float]
    client: float
    machine: float
    wall: float

    @classmethod
    async def before(cls, owner_url: str, server: Callable[[], dict[int, float]] | None = None) -> Snapshot:
        """PostgreSQL's processes first (its query opens a connection: a backend's start-up), the clocks last."""
        backends, everything = await postgres_cpu(owner_url)
        servers, redis = server() if server else {}, redis_cpu()
        return cls(
            servers, backends, everything, redis, time.process_time(), machine_busy_seconds(), time.perf_counter()
        )

    @classmethod
    async def after(cls, owner_url: str, server: Callable[[], dict[int, float]] | None = None) -> Snapshot:
        """The clocks first, then the processes (so the snapshot's own connection is outside the window)."""
        wall, machine, client = time.perf_counter(), machine_busy_seconds(), time.process_time()
        servers, redis = server() if server else {}, redis_cpu()
        backends, everything = await postgres_cpu(owner_url)
        return cls(servers, backends, everything, redis, client, machine, wall)


@dataclass
class Row:
    """One measured case; CPU in seconds over the case, `events` in all."""

    part: str
    name: str
    workers: int | None
    concurrency: int
    calls: int
    events: int
    wall: float
    server: float | None
    backends: float
    postgres: float
    redis: float | None
    client: float
    machine: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    statements: str = ""
    started: str = ""

    @classmethod
    def between(cls, a: Snapshot, b: Snapshot, **fields: Any) -> Row:
        return cls(
            wall=b.wall - a.wall,
            server=spent(a.server, b.server) if b.server else None,
            backends=spent(a.backends, b.backends),
            postgres=spent(a.postgres, b.postgres),
            redis=spent(a.redis, b.redis) if fields.pop("with_redis", True) else None,
            client=b.client - a.client,
            machine=b.machine - a.machine,
            **fields,
        )

    def per_1000(self, seconds: float | None) -> str:
        return "–" if seconds is None else f"{seconds * 1000 * 1000 / self.events:.1f}"

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall


HEADER = (
    "| part | case | workers | c | calls | events/s | p50 ms | p99 ms | SQL/call | server ms | PG backends ms "
    "| all PG ms | redis ms | client ms | machine busy ms | started (UTC) |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def render(rows: list[Row]) -> str:
    lines = [HEADER]
    for r in rows:
        p50 = "–" if r.p50_ms is None else f"{r.p50_ms:.1f}"
        p99 = "–" if r.p99_ms is None else f"{r.p99_ms:.1f}"
        lines.append(
            f"| {r.part} | {r.name} | {r.workers or '–'} | {r.concurrency} | {r.calls} | {r.events_per_s:,.0f} | "
            f"{p50} | {p99} | {r.statements or '–'} | {r.per_1000(r.server)} | {r.per_1000(r.backends)} | "
            f"{r.per_1000(r.postgres)} | {r.per_1000(r.redis)} | {r.per_1000(r.client)} | "
            f"{r.per_1000(r.machine)} | {r.started} |"
        )
    return "\n".join(lines)


def now_utc() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


def speed(label: str, speeds: list[str]) -> None:
    seconds = python_loop_seconds()
    line = f"{now_utc()} UTC machine speed ({label}): a {LOOP_STEPS:,}-step Python loop in {seconds:.2f} s"
    speeds.append(line)
    print(line, flush=True)


# --- part 1: the GraphQL/transport floor ----------------------------------------------------------


class FloorServer(ServerProcess):
    """ServerProcess with bench.usage_floor_app's command instead of `cockpit serve` (same env, port, log)."""

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "bench.usage_floor_app", "--host", HOST, "--port", str(self.port)]
        self._proc = subprocess.Popen(
            [*command, "--workers", str(self.workers), "--keep-alive", str(KEEP_ALIVE_S)],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        self._wait_healthy()


async def measure_case(
    server: ServerProcess, token: str, owner_url: str, case: Case, warmup: int, label: str
) -> tuple[Row, CaseResult]:
    """A case as bench.run measures it: one worker on the client's own connections (run_unpinned), more
    on connections spread evenly over the workers (run_pinned); the CPU split around run_case only."""
    print(f"{now_utc()} {label}: {server.workers} worker(s), c={case.concurrency} …", end=" ", flush=True)
    pinned = None
    if server.workers == 1:
        await warm_up(server.base_url, token, case, warmup)
    else:
        pinned = await pin_connections(server, token, case, case.concurrency)
        for _ in range(warmup):
            await asyncio.gather(*(query_once(client, case) for client in pinned.clients))
    try:
        started = now_utc()
        before = await Snapshot.before(owner_url, server.worker_cpu_seconds)
        result = await run_case(server.base_url, token, case, pinned.clients if pinned else None)
        after = await Snapshot.after(owner_url, server.worker_cpu_seconds)
        if pinned is not None:
            pinned.check_unchanged(server)
    finally:
        if pinned is not None:
            await pinned.aclose()
    statements = sorted(set(result.statements))
    row = Row.between(
        before,
        after,
        part="graphql",
        name=label,
        workers=server.workers,
        concurrency=case.concurrency,
        calls=result.requests,
        events=result.requests * BATCH,
        p50_ms=result.percentile_ms(50),
        p99_ms=result.percentile_ms(99),
        statements="/".join(map(str, statements)),
        started=started,
    )
    row.wall = result.wall_s  # run_case's own clock (the snapshots' reads are not the case's)
    print(f"{result.requests} calls, {row.events_per_s:,.0f} events/s", flush=True)
    return row, result


def batch_cases(world: BudgetWorld, tag: str, requests: int, seconds: float) -> list[Case]:
    return [budgets.batch_case(world, requests, seconds, c, f"{tag}c{c}") for c in (1, 16)]


async def prepare_graphql_db(server: BenchServer, dev_secret: str) -> str:
    """bench.run.prepare, in this tool's own database."""
    owner_url = await database.recreate(server, FLOOR_DB)
    settings = bench_settings(owner_url, dev_secret)
    seeded = await database.seed(owner_url, settings.dev_issuer, SHAPE)
    print(f"seeded {seeded.users:,} users in {seeded.seconds:.2f} s", flush=True)
    await database.run_bootstrap(settings)
    return owner_url


def graphql_part(args: argparse.Namespace, server: BenchServer, started: list[Any], rows: list[Row]) -> list[str]:
    dev_secret = secrets.token_urlsafe(32)
    owner_url = asyncio.run(prepare_graphql_db(server, dev_secret))
    settings = bench_settings(owner_url, dev_secret)
    env = server_environment(owner_url, dev_secret, settings.dev_issuer)
    env["REDIS_URL"] = args.redis_url
    token = admin_token(settings)
    notes: list[str] = []

    def run_server(kind: str, workers: int, cases: Callable[[ServerProcess], Awaitable[None]]) -> None:
        cls = FloorServer if kind == "floor" else ServerProcess
        process = cls(env, RESULTS_DIR / f"usage-floor-{kind}-{workers}w.log", workers)
        started.append(process)
        process.start()
        try:
            asyncio.run(cases(process))
        finally:
            process.stop()

    world: list[BudgetWorld] = []

    async def setup(process: ServerProcess) -> None:
        world.append(await budgets.setup(process.base_url, token, SHAPE))
        notes.append(world[0].summary)

    async def run_kind(process: ServerProcess, kind: str, case_world: BudgetWorld, requests: int) -> None:
        tag = f"{kind}{process.workers}w"
        for case in batch_cases(case_world, tag, requests, args.seconds):
            label = "FLOOR (no database work in the domain call)" if kind == "floor" else "real (cockpit serve)"
            row, _ = await measure_case(process, token, owner_url, case, args.warmup, label)
            rows.append(row)

    real_world = None

    async def real_cases(process: ServerProcess) -> None:
        nonlocal real_world
        if not world:
            await setup(process)
            real_world = world[0]
        if not args.no_real:
            await run_kind(process, "real", real_world, args.real_requests)  # type: ignore[arg-type]

    async def floor_cases(process: ServerProcess) -> None:
        floor_world = dataclasses.replace(world[0], tally=UsageTally())  # its fake credits are not the ledger's
        await run_kind(process, "floor", floor_world, args.requests)

    async def verify(process: ServerProcess) -> None:
        await database.analyze(owner_url, BUDGET_TABLES)
        notes.append(await budgets.verify_ledger(process.base_url, token, real_world, "after the real cases"))  # type: ignore[arg-type]
        print(notes[-1], flush=True)

    for workers in args.workers:
        run_server("real", workers, real_cases)
        run_server("floor", workers, floor_cases)
    if not args.no_real:
        run_server("real", 1, verify)
    return notes


# --- part 2: the PostgreSQL write floor -----------------------------------------------------------

FLOOR_EVENTS_SQL = f"""INSERT INTO usage_events ({", ".join(COLUMNS)})
SELECT $1::uuid, u.id, u.idempotency_key, $2::uuid, u.occurred_at, $3::timestamptz, false, u.user_id,
       u.organization_id, u.team_id, NULL, NULL, '{{}}'::text[], '{{}}'::text[], 0, 0, u.cost_usd, $4::numeric,
       u.credits, u.credits, 0, NULL
FROM unnest($5::uuid[], $6::text[], $7::timestamptz[], $8::uuid[], $9::uuid[], $10::uuid[], $11::numeric[],
            $12::numeric[])
     AS u(id, idempotency_key, occurred_at, user_id, organization_id, team_id, cost_usd, credits)"""

FLOOR_LEDGER_SQL = f"""INSERT INTO ledger_entries (account_id, id, cycle_id, kind, amount, usage_event_id)
SELECT $1::uuid, gen_random_uuid(), $2::uuid, '{LedgerKind.USAGE.value}', -u.credits, u.event_id
FROM unnest($3::uuid[], $4::numeric[]) AS u(event_id, credits)"""


@dataclass
class WriteWorld:
    db: Database
    tenant: TenantId
    owner_url: str
    cycle_id: uuid.UUID
    places: list[Any]  # Placement of every seeded user with a team
    rng: random.Random

    def inputs(self, size: int = BATCH) -> list[metering.UsageInput]:
        at = datetime.now(UTC)
        return [
            metering.UsageInput(
                idempotency_key=uuid.uuid4().hex,
                user_id=self.rng.choice(self.places).user_id,
                cost_usd=Decimal(self.rng.randint(1_000, 99_999)).scaleb(-10),
                occurred_at=at,
            )
            for _ in range(size)
        ]

    def rows(self) -> list[RecordedEvent]:
        """1,000 complete usage events (every column of usage_write.COLUMNS), all included."""
        at = datetime.now(UTC)
        rows = []
        for _ in range(BATCH):
            place = self.rng.choice(self.places)
            cost = Decimal(self.rng.randint(1_000, 99_999)).scaleb(-10)
            credits = credits_of(cost, CREDITS_PER_USD)
            rows.append(
                RecordedEvent(
                    account_id=self.tenant.value,
                    id=uuid.uuid4(),
                    idempotency_key=uuid.uuid4().hex,
                    cycle_id=self.cycle_id,
                    occurred_at=at,
                    recorded_at=at,
                    late=False,
                    user_id=place.user_id,
                    organization_id=place.organization_id,
                    team_id=place.team_id,
                    agent_id=None,
                    model_id=None,
                    connection_ids=[],
                    guardrails=[],
                    tokens_in=0,
                    tokens_out=0,
                    cost_usd=cost,
                    credits_per_usd=CREDITS_PER_USD,
                    credits=credits,
                    included_credits=credits,
                    overflow_credits=Decimal(0),
                    reservation_id=None,
                )
            )
        return rows


async def write_floor(session: Any, world: WriteWorld, rows: list[RecordedEvent]) -> None:
    """The two unnest INSERTs on the session's own connection and transaction (asyncpg, binary arrays)."""
    raw = await (await session.connection()).get_raw_connection()
    conn = raw.driver_connection
    ids = [r.id for r in rows]
    credits = [r.credits for r in rows]
    await conn.execute(
        FLOOR_EVENTS_SQL,
        world.tenant.value,
        world.cycle_id,
        rows[0].recorded_at,
        CREDITS_PER_USD,
        ids,
        [r.idempotency_key for r in rows],
        [r.occurred_at for r in rows],
        [r.user_id for r in rows],
        [r.organization_id for r in rows],
        [r.team_id for r in rows],
        [r.cost_usd for r in rows],
        credits,
    )
    await conn.execute(FLOOR_LEDGER_SQL, world.tenant.value, world.cycle_id, ids, credits)


async def write_product(session: Any, world: WriteWorld, rows: list[RecordedEvent]) -> None:
    written = await write_events(session, rows, with_rollups=False)
    assert written == {"usage_events": BATCH, "ledger_entries": BATCH}, written


async def write_product_rollups(session: Any, world: WriteWorld, rows: list[RecordedEvent]) -> None:
    await write_events(session, rows, with_rollups=False)
    # under the account's budget mutex, as the product adds them: rollup rows are shared by concurrent
    # batches, and two batches upserting them in different orders deadlocked at 2 connections
    await repo.lock_account_budget(session, world.tenant)
    await add_rollups(session, world.tenant.value, [row.id for row in rows])


async def record_usage_call(session: Any, world: WriteWorld, inputs: list[metering.UsageInput]) -> None:
    outcomes = await metering.record_usage(session, world.tenant, inputs, datetime.now(UTC))
    assert len(outcomes) == BATCH and not any(o.replayed for o in outcomes)


VARIANTS: dict[str, tuple[str, Callable[..., Awaitable[None]]]] = {
    "floor": ("rows", write_floor),
    "events+ledger": ("rows", write_product),
    "+rollups": ("rows", write_product_rollups),
    "record_usage": ("inputs", record_usage_call),
}
VARIANT_NAMES = {
    "floor": "1,000 events + 1,000 ledger entries, 2 unnest INSERTs (the write floor)",
    "events+ledger": "product statement WRITE_ONLY_BATCH (events + ledger, json_to_recordset)",
    "+rollups": "WRITE_ONLY_BATCH + ROLLUPS_BATCH (the write-ahead path's writes)",
    "record_usage": "metering.record_usage, whole (every statement of a batch)",
}


async def run_variant(world: WriteWorld, variant: str, concurrency: int, batches: int, warmup: int) -> Row:
    kind, call = VARIANTS[variant]

    async def one(payload: Any) -> None:
        async with world.db.tenant(world.tenant) as session:
            await call(session, world, payload)

    def payloads(n: int) -> list[Any]:
        return [world.rows() if kind == "rows" else world.inputs() for _ in range(n)]

    async def worker(items: list[Any]) -> None:
        for item in items:
            await one(item)

    for _ in range(warmup):  # opens `concurrency` pooled connections and warms their statement caches
        await asyncio.gather(*(one(p) for p in payloads(concurrency)))
    work = [payloads(batches) for _ in range(concurrency)]
    started = now_utc()
    before = await Snapshot.before(world.owner_url)
    await asyncio.gather(*(worker(items) for items in work))
    after = await Snapshot.after(world.owner_url)
    row = Row.between(
        before,
        after,
        with_redis=False,
        part="database",
        name=VARIANT_NAMES[variant],
        workers=None,
        concurrency=concurrency,
        calls=batches * concurrency,
        events=batches * concurrency * BATCH,
        started=started,
    )
    print(f"{started} {variant} c={concurrency}: {row.events_per_s:,.0f} events/s", flush=True)
    return row


async def table_facts(owner_url: str) -> str:
    """What an insert into the two tables maintains: indexes, foreign keys, triggers, row-level security."""
    conn = await owner_connection(owner_url)
    try:
        parts = []
        for table in ("usage_events", "ledger_entries"):
            indexes = await conn.fetchval("SELECT count(*) FROM pg_indexes WHERE tablename = $1", table)
            fks = await conn.fetchval(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'", table
            )
            triggers = await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal", table
            )
            rls = await conn.fetchval("SELECT relforcerowsecurity FROM pg_class WHERE oid = $1::regclass", table)
            parts.append(f"{table}: {indexes} indexes, {fks} foreign keys, {triggers} user triggers, RLS forced {rls}")
        return "tables written: " + "; ".join(parts)
    finally:
        await conn.close()


async def write_part(args: argparse.Namespace, server: BenchServer, rows: list[Row]) -> list[str]:
    """Seeded like bench.usage_profile, then every variant at each concurrency."""
    owner_url = await database.recreate(server, WRITE_DB)
    settings = bench_settings(owner_url, secrets.token_urlsafe(32))
    seeded = await database.seed(owner_url, settings.dev_issuer, SHAPE)
    await database.run_bootstrap(settings)
    db = Database.from_settings(settings)
    tenant = mint_for_system(seeded.account_id)
    try:
        now = datetime.now(UTC)
        async with db.tenant(tenant) as session:
            terms = plans.PlanTerms(budgets.PLAN_CREDITS, 1)
            await plans.set_plan(session, tenant, Operation(SYSTEM_ACTOR, "usage-floor"), terms, now)
            users = list((await session.scalars(sa.select(User.id).where(User.home_team_id.is_not(None)))).all())
        world = WriteWorld(db, tenant, owner_url, uuid.UUID(int=0), [], random.Random(1128))
        async with db.tenant(tenant) as session:
            places = await repo.placements(session, tenant, users)
        world.places = list(places.values())
        for _ in range(args.history):
            async with db.tenant(tenant) as session:
                await metering.record_usage(session, tenant, world.inputs(), datetime.now(UTC))
        async with db.tenant(tenant) as session:
            cycle, _ = await repo.current_cycle(session, datetime.now(UTC))
            assert cycle is not None
            world.cycle_id = cycle.id
        await database.analyze(owner_url, BUDGET_TABLES)
        notes = [await table_facts(owner_url)]
        notes += [
            f"write floor database: {seeded.users:,} users, plan {budgets.PLAN_CREDITS:,} credits, {args.history} "
            f"batches of {BATCH:,} committed through metering.record_usage, budget tables analyzed; "
            f"rollup statement used: {ROLLUPS_BATCH.text.splitlines()[0][:60]}…"
        ]
        for variant in args.variants:
            for concurrency in (1, 2):
                rows.append(await run_variant(world, variant, concurrency, args.db_batches, args.warmup))
        async with db.tenant(tenant) as session:
            count = (await session.execute(sa.text("SELECT count(*) FROM usage_events"))).scalar_one()
        notes.append(f"write floor database: {count:,} usage events at the end")
        return notes
    finally:
        await db.dispose()


# --- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.usage_floor", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("graphql", "database"), help="run one part only")
    parser.add_argument("--no-real", action="store_true", help="graphql part: skip the real server's reference rows")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="uvicorn workers (1 2)")
    parser.add_argument("--requests", type=int, default=200, help="calls per floor case (200)")
    parser.add_argument("--real-requests", type=int, default=48, help="calls per real case (48, as make bench)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget per case (30)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured calls (per connection) before each case")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="the rate limiter's Redis")
    parser.add_argument("--history", type=int, default=20, help="database part: batches committed first (20)")
    parser.add_argument("--db-batches", type=int, default=30, help="database part: batches per connection (30)")
    parser.add_argument(
        "--variants", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS), help="database part variants"
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace, server: BenchServer, started: list[Any]) -> int:
    rows: list[Row] = []
    notes: list[str] = []
    speeds: list[str] = []
    pg_version = asyncio.run(database.server_version(server.url))
    try:
        if args.only in (None, "graphql"):
            notes += graphql_part(args, server, started, rows)
            speed("after the graphql part", speeds)
        if args.only in (None, "database"):
            notes += asyncio.run(write_part(args, server, rows))
            speed("after the database part", speeds)
    finally:
        if args.only in (None, "database"):
            asyncio.run(drop_database(server.url, WRITE_DB))
    facts = [
        f"commit {git_revision(ROOT)}; PostgreSQL {pg_version} on {server.where()}; {os.cpu_count()} cores",
        *speeds,
        "per 1,000 events, CPU ms: server = the uvicorn worker(s); PG backends = the app's backends; all PG = every "
        "process of that PostgreSQL server pg_stat_activity lists (includes the backends); redis = every "
        "redis-server of the machine; client = this process; machine busy = all cores, everything",
        f"10,000 events/s on {os.cpu_count()} cores allows {CPU_PER_1000_ALLOWED_MS:.0f} ms of CPU per 1,000 events",
    ]
    text = "\n".join(["# recordUsageBatch floor (bench.usage_floor)", "", *[f"- {f}" for f in facts], ""])
    text += "\n" + render(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "usage-floor.md").write_text(text)
    document = {"facts": facts, "rows": [dataclasses.asdict(r) for r in rows], "notes": notes}
    (RESULTS_DIR / "usage-floor.json").write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_bench("usage floor", FLOOR_DB, False, lambda server, started: run(args, server, started))


if __name__ == "__main__":
    sys.exit(main())
