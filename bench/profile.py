"""Profile one bench query in-process (issue #7: "profile, then remove per-field work").

    python -m bench.profile [--users 5] [--requests 40] [--sort tottime] [--top 35]

A fresh database (`cockpit_profile`, dropped at the end) seeded like `make bench` (20 × 10 × 50 users),
the real app (create_app) driven through httpx's ASGI transport in this process, the directory page
query warmed up, then `--requests` of it under cProfile. It prints the mean time per request with and
without the profiler and the top functions. Same server selection as the bench (DATABASE_URL, else an
embedded PostgreSQL). The numbers are for finding where the time goes, not for quoting: the bench's
table is the measurement.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import secrets
import sys
import time

import httpx

from bench.database import BenchServer, recreate, run_bootstrap, run_on_scratch_database, seed
from bench.load import DIRECTORY_PAGE_QUERY
from bench.run import SHAPE, admin_token, bench_settings
from cockpit_graphql.app import create_app

PROFILE_DB = "cockpit_profile"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=5, help="users per team on the page (5: 1,000 users)")
    parser.add_argument("--requests", type=int, default=40, help="profiled requests")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative, …)")
    parser.add_argument("--top", type=int, default=35, help="functions listed")
    return parser.parse_args(argv)


async def _timed(client: httpx.AsyncClient, payload: dict[str, object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        response = await client.post("/graphql", json=payload)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"query failed: {response.status_code} {body.get('errors')}")
    return (time.perf_counter() - started) / n * 1000


async def profile(args: argparse.Namespace, server: BenchServer) -> None:
    dev_secret = secrets.token_urlsafe(32)
    owner_url = await recreate(server, PROFILE_DB)
    settings = bench_settings(owner_url, dev_secret)
    await seed(owner_url, settings.dev_issuer, SHAPE)
    await run_bootstrap(settings)
    app = create_app(settings.model_copy(update={"rate_limit_enabled": False}))  # one principal at full speed
    variables = {"orgs": SHAPE.organizations, "teams": SHAPE.teams_per_organization, "users": args.users}
    payload = {"query": DIRECTORY_PAGE_QUERY, "variables": variables, "operationName": "DirectoryPage"}
    headers = {"authorization": f"Bearer {admin_token(settings)}"}
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://profile", headers=headers)
    async with app.router.lifespan_context(app), client:
        await _timed(client, payload, 5)  # links the admin's identity, warms caches
        plain_ms = await _timed(client, payload, args.requests)
        profiler = cProfile.Profile()
        profiler.enable()
        profiled_ms = await _timed(client, payload, args.requests)
        profiler.disable()
    print(
        f"directory page, {SHAPE.organizations * SHAPE.teams_per_organization * args.users:,} users: "
        f"{plain_ms:.1f} ms per request ({profiled_ms:.1f} ms under cProfile), {args.requests} requests"
    )
    pstats.Stats(profiler).strip_dirs().sort_stats(args.sort).print_stats(args.top)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_on_scratch_database(PROFILE_DB, lambda server: profile(args, server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
