"""Bench cases, a closed-loop load generator, and the checks every response must pass.

A case builds request number `seq` (unique per case, warm-up included) with `payload(seq)` and
validates the `data` of its response with `check(data, seq)`; any failure raises BenchFailure. Every
response must also be a clean HTTP 200 without GraphQL errors and carry the `x-sql-statements` header.
Measured requests go through bench.http.LeanClient (its docstring says why).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.http import HttpFailure, LeanClient, LeanResponse

DIRECTORY_PAGE_QUERY = """
query DirectoryPage($orgs: Int!, $teams: Int!, $users: Int!) {
  account {
    name
    organizations(first: $orgs) {
      totalCount
      nodes {
        name
        teams(first: $teams) {
          totalCount
          nodes {
            name
            users(first: $users) {
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
# User nodes select email and role only: with displayName too, users(first: 50) would cost 50,883 and
# exceed the default MAX_QUERY_COST (50,000); the server would refuse it with QUERY_TOO_COMPLEX.

REQUEST_TIMEOUT_S = 120.0


class BenchFailure(RuntimeError):
    """A response that is not a clean 200 with the expected data: the bench must fail loudly."""


@dataclass(kw_only=True)
class Case:
    """One row of the table: a kind of request at a concurrency, until `max_requests` or `max_seconds`.

    `events_per_request` is set for usage-recording cases (the table then shows events/s).
    `statements_may_vary` marks a case whose statement count may legitimately differ between
    requests; the bench still reports it (VARIES) but does not fail on it. `workers` is the number of
    uvicorn worker processes of the server the case runs against (reported; bench.run starts it)."""

    name: str
    concurrency: int
    max_requests: int
    max_seconds: float
    workers: int = 1
    events_per_request: int | None = None
    statements_may_vary: bool = False
    _seq: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    def next_seq(self) -> int:
        return next(self._seq)

    def payload(self, seq: int) -> dict[str, Any]:
        raise NotImplementedError

    def check(self, data: dict[str, Any], seq: int) -> None:
        raise NotImplementedError


@dataclass(kw_only=True)
class DirectoryCase(Case):
    """The directory page: account → organizations → teams → users, with totalCount at each level."""

    organizations: int
    teams: int
    users: int

    @property
    def expected_users(self) -> int:
        return self.organizations * self.teams * self.users

    def payload(self, seq: int) -> dict[str, Any]:
        variables = {"orgs": self.organizations, "teams": self.teams, "users": self.users}
        return {"query": DIRECTORY_PAGE_QUERY, "variables": variables, "operationName": "DirectoryPage"}

    def check(self, data: dict[str, Any], seq: int) -> None:
        users = count_user_nodes(data, self)
        if users != self.expected_users:
            raise BenchFailure(f"{users} user nodes returned, expected {self.expected_users}")


@dataclass
class CaseResult:
    case: Case
    latencies_s: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    wall_s: float = 0.0
    server_rss_mb: float | None = None  # the server's peak RSS so far (VmHWM, largest worker), after the case

    @property
    def requests(self) -> int:
        return len(self.latencies_s)

    @property
    def throughput(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def events_per_s(self) -> float | None:
        if self.case.events_per_request is None:
            return None
        return self.throughput * self.case.events_per_request

    def percentile_ms(self, p: float) -> float:
        return percentile(self.latencies_s, p) * 1000

    @property
    def statements_identical(self) -> bool:
        return len(set(self.statements)) == 1


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def count_user_nodes(data: dict[str, Any], case: DirectoryCase) -> int:
    """Walk the page; fail unless every level has the expected number of nodes."""
    account = data.get("account")
    if account is None:
        raise BenchFailure("data.account is null: the token resolved to no account")
    orgs = account["organizations"]["nodes"]
    if len(orgs) != case.organizations:
        raise BenchFailure(f"{len(orgs)} organizations returned, expected {case.organizations}")
    users = 0
    for org in orgs:
        teams = org["teams"]["nodes"]
        if len(teams) != case.teams:
            raise BenchFailure(f"organization {org['name']!r} returned {len(teams)} teams, expected {case.teams}")
        users += sum(len(team["users"]["nodes"]) for team in teams)
    return users


def clean_data(response: LeanResponse) -> dict[str, Any]:
    """The `data` of a clean HTTP 200 GraphQL response; raise BenchFailure otherwise."""
    if response.status_code != 200:
        raise BenchFailure(f"HTTP {response.status_code}: {response.text[:500]}")
    body = orjson.loads(response.content)
    if "errors" in body:
        raise BenchFailure(f"GraphQL errors: {orjson.dumps(body['errors'][:3]).decode()}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise BenchFailure(f"no data in the response: {response.text[:500]}")
    return data


def statement_count(response: LeanResponse) -> int:
    header = response.headers.get("x-sql-statements")
    if header is None or not header.isdigit():
        raise BenchFailure(f"missing or invalid x-sql-statements header: {header!r}")
    return int(header)


async def post_graphql(client: LeanClient, payload: dict[str, Any]) -> LeanResponse:
    try:
        return await client.post(
            "/graphql", content=orjson.dumps(payload), headers={"content-type": "application/json"}
        )
    except HttpFailure as exc:
        raise BenchFailure(str(exc)) from exc


async def query_once(client: LeanClient, case: Case) -> tuple[float, int]:
    seq = case.next_seq()
    payload = case.payload(seq)
    started = time.perf_counter()
    response = await post_graphql(client, payload)
    elapsed = time.perf_counter() - started
    case.check(clean_data(response), seq)
    return elapsed, statement_count(response)


def make_client(base_url: str, token: str, concurrency: int) -> LeanClient:
    return LeanClient(base_url, {"Authorization": f"Bearer {token}"}, concurrency, REQUEST_TIMEOUT_S)


async def warm_up(base_url: str, token: str, case: Case, requests: int) -> None:
    async with make_client(base_url, token, 1) as client:
        for _ in range(requests):
            await query_once(client, case)


async def run_case(base_url: str, token: str, case: Case, clients: Sequence[LeanClient] | None = None) -> CaseResult:
    """`concurrency` workers in a closed loop until `max_requests` were sent or `max_seconds` passed.

    By default the workers share one client (its connections opened by the first requests). With
    `clients` (open, the caller's; one per worker), worker i sends on clients[i] only."""
    result = CaseResult(case)
    issued = 0
    started = time.perf_counter()
    deadline = started + case.max_seconds

    async def worker(client: LeanClient) -> None:
        nonlocal issued
        while issued < case.max_requests and time.perf_counter() < deadline:
            issued += 1
            latency, statements = await query_once(client, case)
            result.latencies_s.append(latency)
            result.statements.append(statements)

    async def loop(worker_clients: Sequence[LeanClient]) -> None:
        async with asyncio.TaskGroup() as group:
            for client in worker_clients:
                group.create_task(worker(client))

    try:
        if clients is not None:
            if len(clients) != case.concurrency:
                raise BenchFailure(f"{len(clients)} clients for concurrency {case.concurrency}")
            await loop(clients)
        else:
            async with make_client(base_url, token, case.concurrency) as client:
                await loop([client] * case.concurrency)
    except ExceptionGroup as group:  # the first failing request stops the case; report that one
        raise group.exceptions[0] from None
    result.wall_s = time.perf_counter() - started
    return result
