"""Programmatic alembic: upgrade to head and read the current/head revisions (as the owner)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[2]


def alembic_config() -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade_to_head(owner_url: str) -> None:
    config = alembic_config()
    engine = create_async_engine(owner_url)
    try:
        async with engine.begin() as connection:

            def _upgrade(sync_connection: object) -> None:
                config.attributes["connection"] = sync_connection
                command.upgrade(config, "head")

            await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


async def current_revision(owner_url: str) -> str | None:
    engine = create_async_engine(owner_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()
