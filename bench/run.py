"""`make bench`: seed a 10,000-user tenant, start the real server, load it, print and save a table.

    .venv/bin/python -m bench.run [--keep] [--requests 200] [--seconds 30] [--concurrency 16]

Uses the PostgreSQL server of DATABASE_URL (else the embedded one), in a fresh database that is
dropped at the end unless --keep is passed. Exits non-zero when any response is not a clean HTTP 200
with the full page, or when the SQL statement count differs between requests of a case.
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

from bench import database
from bench.database import BENCH_DB, BenchServer
from bench.load import BenchFailure, Case, CaseResult, run_case, warm_up
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
    return parser.parse_args(argv)


def build_cases(args: argparse.Namespace) -> list[Case]:
    org, teams = SHAPE.organizations, SHAPE.teams_per_organization
    small = f"directory page, {org * teams * 5:,} users ({org}x{teams}x5)"
    large = f"directory page, {org * teams * 50:,} users ({org}x{teams}x50)"
    return [
        Case(small, org, teams, 5, 1, args.requests, args.seconds),
        Case(small, org, teams, 5, args.concurrency, args.requests, args.seconds),
        Case(large, org, teams, 50, 1, args.large_requests, args.seconds),
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


async def measure(base_url: str, token: str, cases: list[Case], warmup: int) -> list[CaseResult]:
    await warm_up(base_url, token, cases[0], 1)  # the first request links the identity by email
    results = []
    for case in cases:
        print(f"running: {case.name}, concurrency {case.concurrency} …", end=" ", flush=True)
        await warm_up(base_url, token, case, warmup)
        result = await run_case(base_url, token, case)
        print(f"{result.requests} requests in {result.wall_s:.1f} s", flush=True)
        results.append(result)
    return results


def publish(prepared: Prepared, server: BenchServer, results: list[CaseResult]) -> None:
    facts = machine_facts(prepared.pg_version, server.where(), ROOT)
    text = render(facts, prepared.seeding, results)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(text)
    print()
    print(text)
    print(f"written to {(RESULTS_DIR / 'latest.md').relative_to(ROOT)}")


def varying(results: list[CaseResult]) -> list[str]:
    return [
        f"{r.case.name} @ {r.case.concurrency}: {sorted(set(r.statements))}"
        for r in results
        if not r.statements_identical
    ]


def bench(args: argparse.Namespace, server: BenchServer, cleanup: list[ServerProcess]) -> int:
    dev_secret = secrets.token_urlsafe(32)
    prepared = asyncio.run(prepare(server, dev_secret))
    settings = bench_settings(prepared.owner_url, dev_secret)
    env = server_environment(prepared.owner_url, dev_secret, settings.dev_issuer)
    process = ServerProcess(env, RESULTS_DIR / "server.log")
    cleanup.append(process)
    process.start()
    results = asyncio.run(measure(process.base_url, admin_token(settings), build_cases(args), args.warmup))
    publish(prepared, server, results)
    if problems := varying(results):
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
