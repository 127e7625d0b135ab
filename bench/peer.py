"""`make bench-peer`: the directory page through our server and through PostGraphile v4, same data, same run.

    .venv/bin/python -m bench.peer [--requests 200] [--seconds 30] [--concurrency 16] [--rounds 1] [--keep]

Seeds the bench tenant of `make bench` (bench/seed.py: 20 organizations × 10 teams × 50 users) into a fresh
database of its own (`cockpit_bench_peer`, so that it never collides with a `make bench` running at the same
time) on the PostgreSQL server of DATABASE_URL (else the embedded one), bootstraps it, then starts servers on
loopback: ours (`cockpit serve`, one uvicorn worker, as bench.run; and a second one with --ours-workers) and
the peer (bench/peer/server.js: PostGraphile v4 in one Node process, installed by `make bench-peer` with `npm
ci`). The peer connects as the owner, schema `public`, and runs every request in a transaction that sets the
role `cockpit_app` and `app.account_id` to the bench account (transaction-local, as our server does per
transaction), so both read the tenant tables through the same FORCEd row-level security policy.

Both serve the directory page, 1,000 users: account → organizations(first: 20) → teams(first: 10) →
users(first: 5), totalCount at each level, users' email and role (bench/load.py's DIRECTORY_PAGE_QUERY; the
peer's query asks PostGraphile for the same fields under the same aliases, in the same order). Before any
measurement one page of each is fetched and compared: the same organizations, teams, users (email, role) and
counts, in the same order, or the bench fails. The load generator is bench/load.py's (closed loop, one
LeanClient in this process, every response checked: HTTP 200, no errors, 1,000 user nodes, an
`x-sql-statements` header), at concurrency 1 and --concurrency, the two servers alternating case by case (ours
c=1, peer c=1, ours c=16, peer c=16; --rounds repeats that). Then ours again at c=16 on a second server of
ours with --ours-workers uvicorn workers (2: issue #7's baseline of 0.26× at c=16 is a 2-worker figure),
connections spread evenly over its workers (bench.server.pin_connections), set against that round's
PostGraphile c=16 figure (PostGraphile stays one Node process). Prints and writes the side-by-side table with
the ratio ours / PostGraphile (bench/results/peer.md and peer.json), with each case's CPU split and the
machine's load average, since this machine is shared. Exits non-zero on any failed check.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy.engine import make_url

from bench import database
from bench.database import BenchServer
from bench.harness import run_bench
from bench.http import LeanClient
from bench.load import (
    BenchFailure,
    CaseResult,
    DirectoryCase,
    clean_data,
    make_client,
    post_graphql,
    run_case,
    warm_up,
)
from bench.report import machine_facts
from bench.run import RESULTS_DIR, ROOT, SHAPE, admin_token, bench_settings
from bench.server import (
    HOST,
    OURS_APP_NAME,
    STARTUP_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Backends,
    ServerProcess,
    cpu_seconds,
    free_port,
    log_tail,
    machine_busy_seconds,
    pin_connections,
    server_environment,
)

PEER_DB = "cockpit_bench_peer"
PEER_DIR = ROOT / "bench" / "peer"
PEER_ROLE = "cockpit_app"
PEER_APP_NAME = "cockpit-bench-peer"  # the peer's application_name in pg_stat_activity (PGAPPNAME)
USERS_PER_TEAM = 5  # 20 × 10 × 5 = 1,000 user nodes: the directory page

# The same page as bench/load.py's DIRECTORY_PAGE_QUERY, in PostGraphile's schema: its relation fields are
# named after the foreign keys (composite, leading with account_id); the aliases give the response our
# shape, so bench/load.py's checks read both. The orders are ours: organizations and teams by name, users by
# email (each then by id).
PEER_QUERY = """
query DirectoryPage($account: UUID!, $orgs: Int!, $teams: Int!, $users: Int!) {
  account: accountById(id: $account) {
    name
    organizations: organizationsByAccountId(first: $orgs, orderBy: [NAME_ASC, ID_ASC]) {
      totalCount
      nodes {
        name
        teams: teamsByAccountIdAndOrganizationId(first: $teams, orderBy: [NAME_ASC, ID_ASC]) {
          totalCount
          nodes {
            name
            users: usersByAccountIdAndHomeTeamId(first: $users, orderBy: [EMAIL_ASC, ID_ASC]) {
              totalCount
              nodes { email role }
            }
          }
        }
      }
    }
  }
}
"""


@dataclass(kw_only=True)
class PeerDirectoryCase(DirectoryCase):
    """The directory page as PostGraphile serves it (checked by DirectoryCase.check: same shape)."""

    account_id: str

    def payload(self, seq: int) -> dict[str, Any]:
        variables = {"account": self.account_id, "orgs": self.organizations, "teams": self.teams, "users": self.users}
        return {"query": PEER_QUERY, "variables": variables, "operationName": "DirectoryPage"}


@dataclass
class Measured:
    """One case on one server, with where the machine's CPU went meanwhile."""

    result: CaseResult
    server_cpu_s: float
    pg_cpu_s: float | None  # the server's PostgreSQL backends; None when PostgreSQL is not on this machine
    client_cpu_s: float
    machine_busy_s: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    def as_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "requests": r.requests,
            "wall_s": round(r.wall_s, 3),
            "req_per_s": round(r.throughput, 2),
            "p50_ms": round(r.percentile_ms(50), 2),
            "p99_ms": round(r.percentile_ms(99), 2),
            "sql_statements_per_request": sorted(set(r.statements)),
            "cpu_s": {
                "server": round(self.server_cpu_s, 2),
                "server_postgresql_backends": None if self.pg_cpu_s is None else round(self.pg_cpu_s, 2),
                "bench_client": round(self.client_cpu_s, 2),
                "machine_busy": round(self.machine_busy_s, 2),
                "everything_else": round(
                    self.machine_busy_s - self.server_cpu_s - (self.pg_cpu_s or 0.0) - self.client_cpu_s, 2
                ),
            },
            "loadavg_before": [round(x, 2) for x in self.load_before],
            "loadavg_after": [round(x, 2) for x in self.load_after],
        }

    def cpu_ms_per_request(self) -> tuple[float, float | None]:
        """Server CPU per request, and server + its PostgreSQL backends (None without the latter)."""
        n = max(self.result.requests, 1)
        server = self.server_cpu_s * 1000 / n
        return server, None if self.pg_cpu_s is None else server + self.pg_cpu_s * 1000 / n

    def note(self, who: str) -> str:
        r = self.result
        pg = self.pg_cpu_s or 0.0
        others = self.machine_busy_s - self.server_cpu_s - pg - self.client_cpu_s
        backends = "" if self.pg_cpu_s is None else f", its PostgreSQL backends {pg:.1f} s"
        return (
            f"{who} @ {r.case.concurrency}: {r.requests} requests in {r.wall_s:.1f} s; the machine's {os.cpu_count()} "
            f"cores were busy {self.machine_busy_s:.1f} s: server {self.server_cpu_s:.1f} s{backends}, bench client "
            f"{self.client_cpu_s:.1f} s, everything else (other jobs{'' if backends else ', PostgreSQL'}) "
            f"{others:.1f} s; load average {self.load_before[0]:.2f} before, {self.load_after[0]:.2f} after"
        )


class PeerProcess:
    """PostGraphile (bench/peer/server.js) on a free loopback port; `start()`, always `stop()`."""

    def __init__(self, owner_url: str, account_id: str, log_path: Path) -> None:
        self.owner_url = owner_url
        self.account_id = account_id
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def environment(self) -> dict[str, str]:
        url = make_url(self.owner_url)
        socket_dir = url.query.get("host") if url.query else None  # the embedded server: a socket directory
        env = os.environ.copy()
        env.update(
            {
                "PGHOST": str(socket_dir or url.host or "127.0.0.1"),
                "PGPORT": str(url.port or 5432),
                "PGUSER": url.username or "postgres",
                "PGDATABASE": url.database or PEER_DB,
                "PEER_HOST": HOST,
                "PEER_PORT": str(self.port),
                "PEER_ACCOUNT_ID": self.account_id,
                "PEER_ROLE": PEER_ROLE,
                "PGAPPNAME": PEER_APP_NAME,
                "NODE_ENV": "production",
            }
        )
        if url.password:
            env["PGPASSWORD"] = url.password
        return env

    def start(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise BenchFailure("node is not installed (the peer needs Node 20)")
        if not (PEER_DIR / "node_modules" / "postgraphile").is_dir():
            raise BenchFailure("bench/peer/node_modules is missing: run `make bench-peer` (it runs `npm ci` there)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [node, "server.js"], cwd=PEER_DIR, env=self.environment(), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"PostGraphile exited with {self._proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"PostGraphile was not healthy within {STARTUP_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def version(self) -> str:
        package = json.loads((PEER_DIR / "node_modules" / "postgraphile" / "package.json").read_text())
        node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
        return f"PostGraphile {package['version']} on Node {node}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help=f"keep the {PEER_DB} database afterwards")
    parser.add_argument("--requests", type=int, default=200, help="requests per case (default 200)")
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget per case (default 30)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrency of the parallel cases (16)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests before each case")
    parser.add_argument("--rounds", type=int, default=1, help="how many times to run the cases (1)")
    parser.add_argument(
        "--ours-workers",
        type=int,
        default=2,
        help="also run ours at --concurrency with this many uvicorn workers, connections spread evenly "
        "(2, as issue #7's baseline; 1 or less: not)",
    )
    return parser.parse_args(argv)


def page_cases(args: argparse.Namespace, concurrency: int, account_id: str) -> tuple[DirectoryCase, DirectoryCase]:
    org, teams = SHAPE.organizations, SHAPE.teams_per_organization
    name = f"directory page, {org * teams * USERS_PER_TEAM:,} users ({org}x{teams}x{USERS_PER_TEAM})"
    common = dict(
        name=name,
        organizations=org,
        teams=teams,
        users=USERS_PER_TEAM,
        concurrency=concurrency,
        max_requests=args.requests,
        max_seconds=args.seconds,
    )
    return DirectoryCase(**common), PeerDirectoryCase(account_id=account_id, **common)  # type: ignore[arg-type]


def page_content(data: dict[str, Any]) -> Any:
    """Everything the page shows, in order: what both servers must agree on."""
    account = data["account"]
    orgs = account["organizations"]
    return (
        account["name"],
        orgs["totalCount"],
        [
            (
                o["name"],
                o["teams"]["totalCount"],
                [
                    (t["name"], t["users"]["totalCount"], [(u["email"], u["role"]) for u in t["users"]["nodes"]])
                    for t in o["teams"]["nodes"]
                ],
            )
            for o in orgs["nodes"]
        ],
    )


async def fetch_page(base_url: str, token: str, case: DirectoryCase) -> Any:
    async with make_client(base_url, token, 1) as client:
        response = await post_graphql(client, case.payload(case.next_seq()))
        data = clean_data(response)
        case.check(data, 0)
        return page_content(data)


async def same_data(ours: ServerProcess, peer: PeerProcess, token: str, cases: tuple[DirectoryCase, ...]) -> str:
    """Fail unless both servers answer the page with the same content; return a one-line summary."""
    mine = await fetch_page(ours.base_url, token, cases[0])
    theirs = await fetch_page(peer.base_url, token, cases[1])
    if mine != theirs:
        for i, (a, b) in enumerate(zip(mine[2], theirs[2], strict=False)):
            if a != b:
                raise BenchFailure(f"the two servers disagree at organization {i}: ours {a!r:.300} / peer {b!r:.300}")
        raise BenchFailure(f"the two servers disagree: ours {mine[:2]!r}, peer {theirs[:2]!r}")
    users = sum(len(t[2]) for o in mine[2] for t in o[2])
    return (
        f"same data checked before measuring: both servers return the same {len(mine[2])} organizations (of "
        f"{mine[1]}), {sum(len(o[2]) for o in mine[2])} teams and {users:,} users (email, role) with the same "
        "totalCounts, in the same order"
    )


async def measure_case(
    base_url: str,
    token: str,
    case: DirectoryCase,
    pids: list[int],
    backends: Backends,
    app_name: str,
    warmup: int,
    clients: list[LeanClient] | None = None,
) -> Measured:
    """A case after its warm-up, the server's CPU summed over `pids` (its worker processes); backends opened
    and closed during the case are not counted (the pools keep theirs open: 10 connections each, at most
    16 requests in flight). `clients`: connections pinned to the workers (else the case opens its own)."""
    await warm_up(base_url, token, case, warmup)
    load_before = os.getloadavg()
    pg_before = await backends.cpu(app_name)
    server_before, machine_before, client_before = _cpu(pids), machine_busy_seconds(), time.process_time()
    result = await run_case(base_url, token, case, clients)
    server = _cpu(pids) - server_before
    machine = machine_busy_seconds() - machine_before
    client = time.process_time() - client_before
    pg = Backends.spent(pg_before, await backends.cpu(app_name))
    return Measured(result, server, pg, client, machine, load_before, os.getloadavg())


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


async def measure_multi(
    server: ServerProcess, token: str, case: DirectoryCase, backends: Backends, warmup: int
) -> Measured:
    """Ours with several workers: the case's connections spread evenly over them (bench.server.
    pin_connections, as the effectiveAccess cases of bench.run), checked unchanged afterwards."""
    pinned = await pin_connections(server, token, case, case.concurrency)
    try:
        measured = await measure_case(
            server.base_url, token, case, server.worker_pids(), backends, OURS_APP_NAME, warmup, pinned.clients
        )
        pinned.check_unchanged(server)
    finally:
        await pinned.aclose()
    return measured


@dataclass
class Pair:
    ours: Measured
    peer: Measured
    workers: int = 1  # our uvicorn workers (the peer is one Node process)

    @property
    def ratio(self) -> float:
        peer = self.peer.result.throughput
        return self.ours.result.throughput / peer if peer else 0.0

    @property
    def cpu_ratio(self) -> float | None:
        """PostGraphile's CPU per request / ours (server + its PostgreSQL backends): what the throughput
        ratio would be if both were CPU-bound on cores of their own. Less sensitive to other jobs."""
        ours, peer = self.ours.cpu_ms_per_request()[1], self.peer.cpu_ms_per_request()[1]
        return None if ours is None or peer is None or ours == 0 else peer / ours


async def measure(
    ours: ServerProcess, multi: ServerProcess | None, peer: PeerProcess, token: str, args: argparse.Namespace
) -> list[Pair]:
    """Each round: ours then the peer at c=1, ours then the peer at c=--concurrency, and then (with
    `multi`) ours with --ours-workers workers at c=--concurrency, against that round's peer figure."""
    backends = Backends(peer.owner_url)
    pairs = []
    for round_ in range(args.rounds):
        for concurrency in dict.fromkeys((1, args.concurrency)):
            mine, theirs = page_cases(args, concurrency, peer.account_id)
            label = f" (round {round_ + 1})" if args.rounds > 1 else ""
            print(f"ours, concurrency {concurrency}{label} …", end=" ", flush=True)
            a = await measure_case(ours.base_url, token, mine, ours.worker_pids(), backends, OURS_APP_NAME, args.warmup)
            print(f"{a.result.throughput:.1f} req/s; PostGraphile …", end=" ", flush=True)
            b = await measure_case(peer.base_url, token, theirs, [peer.pid], backends, PEER_APP_NAME, args.warmup)
            print(f"{b.result.throughput:.1f} req/s", flush=True)
            pairs.append(Pair(a, b))
            if multi is not None and concurrency == args.concurrency:
                mine, _ = page_cases(args, concurrency, peer.account_id)
                print(f"ours with {multi.workers} workers, concurrency {concurrency}{label} …", end=" ", flush=True)
                c = await measure_multi(multi, token, mine, backends, args.warmup)
                print(f"{c.result.throughput:.1f} req/s", flush=True)
                pairs.append(Pair(c, b, multi.workers))
    return pairs


def statements_cell(result: CaseResult) -> str:
    counts = sorted(set(result.statements))
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]} (VARIES)"


def _cpu_cell(ours: float | None, peer: float | None) -> str:
    return "–" if ours is None or peer is None else f"{ours:.1f} / {peer:.1f}"


def markdown(pairs: list[Pair]) -> str:
    head = (
        "| case | concurrency | our workers | requests ours / peer | ours req/s | PostGraphile req/s "
        "| ours / PostGraphile | p50 ms ours / peer | p99 ms ours / peer | SQL statements/request ours / peer "
        "| server CPU ms/request ours / peer | + its PostgreSQL backends ours / peer | CPU-based ratio |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in pairs:
        a, b = p.ours.result, p.peer.result
        (a_server, a_total), (b_server, b_total) = p.ours.cpu_ms_per_request(), p.peer.cpu_ms_per_request()
        cpu_ratio = "–" if p.cpu_ratio is None else f"{p.cpu_ratio:.2f}×"
        lines.append(
            f"| {a.case.name} | {a.case.concurrency} | {p.workers} | {a.requests} / {b.requests} | "
            f"{a.throughput:.1f} | {b.throughput:.1f} | **{p.ratio:.2f}×** | "
            f"{a.percentile_ms(50):.1f} / {b.percentile_ms(50):.1f} | "
            f"{a.percentile_ms(99):.1f} / {b.percentile_ms(99):.1f} | {statements_cell(a)} / {statements_cell(b)} | "
            f"{_cpu_cell(a_server, b_server)} | {_cpu_cell(a_total, b_total)} | {cpu_ratio} |"
        )
    return "\n".join(lines)


def publish(facts: list[str], pairs: list[Pair], notes: list[str]) -> None:
    text = "\n".join(
        [
            "# Cockpit GraphQL vs PostGraphile: the directory page",
            "",
            *facts,
            "",
            markdown(pairs),
            "",
            *(f"- {n}" for n in notes),
            *(
                f"- {p.ours.note('ours')}\n- {p.peer.note('PostGraphile')}"
                if p.workers == 1
                else f"- {p.ours.note(f'ours with {p.workers} workers')} (against the PostGraphile case above)"
                for p in pairs
            ),
            "",
        ]
    )
    document = {
        "facts": facts,
        "notes": notes,
        "cases": [
            {
                "case": p.ours.result.case.name,
                "concurrency": p.ours.result.case.concurrency,
                "our_workers": p.workers,
                "ratio_ours_over_peer": round(p.ratio, 3),
                "cpu_based_ratio": None if p.cpu_ratio is None else round(p.cpu_ratio, 3),
                "ours": p.ours.as_json(),
                "postgraphile": p.peer.as_json(),
            }
            for p in pairs
        ],
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "peer.md").write_text(text)
    (RESULTS_DIR / "peer.json").write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(text)
    print(f"written to {(RESULTS_DIR / 'peer.md').relative_to(ROOT)} and peer.json")


def varying(pairs: list[Pair]) -> list[str]:
    return [
        f"{who} @ {m.result.case.concurrency}: {sorted(set(m.result.statements))}"
        for p in pairs
        for who, m in (("ours", p.ours), ("PostGraphile", p.peer))
        if not m.result.statements_identical
    ]


def bench(args: argparse.Namespace, server: BenchServer, started: list[Any]) -> int:
    dev_secret = secrets.token_urlsafe(32)
    owner_url = asyncio.run(database.recreate(server, PEER_DB))
    settings = bench_settings(owner_url, dev_secret)
    seeded = asyncio.run(database.seed(owner_url, settings.dev_issuer, SHAPE))
    seeding = f"seeding: {seeded.users:,} users in {seeded.seconds:.2f} s (bench/seed.py, database {PEER_DB})"
    print(seeding, flush=True)
    asyncio.run(database.run_bootstrap(settings))
    pg_version = asyncio.run(database.server_version(server.url))

    ours = ServerProcess(server_environment(owner_url, dev_secret, settings.dev_issuer), RESULTS_DIR / "peer-ours.log")
    started.append(ours)
    ours.start()
    multi = None
    if args.ours_workers > 1:
        multi = ServerProcess(
            server_environment(owner_url, dev_secret, settings.dev_issuer),
            RESULTS_DIR / f"peer-ours-{args.ours_workers}-workers.log",
            args.ours_workers,
        )
        started.append(multi)
        multi.start()
    peer = PeerProcess(owner_url, str(seeded.account_id), RESULTS_DIR / "peer-postgraphile.log")
    started.append(peer)
    peer.start()
    token = admin_token(settings)

    cases = page_cases(args, 1, peer.account_id)
    asyncio.run(warm_up(ours.base_url, token, cases[0], 1))  # the first request links the admin's identity
    notes = [asyncio.run(same_data(ours, peer, token, cases))]
    print(notes[0], flush=True)
    pairs = asyncio.run(measure(ours, multi, peer, token, args))

    facts = machine_facts(pg_version, server.where(), ROOT)
    facts[-1] = (
        "- servers: ours `cockpit serve` with 1 uvicorn worker (and, in the rows that say so, a second one with "
        f"{args.ours_workers} workers, its connections spread evenly over them); the peer "
        f"{peer.version()} in one process (bench/peer/server.js), connected as the owner with role "
        f"`{PEER_ROLE}` and `app.account_id` set per request (pgSettings); both on loopback. Client: bench/load.py "
        "(bench.http.LeanClient in the bench process, which shares the cores); the cases alternate ours / peer"
    )
    facts.append(f"- {seeding}")
    facts.append(
        f"- load average (1/5/15 min) at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores; other jobs may share this machine: read the CPU notes"
    )
    notes.append(
        "ours authenticates every request (JWT verification and 1 of its statements, cockpit_identity(): the "
        "operator, account, identity binding and linked user, outside a transaction) and checks limits; the peer "
        "has no authentication (it ignores the bearer token) and is given the account and role by configuration"
    )
    publish(facts, pairs, notes)
    if problems := varying(pairs):
        print("BENCH FAILED: SQL statements per request varied within a case:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began_at = datetime.now(UTC)
    status = run_bench("bench-peer", PEER_DB, args.keep, lambda server, started: bench(args, server, started))
    print(f"(bench-peer started {began_at:%Y-%m-%d %H:%M} UTC)")
    return status


if __name__ == "__main__":
    sys.exit(main())
