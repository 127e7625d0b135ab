"""An app of the test's own (its own settings: tiny rate limits, another Redis, tracing) on the test
database, and a client for it; Redis keys namespaced per test run and per app."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from cockpit_graphql.app import create_app
from tests.support.world import Response

CLOSED_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once


def own_settings(settings: Any, **update: Any) -> Any:
    """The session settings with `update`, and a rate-limit key prefix of this app alone."""
    prefix = f"{settings.rate_limit_key_prefix}{uuid.uuid4().hex[:8]}:"
    return settings.model_copy(update={"rate_limit_key_prefix": prefix, **update})


@asynccontextmanager
async def app_client(settings: Any, db: Any) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    handlers = logging.getLogger().handlers[:]
    app = create_app(settings, database=db)
    logging.getLogger().handlers[:] = handlers  # create_app configures logging; keep pytest's capture
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield app, client
    finally:
        await app.state.rate_limiter.close()
        if app.state.tracing is not None:
            app.state.tracing.shutdown()


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    r = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=h)
    return Response(r.status_code, r.json(), r.headers)
