"""/metrics: requests by operation and outcome, latency, SQL statements, queue depth and job outcomes
(from Redis), correct across several worker processes; /readyz and /healthz."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from arq import Retry
from prometheus_client.parser import text_string_to_metric_families

from cockpit_graphql.ops import metrics
from cockpit_graphql.ops.metrics_jobs import count_functions
from tests.ops.helpers import CLOSED_REDIS, app_client, gql, own_settings
from tests.support.workers import queue_pool, run_burst_worker
from tests.support.world import World

ROOT = Path(__file__).resolve().parents[2]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_requests_are_counted_by_operation_and_outcome(world: World, settings: Any, db: Any) -> None:
    t = await world.tenant()
    op = f"Viewer{uuid.uuid4().hex[:8]}"
    async with app_client(own_settings(settings), db) as (_app, client):
        before = (await client.get("/metrics")).text
        for _ in range(2):
            assert (await gql(client, f"query {op} {{ viewer {{ role }} }}", token=world.admin(t))).errors == []
        await gql(client, f"query {op} {{ viewer {{ role }} }}")  # no token
        await gql(client, f"query {op} {{ viewer {{ role }} }}", token="not-a-jwt")  # refused before GraphQL
        bad = f'mutation Bad{op} {{ createOrganization(input: {{name: "  "}}) {{ userErrors {{ code }} }} }}'
        assert (await gql(client, bad, token=world.admin(t))).data["createOrganization"]["userErrors"]
        denied = f'mutation Deny{op} {{ suspendAccount(input: {{id: "{t.account_gid}"}}) {{ userErrors {{ code }} }} }}'
        assert (await gql(client, denied, token=world.member(t))).codes == ["FORBIDDEN"]
        await gql(client, "{ viewer { role ", token=world.admin(t))
        await client.post("/graphql", content=b"42", headers={"content-type": "application/json"})  # no object
        scrape = await client.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    text = scrape.text
    total = "cockpit_graphql_requests_total"
    assert value(text, total, operation=op, operation_type="query", outcome="ok") == 2
    assert value(text, total, operation=op, operation_type="query", outcome="UNAUTHENTICATED") == 0
    assert (
        value(text, total, operation="unauthenticated", operation_type="query", outcome="UNAUTHENTICATED")
        - value(before, total, operation="unauthenticated", operation_type="query", outcome="UNAUTHENTICATED")
        == 1
    )  # without a principal the name is not a label
    assert (
        value(text, total, operation="none", operation_type="none", outcome="UNAUTHENTICATED")
        - value(before, total, operation="none", operation_type="none", outcome="UNAUTHENTICATED")
        == 1
    )
    assert value(text, total, operation=f"Bad{op}", operation_type="mutation", outcome="user_error") == 1
    assert value(text, total, operation=f"Deny{op}", operation_type="mutation", outcome="FORBIDDEN") == 1
    assert value(text, total, operation="invalid", operation_type="none", outcome="GRAPHQL_PARSE_FAILED") >= 1
    assert (
        value(text, total, operation="none", operation_type="none", outcome="BAD_REQUEST")
        - value(before, total, operation="none", operation_type="none", outcome="BAD_REQUEST")
        == 1
    )  # refused before GraphQL: the code, not `http_400`
    assert value(text, "cockpit_graphql_request_duration_seconds_count", operation=op) == 2
    assert value(text, "cockpit_graphql_request_duration_seconds_bucket", operation=op, le="+Inf") == 2
    assert value(text, "cockpit_graphql_sql_statements_count", operation=op) == 2
    assert value(text, "cockpit_graphql_sql_statements_sum", operation=op) > 0
    assert value(text, "cockpit_redis_up") == 1
    assert value(before, total, operation=op, operation_type="query", outcome="ok") == 0


async def test_refusals_before_graphql_are_counted_by_their_own_code(world: World, settings: Any, db: Any) -> None:
    """A 403 at sign-in is ACCOUNT_SUSPENDED or ACCOUNT_MISMATCH, not a generic FORBIDDEN."""
    t = await world.tenant()
    suspend = f'mutation {{ suspendAccount(input: {{id: "{t.account_gid}"}}) {{ userErrors {{ code }} }} }}'
    assert (await world.gql(suspend, token=await world.super_admin())).data["suspendAccount"]["userErrors"] == []
    total = "cockpit_graphql_requests_total"
    refused = {"operation": "none", "operation_type": "none"}  # refused before GraphQL parsed anything
    async with app_client(own_settings(settings), db) as (_app, client):
        before = (await client.get("/metrics")).text
        response = await client.post(
            "/graphql", json={"query": "{ viewer { role } }"}, headers={"authorization": f"Bearer {world.member(t)}"}
        )
        text = (await client.get("/metrics")).text
    assert response.status_code == 403 and response.json()["errors"][0]["extensions"]["code"] == "ACCOUNT_SUSPENDED"
    for outcome, added in (("ACCOUNT_SUSPENDED", 1), ("FORBIDDEN", 0)):
        counted = value(text, total, **refused, outcome=outcome) - value(before, total, **refused, outcome=outcome)
        assert counted == added, outcome


def test_operation_names_are_a_bounded_label_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_seen", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 2)
    assert [metrics.operation_label(n, True) for n in ("A", "B", "C", "A", None, "x" * 200)] == [
        "A",
        "B",
        "other",
        "A",
        "anonymous",
        "other",
    ]
    assert [metrics.operation_label(n, False) for n in ("A", "D", None)] == ["unauthenticated"] * 3
    assert metrics._seen == {"A", "B"}


async def test_an_anonymous_flood_of_operation_names_does_not_use_up_the_label_cap(
    world: World, settings: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: 200 made-up names without a token filled the cap and every real operation became `other`."""
    t = await world.tenant()
    monkeypatch.setattr(metrics, "_seen", set())
    monkeypatch.setattr(metrics, "MAX_OPERATION_NAMES", 3)
    total = "cockpit_graphql_requests_total"
    junk = [f"Junk{uuid.uuid4().hex[:8]}" for _ in range(6)]
    async with app_client(own_settings(settings), db) as (_app, client):
        before = (await client.get("/metrics")).text
        for name in junk:
            assert (await gql(client, f"query {name} {{ viewer {{ role }} }}")).codes == ["UNAUTHENTICATED"]
        real = f"Real{uuid.uuid4().hex[:8]}"
        assert (await gql(client, f"query {real} {{ viewer {{ role }} }}", token=world.admin(t))).errors == []
        text = (await client.get("/metrics")).text
    assert value(text, total, operation=real, operation_type="query", outcome="ok") == 1
    other = {"operation": "other", "operation_type": "query", "outcome": "ok"}
    assert value(text, total, **other) == value(before, total, **other)
    assert not any(name in text for name in junk) and metrics._seen == {real}


async def _ok(_ctx: dict[str, Any]) -> str:
    return "done"


async def _broken(_ctx: dict[str, Any]) -> None:
    raise RuntimeError("boom")


async def _again(ctx: dict[str, Any]) -> None:
    if ctx["job_try"] < 2:
        raise Retry(defer=0)


async def test_queue_depth_and_job_outcomes_are_read_from_redis_at_scrape(settings: Any, db: Any) -> None:
    queue = f"cockpit:test:queue:{uuid.uuid4().hex}"
    key = f"{settings.metrics_jobs_key}:{uuid.uuid4().hex[:8]}"
    local = own_settings(settings, worker_queue_name=queue, metrics_jobs_key=key)
    functions = count_functions([_ok, _broken, _again], key)
    async for pool in queue_pool(settings, queue):
        for name in ("_ok", "_ok", "_broken", "_again"):
            await pool.enqueue_job(name)
        async with app_client(local, db) as (_app, client):
            queued = (await client.get("/metrics")).text
            assert value(queued, "cockpit_queue_jobs", queue=queue) == 4
            await run_burst_worker(local, queue, functions)
            text = (await client.get("/metrics")).text
    assert value(text, "cockpit_queue_jobs", queue=queue) == 0
    assert value(text, "cockpit_jobs_total", job="_ok", outcome="success") == 2
    assert value(text, "cockpit_jobs_total", job="_broken", outcome="failure") == 1
    assert value(text, "cockpit_jobs_total", job="_again", outcome="retry") == 1
    assert value(text, "cockpit_jobs_total", job="_again", outcome="success") == 1


async def test_metrics_answer_when_redis_is_down(settings: Any, db: Any) -> None:
    async with app_client(own_settings(settings, redis_url=CLOSED_REDIS), db) as (_app, client):
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert value(r.text, "cockpit_redis_up") == 0 and "cockpit_graphql_requests_total" in r.text


def test_several_processes_are_merged(tmp_path: Path) -> None:
    """What `cockpit serve --workers N` relies on: each process writes its samples to the
    multiprocess directory; a scrape in any process reads them all."""
    directory = tmp_path / "prom"
    metrics.prepare_multiproc_dir(str(directory))
    code = (
        "from cockpit_graphql.ops.metrics import observe_request\nobserve_request('Merged', 'query', 'ok', 0.02, 3)\n"
    )
    env = {**os.environ, metrics.MULTIPROC_ENV: str(directory)}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=60)
    text = metrics.render(multiproc_dir=str(directory)).decode()
    assert value(text, "cockpit_graphql_requests_total", operation="Merged", operation_type="query", outcome="ok") == 3
    assert value(text, "cockpit_graphql_sql_statements_sum", operation="Merged") == 9
    metrics.prepare_multiproc_dir(str(directory))  # a new run starts from nothing
    assert "Merged" not in metrics.render(multiproc_dir=str(directory)).decode()


async def test_healthz_and_readyz(settings: Any, db: Any) -> None:
    async with app_client(own_settings(settings), db) as (_app, client):
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    # Redis down and the rate limiter failing open (the default): requests are still served, so the
    # replica stays ready and says Redis is degraded (a 503 would drain every replica at once)
    assert settings.rate_limit_fail_open
    async with app_client(own_settings(settings, redis_url=CLOSED_REDIS), db) as (_app, client):
        assert (await client.get("/healthz")).status_code == 200  # liveness does not depend on Redis
        r = await client.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "degraded", "checks": {"database": "ok", "redis": "degraded: ConnectionError"}}
    # failing closed, every request would be refused with RATE_LIMITED: not ready
    closed = own_settings(settings, redis_url=CLOSED_REDIS, rate_limit_fail_open=False)
    async with app_client(closed, db) as (_app, client):
        r = await client.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "checks": {"database": "ok", "redis": "failed: ConnectionError"}}


async def test_readyz_names_a_failing_database(settings: Any) -> None:
    from sqlalchemy.engine import make_url

    from cockpit_graphql.db.engine import Database

    broken = settings.model_copy(
        update={
            "app_database_url": make_url(settings.resolved_app_database_url)
            .set(database="no_such_database_xyz")
            .render_as_string(hide_password=False)
        }
    )
    db = Database.from_settings(broken)
    try:
        async with app_client(own_settings(broken), db) as (_app, client):
            r = await client.get("/readyz")
        # the database is needed by every request: 503 whether the rate limiter fails open or closed
        for fail_open in (True, False):
            both = own_settings(broken, redis_url=CLOSED_REDIS, rate_limit_fail_open=fail_open)
            async with app_client(both, db) as (_app, client):
                down = await client.get("/readyz")
            assert down.status_code == 503 and down.json()["status"] == "unavailable", fail_open
            assert down.json()["checks"]["database"].startswith("failed"), fail_open
            assert down.json()["checks"]["redis"] == ("degraded" if fail_open else "failed") + ": ConnectionError"
    finally:
        await db.dispose()
    assert r.status_code == 503 and r.json()["status"] == "unavailable"
    checks = r.json()["checks"]
    assert checks["database"].startswith("failed") and checks["redis"] == "ok"
    assert "no_such_database" not in r.text  # class names only: no hosts, names or credentials


def test_serve_prepares_the_multiprocess_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(metrics.MULTIPROC_ENV, "recorded")  # so that teardown restores the original state
    monkeypatch.delenv(metrics.MULTIPROC_ENV)
    # `serve` configures logging: the loggers it touches get back their handlers and propagation
    # (monkeypatch) and their levels (setLevel in the finally below, which also clears logging's caches)
    touched = ["", "strawberry.execution", "pgserver", "arq.worker", "httpx", "uvicorn", "uvicorn.error"]
    levels = {name: logging.getLogger(name or None).level for name in touched}
    for name in [*touched, "uvicorn.access"]:
        logger = logging.getLogger(name or None)
        monkeypatch.setattr(logger, "handlers", logger.handlers[:])
        monkeypatch.setattr(logger, "propagate", logger.propagate)
    try:
        _serve_prepares_the_multiprocess_directory(tmp_path, monkeypatch)
    finally:
        for name, level in levels.items():
            logging.getLogger(name or None).setLevel(level)


def _serve_prepares_the_multiprocess_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from cockpit_graphql import cli

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the directories `serve` makes land in tmp_path
    assert cli._metrics_multiproc_dir(1) == (None, False) and metrics.MULTIPROC_ENV not in os.environ  # in memory
    created, ours = cli._metrics_multiproc_dir(2)  # several workers and no directory given: a fresh one
    assert ours and created and Path(created).is_dir() and os.environ[metrics.MULTIPROC_ENV] == created
    assert Path(created).parent == tmp_path
    shutil.rmtree(created)  # `serve` removes it when uvicorn returns; this test called the helper alone
    given = tmp_path / "given"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"stale")
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(given))
    assert cli._metrics_multiproc_dir(1) == (str(given), False) and not list(given.iterdir())  # emptied first

    # `serve` removes the directory it made (not one it was given) when uvicorn returns
    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: served.append(os.environ[metrics.MULTIPROC_ENV]))
    monkeypatch.setattr(cli, "_bind_tcp_sockets", lambda: None)
    cli.serve("127.0.0.1", 0, 2)
    assert served == [str(given)] and given.is_dir()
    monkeypatch.delenv(metrics.MULTIPROC_ENV)
    cli.serve("127.0.0.1", 0, 2)
    assert len(served) == 2 and served[1] != str(given) and not Path(served[1]).exists()
