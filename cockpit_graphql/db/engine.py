"""Engines and transactions. Every statement on tenant data runs inside `Database.tenant()`, but
two SQL functions that set the tenant themselves for their one statement and restore the caller's
setting, run on `single_statements()`: `cockpit_identity()` (identity resolution, every request;
migration 0011) and `cockpit_access_read()` (effectiveAccess's read; migrations 0012 and 0013).

Session strategy for concurrent resolvers: strawberry resolves sibling fields concurrently and one
asyncpg connection cannot run two statements at once, so a request never shares one session between
resolvers. Each dataloader batch (and each mutation) checks a connection out of the pool, opens one
transaction, sets the account with `set_config('app.account_id', …, true)` (transaction-local, so a
pooled connection never carries a tenant into its next use) and returns the connection at the end.
Batches of different fields therefore run in parallel on separate connections.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from cockpit_graphql.auth.tenant import TenantId
from cockpit_graphql.db.statements import instrument
from cockpit_graphql.settings import Settings

SET_TENANT = text("SELECT set_config('app.account_id', :account_id, true)")


class TenantSession(Session):
    """A session that adds `account_id = <tenant>` to every ORM statement on a tenant table, so the
    account filter is in the SQL itself; row-level security enforces the same boundary again."""


@event.listens_for(TenantSession, "do_orm_execute")
def _filter_by_account(state: ORMExecuteState) -> None:
    account_id = state.session.info.get("account_id")
    if account_id is None or state.is_column_load or state.is_relationship_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(*_account_criteria(account_id))


@functools.lru_cache(maxsize=4096)
def _account_criteria(account_id: uuid.UUID) -> tuple[Any, ...]:
    """The per-account criteria option, built once per account: one `with_loader_criteria` on the
    TenantScoped base, which applies to every tenant model (and its aliases) in the statement."""
    from cockpit_graphql.db.tables.common import TenantScoped

    return (
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.account_id == account_id,
            include_aliases=True,
        ),
    )


async def enter_tenant(session: AsyncSession, tenant: TenantId) -> None:
    """Make the session's transaction speak for exactly one account from here on: the tenant setting
    row-level security reads, and the account filter the ORM adds to every tenant statement."""
    if not isinstance(tenant, TenantId):
        raise TypeError("a tenant transaction takes a TenantId minted by the auth layer")
    session.info["account_id"] = tenant.value
    await session.execute(SET_TENANT, {"account_id": str(tenant.value)})


def make_engine(
    url: str, *, pool_size: int = 5, max_overflow: int = 5, statement_timeout_seconds: float = 0
) -> AsyncEngine:
    """An engine whose connections name themselves `cockpit-graphql` and, when `statement_timeout_seconds`
    is not 0, cancel any statement running longer (a runaway query must not hold a connection and a core
    after its client gave up: HTTP clients time out, PostgreSQL does not notice). With 0 the connection
    sets none: the role's, database's or server's `statement_timeout` applies."""
    server_settings = {"application_name": "cockpit-graphql"}
    if statement_timeout_seconds:
        server_settings["statement_timeout"] = str(max(1, round(statement_timeout_seconds * 1000)))  # ms
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        hide_parameters=True,  # bound values (ciphertexts, emails) never reach logs or error messages
        connect_args={"server_settings": server_settings},
    )
    instrument(engine)
    return engine


class Database:
    """The app's database handle: the pool of the app role (which owns nothing)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(
            engine, expire_on_commit=False, autoflush=False, sync_session_class=TenantSession
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, statement_timeout_seconds: float | None = None) -> Database:
        """The app role's pool; statements time out after `db_statement_timeout_seconds` unless told otherwise."""
        timeout = statement_timeout_seconds
        if timeout is None:
            timeout = settings.db_statement_timeout_seconds
        return cls(
            make_engine(
                settings.resolved_app_database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                statement_timeout_seconds=timeout,
            )
        )

    @classmethod
    def for_jobs(cls, settings: Settings) -> Database:
        """The app role's pool for the arq worker and operator commands (bootstrap, seed-models,
        rotate-secrets): their work may rightly run long, so `worker_statement_timeout_seconds` applies."""
        return cls.from_settings(settings, statement_timeout_seconds=settings.worker_statement_timeout_seconds)

    @contextlib.asynccontextmanager
    async def tenant(self, tenant: TenantId) -> AsyncIterator[AsyncSession]:
        """One transaction with exactly one account set. Commits on success, rolls back on error;
        `enter_tenant` refuses anything but a TenantId (a plain UUID never opens a tenant transaction)."""
        async with self._sessions() as session, session.begin():
            await enter_tenant(session, tenant)
            yield session

    @contextlib.asynccontextmanager
    async def platform(self) -> AsyncIterator[AsyncSession]:
        """A transaction with no account set: platform tables only (tenant tables show no rows)."""
        async with self._sessions() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def single_statements(self) -> AsyncIterator[AsyncConnection]:
        """A connection outside any transaction (autocommit: each statement is its own, no BEGIN or
        COMMIT round trip) with no account set: for the one-statement reads of the hot paths (identity,
        effectiveAccess). A statement that sets the account with `set_config(…, true)` loses it when it ends."""
        async with self.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    async def dispose(self) -> None:
        await self.engine.dispose()
