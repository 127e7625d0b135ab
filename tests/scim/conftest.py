"""SCIM test helpers: tenants with a SCIM token, an in-process SCIM client (httpx over ASGI), and the
app served by uvicorn on 127.0.0.1 (for scim2-tester's synchronous client)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from cockpit_graphql.auth.tenant import mint_for_system
from cockpit_graphql.domain.scim.tokens import create_token
from tests.support.world import OP, Tenant, World

SCIM = "application/scim+json"


@dataclass
class ScimTenant:
    tenant: Tenant
    token: str
    token_id: Any

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": SCIM}


async def scim_tenant(world: World, name: str = "Okta") -> ScimTenant:
    t = await world.tenant()
    async with world.db.tenant(mint_for_system(t.account_id)) as s:
        row, value = await create_token(s, mint_for_system(t.account_id), OP, name)
    return ScimTenant(t, value, row.id)


class Scim:
    """A tiny SCIM client over the in-process app: returns (status, json body or None)."""

    def __init__(self, client: httpx.AsyncClient, who: ScimTenant) -> None:
        self.client = client
        self.who = who

    async def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        h = self.who.headers | headers
        content = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
        r = await self.client.request(method, f"/scim/v2{path}", content=content, headers=h)
        try:
            data = r.json() if r.content else None
        except ValueError:
            data = r.text
        return r.status_code, data


@pytest.fixture
def scim_client(client: httpx.AsyncClient) -> Any:
    return lambda who: Scim(client, who)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served(settings: Any) -> Iterator[str]:
    """The app under uvicorn in a subprocess on 127.0.0.1 (its own pool and interpreter, so the
    synchronous scim2-tester client and the server use both cores); yields the base URL."""
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "cockpit_graphql.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
