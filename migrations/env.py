"""Alembic environment (async). Runs as the database owner; the app role never migrates."""

from __future__ import annotations

import asyncio

import sqlmodel
from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import cockpit_graphql.db.tables  # noqa: F401  (registers every table)
from cockpit_graphql.settings import get_settings

config = context.config
target_metadata = sqlmodel.SQLModel.metadata


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = config.attributes.get("database_url") or get_settings().owner_database_url
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `cockpit migrate`")
run_migrations_online()
