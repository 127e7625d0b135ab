"""Owner-level database helpers: create a database, mark it as development, reset it."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

DEV_MARK = "cockpit:development"


def asyncpg_dsn(sqlalchemy_url: str, database: str | None = None) -> dict[str, object]:
    url = make_url(sqlalchemy_url)
    kwargs: dict[str, object] = {
        "user": url.username or "postgres",
        "password": url.password,
        "database": database or url.database or "postgres",
    }
    host = url.query.get("host") if url.query else None
    kwargs["host"] = host if host else (url.host or "127.0.0.1")
    if url.port:
        kwargs["port"] = url.port
    return kwargs


async def owner_connection(owner_url: str, database: str | None = None) -> asyncpg.Connection:
    return await asyncpg.connect(**asyncpg_dsn(owner_url, database))  # type: ignore[arg-type]


async def create_database(owner_url: str, name: str) -> None:
    conn = await owner_connection(owner_url, "postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(owner_url: str, name: str) -> None:
    conn = await owner_connection(owner_url, "postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def mark_development(owner_url: str) -> None:
    name = make_url(owner_url).database
    conn = await owner_connection(owner_url)
    try:
        await conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{DEV_MARK}'")
    finally:
        await conn.close()


async def is_development(owner_url: str) -> bool:
    conn = await owner_connection(owner_url)
    try:
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return comment == DEV_MARK


async def wipe_schema(owner_url: str) -> None:
    conn = await owner_connection(owner_url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()
