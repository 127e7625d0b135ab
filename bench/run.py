"""`make bench`: seed a 10,000-user tenant, start the real server, load it, print and save a table.

    .venv/bin/python -m bench.run [--keep] [--requests 200] [--seconds 30] [--concurrency 16] …

Uses the PostgreSQL server of DATABASE_URL (else the embedded one), in a fresh database that is
dropped at the end unless --keep is passed. The directory cases run first; then the budget setup
(plan, default user cap and caps through the API) and the budget cases (bench/budgets.py): the
members page with effective allocations, recordUsage, recordUsageBatch, authorizeUsage, with the
ledger reconciled exactly after the usage cases and at the end. Exits non-zero when any response is
not a clean HTTP 200 with the expected data (userErrors included), when a ledger check fails, or
when the SQL statement count differs between requests of a case (recordUsage cases excepted: they
are reported as VARIES with the counts, and a warning is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from bench import budgets, database
from bench.database import BENCH_DB, BenchServer
from bench.load import BenchFailure, Case, CaseResult, DirectoryCase, run_case, warm_up
from bench.report import machine_facts, render
from bench.seed import ADMIN_EMAIL, BENCH_ORG, TenantShape
from bench.server import ServerProcess, server_environment
from cockpit_graphql.auth.dev_tokens import mint_dev_token
from cockpit_graphql.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
SHAPE = TenantShape(organizations=20, teams_per_organization=10, users_per_team=50)


@dataclass
class Prepared:
    owner_url: str
    pg_version: str
    seeding: str


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database afterwards")
    parser.add_argument("--requests", type=int, default=200, help="requests per 1,000-user case (default 200)")
    parser.add_argument("--large-requests", type=int, default=20, help="requests of the 10,000-user case")
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget per case (default 30)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrency of the parallel case")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests before each case")
    parser.add_argument("--budget-requests", type=int, default=200, help="requests per members/usage/authorize case")
    parser.add_argument("--budget-seconds", type=float, default=20.0, help="time budget per budget case (default 20)")
    parser.add_argument("--batch-requests", type=int, default=10, help="requests per recordUsageBatch case")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="concurrency of the parallel batch case")
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
    return mint_dev_token(settings, subject=f"dev|{ADMIN_EMAIL}", organization=BENCH_ORG, email=ADMIN_EMAIL)


async def run_one(base_url: str, token: str, case: Case, warmup: int) -> CaseResult:
    print(f"running: {case.name}, concurrency {case.concurrency} …", end=" ", flush=True)
    await warm_up(base_url, token, case, warmup)
    result = await run_case(base_url, token, case)
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
    base_url: str, token: str, owner_url: str, args: argparse.Namespace
) -> tuple[list[CaseResult], list[str]]:
    cases = build_cases(args)
    await warm_up(base_url, token, cases[0], 1)  # the first request links the identity by email
    results = [await run_one(base_url, token, case, args.warmup) for case in cases]

    started = time.perf_counter()
    world = await budgets.setup(base_url, token, SHAPE)
    print(f"budget setup through the API in {time.perf_counter() - started:.1f} s", flush=True)
    notes = [world.summary]
    n, s, c = args.budget_requests, args.budget_seconds, args.concurrency
    for case in budgets.members_cases(world, n, s, c):
        results.append(await run_one(base_url, token, case, args.warmup))
    for case in budgets.usage_cases(world, n, s, c, args.batch_requests, args.batch_concurrency):
        warmup = 1 if case.events_per_request and case.events_per_request > 1 else args.warmup
        results.append(await run_one(base_url, token, case, warmup))
    await analyze_budget_tables(owner_url, args)
    notes.append(await budgets.verify_ledger(base_url, token, world, "after the usage cases"))
    print(notes[-1], flush=True)
    # The holds live 60 s; both authorize cases stay well within that (--budget-seconds) so that no hold
    # expires during them (an expiry adds a statement to the authorization that releases it).
    for case in budgets.authorize_cases(world, n, s, c):
        results.append(await run_one(base_url, token, case, args.warmup))
    await analyze_budget_tables(owner_url, args)
    notes.append(await budgets.verify_ledger(base_url, token, world, "at the end"))
    print(notes[-1], flush=True)
    return results, notes


def publish(prepared: Prepared, server: BenchServer, results: list[CaseResult], notes: list[str]) -> None:
    facts = machine_facts(prepared.pg_version, server.where(), ROOT)
    text = render(facts, prepared.seeding, results, notes)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(text)
    print()
    print(text)
    print(f"written to {(RESULTS_DIR / 'latest.md').relative_to(ROOT)}")


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
    results, notes = asyncio.run(measure(process.base_url, admin_token(settings), prepared.owner_url, args))
    publish(prepared, server, results, notes)
    if tolerated := varying(results, allowed=True):
        print("WARNING: SQL statements per request varied within a usage case:", *tolerated, sep="\n  ")
    if problems := varying(results, allowed=False):
        print("BENCH FAILED: SQL statements per request varied within a case:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    server = BenchServer.resolve()
    servers: list[ServerProcess] = []
    status = 1
    try:
        status = bench(args, server, servers)
    except BenchFailure as exc:
        print(f"\nBENCH FAILED: {exc}", file=sys.stderr)
    except Exception as exc:
        traceback.print_exc()
        print(f"\nBENCH FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        for process in servers:
            process.stop()
            if status != 0:
                print(f"server output (tail of {process.log_path}):\n{process.log_tail()}", file=sys.stderr)
        if args.keep:
            print(f"kept database {BENCH_DB} on {server.where()}")
        else:
            asyncio.run(database.drop(server, BENCH_DB))
        server.stop()
    print(f"total bench time: {time.perf_counter() - started:.1f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
