"""Operator commands against the real servers: doctor, bootstrap, db reset, token, the worker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import jwt
from arq import create_pool
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from cockpit_graphql.db.migrate import current_revision, head_revision
from cockpit_graphql.ops.bootstrap import bootstrap
from cockpit_graphql.ops.database import create_database, drop_database, mark_development
from cockpit_graphql.ops.doctor import render, run_checks
from cockpit_graphql.settings import Settings
from cockpit_graphql.workers.heartbeat import HEARTBEAT_KEY
from cockpit_graphql.workers.settings import WorkerSettings, redis_settings
from tests.support.world import World

ROOT = Path(__file__).resolve().parents[1]
COCKPIT = str(Path(sys.executable).parent / "cockpit")


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DEV_JWT_SECRET",)} | env
    return subprocess.run([COCKPIT, *args], capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=120)


async def run_burst_worker(settings: Settings) -> None:
    os.environ["REDIS_URL"] = settings.redis_url
    pool = await create_pool(redis_settings())
    await pool.enqueue_job("heartbeat", _job_id=f"heartbeat-test-{uuid.uuid4()}")
    worker = Worker(
        functions=WorkerSettings.functions,
        redis_settings=redis_settings(),
        burst=True,
        on_startup=WorkerSettings.on_startup,
        on_shutdown=WorkerSettings.on_shutdown,
        poll_delay=0.1,
    )
    await worker.main()
    assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
    await worker.close()
    await pool.aclose()


async def test_doctor_passes_with_a_live_worker_and_fails_without(settings: Settings, world: World) -> None:
    await world.tenant()
    await run_burst_worker(settings)
    checks = await run_checks(settings)
    table = render(checks)
    assert all(c.ok for c in checks), table
    assert {c.name for c in checks} >= {
        "migrations at head",
        "row-level security",
        "worker heartbeat",
        "account defaults",
        "app role owns nothing",
        "redis reachable",
    }
    redis = Redis.from_url(settings.redis_url)
    await redis.delete(HEARTBEAT_KEY)
    await redis.aclose()
    failing = {c.name: c for c in await run_checks(settings)}
    assert not failing["worker heartbeat"].ok
    result = run_cli("doctor", DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)
    assert result.returncode == 1 and "FAIL" in result.stdout and "worker heartbeat" in result.stdout


async def test_doctor_reports_an_unreachable_database(settings: Settings) -> None:
    broken = settings.model_copy(
        update={
            "database_url": make_url(settings.database_url)
            .set(database="no_such_database_xyz")
            .render_as_string(hide_password=False)
        }
    )
    checks = {c.name: c for c in await run_checks(broken)}
    assert not checks["database reachable"].ok and not checks["migrations at head"].ok


async def test_bootstrap_is_idempotent_and_demo_is_created_once(settings: Settings) -> None:
    name = f"cockpit_boot_{uuid.uuid4().hex[:8]}"
    server = make_url(settings.database_url)
    url = server.set(database=name).render_as_string(hide_password=False)
    await create_database(settings.database_url, name)
    try:
        local = settings.model_copy(update={"database_url": url})
        first = await bootstrap(local, demo=True)
        second = await bootstrap(local, demo=True)
        assert first.demo == ["Acme Corporation", "Globex Inc."] and second.demo == []
        assert second.accounts_checked == 2 and second.operators_added == []
        assert await current_revision(url) == head_revision()
    finally:
        await drop_database(settings.database_url, name)


async def test_db_reset_refuses_unless_marked_development(settings: Settings) -> None:
    refused = run_cli("db", "reset", DATABASE_URL=settings.database_url)
    assert refused.returncode == 3 and "not marked as development" in refused.stderr
    assert await current_revision(settings.database_url) == head_revision()

    name = f"cockpit_dev_{uuid.uuid4().hex[:8]}"
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    await create_database(settings.database_url, name)
    try:
        await mark_development(url)
        done = run_cli("db", "reset", DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
        assert await current_revision(url) == head_revision()
    finally:
        await drop_database(settings.database_url, name)


def test_token_command_needs_a_dev_key() -> None:
    refused = run_cli("token", "--role", "SUPER_ADMIN")
    assert refused.returncode == 2 and "DEV_JWT_SECRET" in refused.stderr
    secret = "s" * 40
    ok = run_cli("token", "--account", "acme-org", "--email", "admin@acme.example", DEV_JWT_SECRET=secret)
    assert ok.returncode == 0
    claims = jwt.decode(ok.stdout.strip(), secret, algorithms=["HS256"], audience="cockpit-api")
    assert claims["email"] == "admin@acme.example" and claims["urn:zitadel:iam:user:resourceowner:id"] == "acme-org"


async def test_dev_tokens_from_the_cli_work_against_the_api(settings: Settings, world: World) -> None:
    from cockpit_graphql.auth.dev_tokens import SUPER_ADMIN_SUBJECT, mint_dev_token
    from cockpit_graphql.ops.bootstrap import add_platform_operator

    await add_platform_operator(settings, settings.dev_issuer, SUPER_ADMIN_SUBJECT, "dev")
    assert settings.dev_issuer not in settings.platform_issuers  # the test settings do not trust the dev issuer
    token = mint_dev_token(settings, subject=SUPER_ADMIN_SUBJECT)
    r = await world.gql("{ viewer { role } }", token=token)
    assert r.codes == ["UNAUTHENTICATED"]  # an operator row is not enough without an allow-listed issuer
