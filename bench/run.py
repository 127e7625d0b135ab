"""`make bench`: seed a 10,000-user tenant, start the real server, load it, print and save a table.

    .venv/bin/python -m bench.run [--keep] [--only policies|budgets|marketplace|costs] [--requests 200] [--seconds 30] …

Uses the PostgreSQL server of DATABASE_URL (else the embedded one), in a fresh database that is dropped
at the end unless --keep is passed. Against a one-worker server: the directory cases first; then the
budget setup (plan, default user cap and caps through the API) and the budget cases (bench/budgets.py):
the members page with effective allocations, recordUsage, recordUsageBatch, authorizeUsage, with the
ledger reconciled exactly after the usage cases and at the end; then the policy setup
(bench/policies.py: catalog, entitlements, model access, flags, guardrails, connection mode); then the
marketplace setup (bench/marketplace.py: models, connections, 120 agents, assignments, a member's
installs) and the member's marketplace page cases. That server is stopped, and the effectiveAccess cases
run against a new one with --access-workers uvicorn workers (2: the target of issue #4 is stated for 2
workers), on keep-alive connections spread evenly over its workers (bench.server.pin_connections), then
the GraphQL floor on that server (`viewer { role }`: authentication and nothing else, the least any
query costs on this stack), then recordUsageBatch at --batch-concurrency on those workers too (issue
#3's events/s; the ledger reconciled again after it). Every case but the directory and members pages
notes how the machine's CPU time split between the server, the client and the rest (PostgreSQL).
Servers run as deployed: `cockpit serve` (with its TCP_NODELAY fix for uvicorn's multi-worker
supervisor). `--only policies` skips the directory, budget and marketplace cases (the budget setup still
runs: effectiveAccess needs a plan). `--only budgets` runs the budget setup and cases only (members
page, recordUsage, recordUsageBatch, authorizeUsage, with both ledger checks). `--only marketplace` runs
the marketplace setup and cases only (on the one-worker server). Last, the cost breakdown
(bench/costs.py, issue #6): 10 M usage events and their daily rollups seeded set-based as the owner,
then costBreakdown of the last 30 days by team and by model (top 20) at c=1 and c=--cost-concurrency on
a new one-worker server, every answer compared exactly with sums computed from the raw events; `--only
costs` runs only that (after the tenant seeding). Exits non-zero when any response is not a clean HTTP
200 with the expected data (userErrors included), when a ledger check fails, or when the SQL statement
count differs between requests of a case (recordUsage cases excepted: they are reported as VARIES with
the counts, and a warning is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import budgets, costs, database, marketplace, policies
from bench.database import BENCH_DB, BenchServer
from bench.harness import run_bench
from bench.load import BenchFailure, Case, CaseResult, DirectoryCase, query_once, run_case, warm_up
from bench.report import as_json, machine_facts, render
from bench.seed import ADMIN_EMAIL, BENCH_ORG, TenantShape
from bench.server import (
    OURS_APP_NAME,
    Backends,
    ServerProcess,
    machine_busy_seconds,
    pin_connections,
    server_environment,
)
from cockpit_graphql.auth.dev_tokens import SUPER_ADMIN_SUBJECT, mint_dev_token
from cockpit_graphql.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
SHAPE = TenantShape(organizations=20, teams_per_organization=10, users_per_team=50)
KEEPALIVE_PROBES = 20
NAGLE_SUSPECT_MS = 20.0  # a keep-alive /healthz slower than this on loopback: TCP_NODELAY is off


@dataclass(frozen=True)
class Tokens:
    """The account admin's and the platform operator's tokens; `user(email)` mints one for a seeded user."""

    admin: str
    super_admin: str
    settings: Settings

    def user(self, email: str) -> str:
        return mint_dev_token(self.settings, subject=f"dev|{email}", organization=BENCH_ORG, email=email)


@dataclass
class Prepared:
    owner_url: str
    pg_version: str
    seeding: str


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    parser.add_argument(
        "--only",
        choices=("policies", "budgets", "marketplace", "costs"),
        help="policies: only the effectiveAccess cases (seeding, budget and policy setup still run); "
        "budgets: only the budget setup and the members, usage and authorize cases; "
        "marketplace: only the marketplace setup and the member's marketplace page cases; "
        "costs: only the 10 M-event seeding and the cost breakdown cases",
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per 1,000-user case (default 200)")
    parser.add_argument("--large-requests", type=int, default=20, help="requests of the 10,000-user case")
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget per case (default 30)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrency of the parallel case")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests before each case")
    parser.add_argument("--budget-requests", type=int, default=200, help="requests per members/usage/authorize case")
    parser.add_argument("--budget-seconds", type=float, default=20.0, help="time budget per budget case (default 20)")
    parser.add_argument("--batch-requests", type=int, default=48, help="requests per recordUsageBatch case (48)")
    parser.add_argument(
        "--batch-concurrency", type=int, default=16, help="concurrency of the parallel batch case (16: issue #7)"
    )
    parser.add_argument("--access-requests", type=int, default=5_000, help="requests per effectiveAccess case")
    parser.add_argument("--access-seconds", type=float, default=20.0, help="time budget per effectiveAccess case")
    parser.add_argument("--access-workers", type=int, default=2, help="uvicorn workers for effectiveAccess (2)")
    parser.add_argument("--market-requests", type=int, default=200, help="requests per marketplace page case")
    parser.add_argument("--market-seconds", type=float, default=20.0, help="time budget per marketplace case")
    parser.add_argument("--cost-events", type=int, default=costs.COST_EVENTS, help="usage events seeded (10 M)")
    parser.add_argument("--cost-days", type=int, default=costs.COST_DAYS, help="days they span, up to now (90)")
    parser.add_argument("--cost-requests", type=int, default=100, help="requests per cost breakdown case")
    parser.add_argument("--cost-seconds", type=float, default=30.0, help="time budget per cost breakdown case")
    parser.add_argument(
        "--cost-concurrency", type=int, default=16, help="concurrency of the parallel cost cases (16: issue #7)"
    )
    parser.add_argument(
        "--no-budget-analyze",
        action="store_true",
        help="do not ANALYZE the budget tables before reconciling the ledger (autoanalyze may be off)",
    )
    return parser.parse_args(argv)


def build_cases(args: argparse.Namespace) -> list[Case]:
    org, teams = SHAPE.organizations, SHAPE.teams_per_organization
    small = f"directory page, {org * teams * 5:,} users ({org}x{teams}x5)"
    large = f"directory page, {org * teams * 50:,} users ({org}x{teams}x50)"
    shapes = (
        (small, 5, 1, args.requests),
        (small, 5, args.concurrency, args.requests),
        (large, 50, 1, args.large_requests),
    )
    return [
        DirectoryCase(
            name=name,
            organizations=org,
            teams=teams,
            users=users,
            concurrency=c,
            max_requests=n,
            max_seconds=args.seconds,
        )
        for name, users, c, n in shapes
    ]


def bench_settings(owner_url: str, dev_secret: str) -> Settings:
    issuer = Settings().dev_issuer
    return Settings(
        database_url=owner_url,
        app_database_url=None,
        dev_jwt_secret=dev_secret,
        dev_issuer=issuer,
        platform_issuers=[issuer],
        log_level="WARNING",
    )


async def prepare(server: BenchServer, dev_secret: str) -> Prepared:
    owner_url = await database.recreate(server, BENCH_DB)
    settings = bench_settings(owner_url, dev_secret)
    seeded = await database.seed(owner_url, settings.dev_issuer, SHAPE)
    seeding = f"seeding: {seeded.users:,} users in {seeded.seconds:.2f} s (set-based SQL + ANALYZE)"
    print(seeding, flush=True)
    await database.run_bootstrap(settings)
    return Prepared(owner_url, await database.server_version(server.url), seeding)


def admin_token(settings: Settings) -> str:
    return Tokens("", "", settings).user(ADMIN_EMAIL)


def super_token(settings: Settings) -> str:
    """The dev platform operator that bootstrap registers (PLATFORM_ISSUERS is the dev issuer)."""
    return mint_dev_token(settings, subject=SUPER_ADMIN_SUBJECT)


async def run_one(server: ServerProcess, token: str, case: Case, warmup: int) -> CaseResult:
    print(f"running: {case.name}, concurrency {case.concurrency} …", end=" ", flush=True)
    await warm_up(server.base_url, token, case, warmup)
    result = await run_case(server.base_url, token, case)
    result.server_rss_mb = server.peak_rss_mb()
    print(f"{result.requests} requests in {result.wall_s:.1f} s", flush=True)
    return result


async def analyze_budget_tables(owner_url: str, args: argparse.Namespace) -> None:
    """Statistics for the rows the usage cases wrote, as autoanalyze would gather (it may be off)."""
    if args.no_budget_analyze:
        print("budget tables NOT analyzed (--no-budget-analyze)", flush=True)
        return
    started = time.perf_counter()
    autovacuum = await database.analyze(owner_url, budgets.BUDGET_TABLES)
    took = time.perf_counter() - started
    print(f"ANALYZE budget tables in {took:.1f} s (autovacuum is {autovacuum} on this server)", flush=True)


async def measure(
    server: ServerProcess, tokens: Tokens, owner_url: str, args: argparse.Namespace
) -> tuple[list[CaseResult], list[str], policies.PolicyWorld | None]:
    """Everything on the one-worker server: directory and budget cases (unless --only), the budget and
    policy setups, the marketplace setup and cases (unless --only policies); with --only marketplace
    or --only budgets, only those. Returns the results, the notes and the world of the effectiveAccess
    cases (None with --only marketplace or budgets)."""
    base_url, token, super_admin = server.base_url, tokens.admin, tokens.super_admin
    results: list[CaseResult] = []
    if args.only == "marketplace":
        notes = await measure_marketplace(server, tokens, None, args, results)
        return results, notes, None
    if not args.only:
        cases = build_cases(args)
        await warm_up(base_url, token, cases[0], 1)  # the first request links the identity by email
        results += [await run_one(server, token, case, args.warmup) for case in cases]

    started = time.perf_counter()
    world = await budgets.setup(base_url, token, SHAPE)
    print(f"budget setup through the API in {time.perf_counter() - started:.1f} s", flush=True)
    notes = [world.summary]
    if args.only in (None, "budgets"):
        notes += await measure_budgets(server, token, owner_url, world, args, results)
    if args.only == "budgets":
        return results, notes, None

    started = time.perf_counter()
    access = await policies.setup(base_url, token, super_admin, world)
    print(f"policy setup through the API in {time.perf_counter() - started:.1f} s", flush=True)
    notes.append(access.summary)
    if not args.only:
        guardrails = [(g["id"], name) for g, (name, *_) in zip(access.guardrails, policies.GUARDRAILS, strict=True)]
        notes += await measure_marketplace(server, tokens, guardrails[:2], args, results)
    return results, notes, access


async def measure_marketplace(
    server: ServerProcess,
    tokens: Tokens,
    guardrails: list[tuple[str, str]] | None,
    args: argparse.Namespace,
    results: list[CaseResult],
) -> list[str]:
    """The marketplace setup, then the member's page at c=1 and c=--concurrency on this (one-worker)
    server, each with the CPU split of run_pinned. `guardrails`: the policy setup's PII and injection
    guardrails (None: the marketplace setup creates them)."""
    started = time.perf_counter()
    world = await marketplace.setup(server.base_url, tokens.admin, tokens.super_admin, tokens.user, guardrails)
    print(f"marketplace setup through the API in {time.perf_counter() - started:.1f} s", flush=True)
    notes = [world.summary]
    print(world.summary, flush=True)
    for case in marketplace.marketplace_cases(world, args.market_requests, args.market_seconds, args.concurrency):
        result, note = await run_pinned(server, world.member_token, case, args.warmup)
        results.append(result)
        notes.append(note)
        print(note, flush=True)
    return notes


async def measure_budgets(
    server: ServerProcess,
    token: str,
    owner_url: str,
    world: budgets.BudgetWorld,
    args: argparse.Namespace,
    results: list[CaseResult],
) -> list[str]:
    notes = []
    base_url = server.base_url
    n, s, c = args.budget_requests, args.budget_seconds, args.concurrency
    for case in budgets.members_cases(world, n, s, c):
        results.append(await run_one(server, token, case, args.warmup))
    for case in budgets.usage_cases(world, n, s, c, args.batch_requests, args.batch_concurrency):
        warmup = 1 if case.events_per_request and case.events_per_request > 1 else args.warmup
        # With the CPU split per request: a batch's PostgreSQL time is all under the account's budget mutex.
        result, note = await run_unpinned(server, token, case, warmup)
        results.append(result)
        notes.append(note)
        print(note, flush=True)
    await analyze_budget_tables(owner_url, args)
    notes.append(await budgets.verify_ledger(base_url, token, world, "after the usage cases"))
    print(notes[-1], flush=True)
    # The holds live 60 s; both authorize cases stay well within that (--budget-seconds) so that no hold
    # expires during them (an expiry adds a statement to the authorization that releases it).
    for case in budgets.authorize_cases(world, n, s, c):
        result, note = await run_unpinned(server, token, case, args.warmup)
        results.append(result)
        notes.append(note)
        print(note, flush=True)
    await analyze_budget_tables(owner_url, args)
    notes.append(await budgets.verify_ledger(base_url, token, world, "at the end"))
    print(notes[-1], flush=True)
    return notes


async def measure_costs(
    server: ServerProcess, tokens: Tokens, owner_url: str, args: argparse.Namespace
) -> tuple[list[CaseResult], list[str], str]:
    """Seed the cost tenant (bench/costs.py), then the costBreakdown cases on this one-worker server, each
    with the CPU split (run_unpinned). Returns the results, the notes and the seeding line."""
    world, seeding = await costs.seed_costs(owner_url, args.cost_events, args.cost_days)
    print(seeding, flush=True)
    print(world.summary, flush=True)
    notes = [world.summary]
    await warm_up(server.base_url, tokens.admin, costs.cost_cases(world, 1, 1.0, (1,))[0], 1)  # links the admin
    results = []
    concurrencies = tuple(dict.fromkeys((1, args.cost_concurrency)))
    for case in costs.cost_cases(world, args.cost_requests, args.cost_seconds, concurrencies):
        result, note = await run_unpinned(server, tokens.admin, case, args.warmup)
        results.append(result)
        notes.append(note)
        print(note, flush=True)
    return results, notes, seeding


async def run_unpinned(server: ServerProcess, token: str, case: Case, warmup: int) -> tuple[CaseResult, str]:
    """A case on a one-worker server with the CPU split of run_pinned, on the client's own connections:
    pinning has nothing to spread there, and its one-at-a-time opening of connections lets the first
    ones pass the keep-alive timeout when each request takes seconds."""
    if server.workers != 1:
        raise BenchFailure("run_unpinned is for a one-worker server")
    print(f"running: {case.name}, concurrency {case.concurrency}, 1 worker …", end=" ", flush=True)
    await warm_up(server.base_url, token, case, warmup)
    backends = Backends(server.env["DATABASE_URL"])
    pg_before = await backends.cpu(OURS_APP_NAME)
    before, machine, client = server.worker_cpu_seconds(), machine_busy_seconds(), time.process_time()
    result = await run_case(server.base_url, token, case)
    after, machine, client = server.worker_cpu_seconds(), machine_busy_seconds() - machine, time.process_time() - client
    pg = Backends.spent(pg_before, await backends.cpu(OURS_APP_NAME))
    result.server_rss_mb = server.peak_rss_mb()
    print(f"{result.requests} requests in {result.wall_s:.1f} s", flush=True)
    worker = sum(after.values()) - sum(before.get(pid, 0.0) for pid in after)
    split = CpuSplit(machine, [worker], pg, client)
    per = 1000 / max(result.requests, 1)
    note = (
        f"{case.name} @ {case.concurrency}: in its {result.wall_s:.1f} s the machine's {os.cpu_count()} cores were "
        f"busy {machine:.1f} s: {split.seconds()}; per request {split.per_request(per)} ms"
    )
    return result, note


async def keepalive_ms(base_url: str) -> float:
    """Median latency of GET /healthz (no database) on one keep-alive connection: the server's floor."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        (await client.get("/healthz")).raise_for_status()  # opens the connection
        times = []
        for _ in range(KEEPALIVE_PROBES):
            started = time.perf_counter()
            (await client.get("/healthz")).raise_for_status()
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def run_pinned(server: ServerProcess, token: str, case: Case, warmup: int) -> tuple[CaseResult, str]:
    """A case on connections spread evenly over the server's workers (bench.server.pin_connections),
    warmed up with `warmup` rounds on every connection; the note says how the workers shared it."""
    print(f"running: {case.name}, concurrency {case.concurrency}, {server.workers} workers …", end=" ", flush=True)
    pinned = await pin_connections(server, token, case, case.concurrency)
    try:
        for _ in range(warmup):
            await asyncio.gather(*(query_once(client, case) for client in pinned.clients))
        backends = Backends(server.env["DATABASE_URL"])
        pg_before = await backends.cpu(OURS_APP_NAME)
        before, machine, client = server.worker_cpu_seconds(), machine_busy_seconds(), time.process_time()
        result = await run_case(server.base_url, token, case, pinned.clients)
        after, machine, client = (
            server.worker_cpu_seconds(),
            machine_busy_seconds() - machine,
            time.process_time() - client,
        )
        pg = Backends.spent(pg_before, await backends.cpu(OURS_APP_NAME))
        pinned.check_unchanged(server)
        result.server_rss_mb = server.peak_rss_mb()
    finally:
        await pinned.aclose()
    print(f"{result.requests} requests in {result.wall_s:.1f} s", flush=True)
    pids = sorted(after)
    split = CpuSplit(machine, [after[pid] - before.get(pid, 0.0) for pid in pids], pg, client)
    note = (
        f"{case.name} @ {case.concurrency}: connections per worker {' + '.join(map(str, pinned.per_worker(pids)))} "
        f"({pinned.opened} opened to get that spread); in its {result.wall_s:.1f} s the machine's "
        f"{os.cpu_count()} cores were busy {machine:.1f} s: {split.seconds()}; per request "
        f"{split.per_request(1000 / max(result.requests, 1))} ms"
    )
    return result, note


@dataclass(frozen=True)
class CpuSplit:
    """Where the machine's busy CPU seconds of a case went: the server's workers, the PostgreSQL backends
    that served them (bench.server.Backends: None when PostgreSQL is not a process of this machine), the
    bench client, and everything else (PostgreSQL's other processes, backends opened during the case,
    other jobs)."""

    machine: float
    workers: list[float]
    postgresql: float | None
    client: float

    @property
    def others(self) -> float:
        return self.machine - sum(self.workers) - (self.postgresql or 0.0) - self.client

    def seconds(self) -> str:
        noun = "server worker" if len(self.workers) == 1 else "server workers"
        parts = [f"{noun} {' + '.join(f'{w:.1f}' for w in self.workers)} s"]
        if self.postgresql is not None:
            parts.append(f"its PostgreSQL backends {self.postgresql:.1f} s")
        parts.append(f"bench client {self.client:.1f} s")
        rest = "other jobs" if self.postgresql is not None else "PostgreSQL, other jobs"
        parts.append(f"everything else ({rest}) {self.others:.1f} s")
        return ", ".join(parts)

    def per_request(self, per: float) -> str:
        """Server / PostgreSQL backends / client / everything else, in ms per request (`per`: 1000 / requests)."""
        values = [sum(self.workers), self.postgresql, self.client, self.others]
        return " / ".join(f"{v * per:.1f}" for v in values if v is not None)


async def measure_access(
    server: ServerProcess, token: str, world: policies.PolicyWorld, args: argparse.Namespace, single_ms: float
) -> tuple[list[CaseResult], list[str]]:
    """The effectiveAccess cases on the multi-worker server, each on connections spread over its workers."""
    multi_ms = await keepalive_ms(server.base_url)
    notes = [
        f"effectiveAccess cases: against a server with {server.workers} uvicorn workers, started for them after "
        f"the other cases (whose server had 1 worker and was stopped); a keep-alive GET /healthz takes a median "
        f"of {multi_ms:.1f} ms there ({single_ms:.1f} ms on the 1-worker server)"
    ]
    if multi_ms > NAGLE_SUSPECT_MS:
        notes[0] += (
            f" — uvicorn --workers {server.workers} leaves Nagle's algorithm on: its supervisor binds the socket "
            "without IPPROTO_TCP, so asyncio does not set TCP_NODELAY on accepted connections (Kludex/uvicorn#3149), "
            "and the body of every response on a kept-alive connection waits for the client's delayed ACK (~40 ms)"
        )
    print(notes[0], flush=True)
    cases = policies.effective_access_cases(
        world, args.access_requests, args.access_seconds, args.concurrency, workers=server.workers
    )
    results = []
    for case in cases:
        result, note = await run_pinned(server, token, case, args.warmup)
        results.append(result)
        notes.append(note)
        print(note, flush=True)
    # recordUsageBatch on the same workers (issue #3's events/s target; the one-worker rows are above),
    # then the ledger reconciled again with these events counted.
    c, workers = args.batch_concurrency, server.workers
    batch = budgets.batch_case(world.budget, args.batch_requests, args.budget_seconds, c, f"b{c}w{workers}", workers)
    result, note = await run_pinned(server, token, batch, 1)
    results.append(result)
    notes.append(note)
    print(note, flush=True)
    notes.append(
        await budgets.verify_ledger(server.base_url, token, world.budget, f"after the {server.workers}-worker batch")
    )
    print(notes[-1], flush=True)
    return results, notes


def publish(prepared: Prepared, server: BenchServer, results: list[CaseResult], notes: list[str]) -> None:
    facts = machine_facts(prepared.pg_version, server.where(), ROOT)
    text = render(facts, prepared.seeding, results, notes)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(text)
    document = {"facts": facts, "seeding": prepared.seeding, "results": [as_json(r) for r in results], "notes": notes}
    (RESULTS_DIR / "latest.json").write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(text)
    print(f"written to {(RESULTS_DIR / 'latest.md').relative_to(ROOT)} and latest.json")


def varying(results: list[CaseResult], *, allowed: bool) -> list[str]:
    return [
        f"{r.case.name} @ {r.case.concurrency}: {sorted(set(r.statements))}"
        for r in results
        if not r.statements_identical and r.case.statements_may_vary == allowed
    ]


def bench(args: argparse.Namespace, server: BenchServer, cleanup: list[ServerProcess]) -> int:
    dev_secret = secrets.token_urlsafe(32)
    prepared = asyncio.run(prepare(server, dev_secret))
    settings = bench_settings(prepared.owner_url, dev_secret)
    env = server_environment(prepared.owner_url, dev_secret, settings.dev_issuer)
    process = ServerProcess(env, RESULTS_DIR / "server.log")
    cleanup.append(process)
    process.start()
    tokens = Tokens(admin_token(settings), super_token(settings), settings)
    results: list[CaseResult] = []
    notes: list[str] = []
    access = None
    if args.only != "costs":
        results, notes, access = asyncio.run(measure(process, tokens, prepared.owner_url, args))
    if access is not None:
        single_ms = asyncio.run(keepalive_ms(process.base_url))
        process.stop()  # the effectiveAccess server gets the cores to itself
        workers = args.access_workers
        multi = ServerProcess(env, RESULTS_DIR / f"server-{workers}-workers.log", workers)
        cleanup.append(multi)
        multi.start()
        access_results, access_notes = asyncio.run(measure_access(multi, tokens.admin, access, args, single_ms))
        results += access_results
        notes += access_notes
        multi.stop()
    if args.only in (None, "costs"):
        if access is not None:  # the one-worker server was stopped for the effectiveAccess cases
            process = ServerProcess(env, RESULTS_DIR / "server-costs.log")
            cleanup.append(process)
            process.start()
        cost_results, cost_notes, cost_seeding = asyncio.run(measure_costs(process, tokens, prepared.owner_url, args))
        results += cost_results
        notes += cost_notes
        prepared.seeding += f"\n- {cost_seeding}"
    publish(prepared, server, results, notes)
    if tolerated := varying(results, allowed=True):
        print("WARNING: SQL statements per request varied within a usage case:", *tolerated, sep="\n  ")
    if problems := varying(results, allowed=False):
        print("BENCH FAILED: SQL statements per request varied within a case:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_bench("bench", BENCH_DB, args.keep, lambda server, started: bench(args, server, started))


if __name__ == "__main__":
    sys.exit(main())
